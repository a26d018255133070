"""What the figures were measured on: the machine, the software, the code, the load.

Benchmarks on a shared machine move with it, so the report says what it ran on: the CPU
model and count, memory, the OS, Python, the Redis server, the peer libraries' versions,
the commit (and whether the work tree had changes) and the load average when the run began.
Everything here is read, never measured; a fact that cannot be read is left out.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import redis

__all__ = ["PACKAGES", "describe"]

PACKAGES = ("smpplib", "aiosmpplib", "smpp34", "trio", "msgspec", "redis", "hiredis", "matplotlib")
"""Packages whose versions the report names: the peers, and what our figures rest on."""

ROOT = Path(__file__).resolve().parents[1]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:  # pragma: no cover - not Linux
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _redis_version(url: str) -> str | None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            info = client.info("server")
        finally:
            client.close()
    except redis.RedisError:
        return None
    name = "valkey" if "valkey_version" in info else "redis"
    return f"{name} {info.get('valkey_version') or info.get('redis_version')}"


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def describe(url: str) -> dict[str, object]:
    """The machine, software and code of this run, as JSON-ready values."""
    commit = _git("rev-parse", "--short=12", "HEAD")
    changed = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "redis": _redis_version(url),
        "packages": _versions(),
        "commit": commit,
        "uncommitted_changes": bool(changed) if changed is not None else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
