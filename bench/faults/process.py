"""The engine as operators run it, ``python -m engine run FILE``, measured from outside.

``kill -9`` of such a process is a real crash, and its memory is its own: ``/proc/PID/status``
gives ``VmRSS`` (now) and ``VmHWM`` (the kernel's peak, between samples too). Its
``/metrics`` is read over HTTP, as Prometheus would.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import trio

from bench.faults.harness import ScenarioFailed

__all__ = [
    "EngineProcess",
    "EngineSettings",
    "Scrape",
    "engine_process",
    "engine_toml",
    "status_kib",
]

_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class EngineSettings:
    """The knobs of ``engine_toml`` (everything else is the engine's default)."""

    binds: int = 2
    window: int = 64
    rate: float = 1000.0
    burst: int = 50
    response_timeout: float = 2.0
    thank_delay: float = 60.0
    reclaim_idle: float = 30.0
    consumer: str = "faults"


_ENGINE_TOML = """\
short_code = "4777"
[redis]
url = "{url}"
namespace = "{namespace}"
[metrics]
port = 0
[outbox]
consumer = "{s.consumer}"
reclaim_idle = {s.reclaim_idle}
retry_initial = 0.5
[campaigns]
thank_delay = {s.thank_delay}
[carriers.sim]
"""
_BIND_TOML = """\
[[carriers.sim.binds]]
name = "sim-{n}"
port = {port}
system_id = "ja"
password = "pw"
window = {s.window}
rate = {s.rate}
burst = {s.burst}
response_timeout = {s.response_timeout}
reconnect_initial = 0.05
reconnect_max = 0.5
"""


def engine_toml(url: str, namespace: str, port: int, settings: EngineSettings) -> str:
    text = _ENGINE_TOML.format(url=url, namespace=namespace, s=settings)
    for n in range(1, settings.binds + 1):
        text += _BIND_TOML.format(n=n, port=port, s=settings)
    return text


@dataclass
class Scrape:
    """One read of ``/metrics``: (name, labels, value) per sample."""

    samples: list[tuple[str, dict[str, str], float]]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples = []
        for line in text.splitlines():
            m = _SAMPLE.match(line)
            if m is not None:
                labels = dict(_LABEL.findall(m[2] or ""))
                samples.append((m[1], labels, float(m[3])))
        return cls(samples)

    def total(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels``."""
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        )


def status_kib(pid: int, field_name: str) -> int:
    """A ``/proc/PID/status`` memory field (``VmRSS``, ``VmHWM``) in KiB; 0 once gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


class EngineProcess:
    """A running ``python -m engine run FILE``."""

    def __init__(self, process: trio.Process, metrics_url: str) -> None:
        self.process = process
        self.metrics_url = metrics_url
        self.peak_kib = 0
        """The highest VmHWM seen (the kernel's own peak, between samples too)."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mib(self) -> float:
        """Resident memory now (MiB); also notes the peak so far."""
        self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmHWM"))
        return status_kib(self.pid, "VmRSS") / 1024

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024

    async def scrape(self) -> Scrape:
        def get() -> str:
            with urllib.request.urlopen(self.metrics_url, timeout=5.0) as response:
                body: bytes = response.read()
            return body.decode()

        return Scrape.parse(await trio.to_thread.run_sync(get))

    async def kill9(self) -> None:
        """``kill -9``: no stop, no flush, no unbind."""
        self.rss_mib()
        self.process.send_signal(signal.SIGKILL)
        with trio.fail_after(10):
            await self.process.wait()

    async def stop(self, grace: float = 20.0) -> int:
        """SIGTERM (the orderly stop), SIGKILL after ``grace``; the exit status."""
        if self.alive():
            self.rss_mib()
            self.process.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace):
            return await self.process.wait()
        self.process.kill()
        with trio.fail_after(10):
            return await self.process.wait()


@asynccontextmanager
async def engine_process(
    config: Path, log: IO[str], *, start_limit: float = 30.0
) -> AsyncIterator[EngineProcess]:
    """Start the engine with ``config`` (stderr to ``log``), yield it once ``/metrics``
    answers, and make sure it is gone on the way out (SIGTERM, then SIGKILL)."""
    argv = [sys.executable, "-m", "engine", "run", str(config)]
    process = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        buffer = b""
        with trio.move_on_after(start_limit):
            while b"metrics on " not in buffer or not buffer.endswith(b"\n"):
                chunk = await process.stdout.receive_some(4096)
                if not chunk:
                    break
                buffer += chunk
        if b"metrics on " not in buffer:
            raise ScenarioFailed(
                f"the engine did not start within {start_limit:g} s (see {log.name})"
            )
        url = buffer.split(b"metrics on ", 1)[1].split(b"\n", 1)[0].decode().strip()
        yield EngineProcess(process, url)
    finally:
        with trio.CancelScope(shield=True):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with trio.move_on_after(20):
                    await process.wait()
            if process.poll() is None:
                process.kill()
                await process.wait()
            if process.stdout is not None:
                await process.stdout.aclose()
