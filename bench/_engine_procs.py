"""The engine as an operator runs it (``python -m engine run FILE``), in one or more processes.

Scale-out is by processes on one Redis: each ``ja-engine run`` has binds of its own and a
consumer name of its own, and the lanes' consumer group spreads the queue between them. This
module starts such processes for ``bench.fanout`` and measures them from outside:

* the messages wait in a staging stream (given the consumer group before release) while the
  engines start and bind; when every bind of every process reports up on its ``/metrics``,
  one ``RENAME`` puts the whole batch in the bulk lane and the clock starts, so every process
  sees the same work at the same moment (as the peers, timed from bound);
* the clock stops when the lane is empty: an entry is deleted only after its submit_sm_resp
  came and its carrier message id was stored, so an empty lane means every message is done;
* each process's ``ja_outbox_messages_total{lane="bulk",result="sent"}`` must add up to the
  count, or the run is an error; CPU comes from ``/proc`` for each process.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis

from counters import Keys, Lane

__all__ = [
    "EngineProcess",
    "ProcsRun",
    "engine_processes",
    "line_after",
    "process_cpu_seconds",
    "run_processes",
    "startup_lines",
]

_GROUP = "senders"
_SENT = re.compile(r'^ja_outbox_messages_total\{[^}]*lane="bulk"[^}]*result="sent"[^}]*\} (\S+)$')
_UP = re.compile(r"^ja_bind_up\{[^}]*\} (\S+)$")
_BUCKET = re.compile(r"^ja_smpp_response_duration_seconds_bucket\{(?P<labels>[^}]*)\} (?P<n>\S+)$")
_LE = re.compile(r'le="(?P<le>[^"]+)"')


@dataclass
class EngineProcess:
    process: subprocess.Popen[str]
    metrics_url: str
    binds: int

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def scrape(self) -> list[str]:
        with urllib.request.urlopen(self.metrics_url, timeout=5.0) as response:
            text: str = response.read().decode()
        return text.splitlines()

    def binds_up(self) -> int:
        return sum(1 for line in self.scrape() if (m := _UP.match(line)) and float(m[1]) == 1.0)

    def sent(self) -> float:
        return sum(float(m[1]) for line in self.scrape() if (m := _SENT.match(line)))

    def round_trips(self, carrier: str) -> dict[float, float]:
        """The submit round-trip histogram of ``carrier``: cumulative count by upper bound."""
        buckets: dict[float, float] = {}
        for line in self.scrape():
            m = _BUCKET.match(line)
            if m is None or f'carrier="{carrier}"' not in m["labels"]:
                continue
            le = _LE.search(m["labels"])
            if le is not None:
                buckets[float(le["le"])] = float(m["n"])
        return buckets


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # pragma: no cover - not Linux
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def line_after(stdout: IO[str], prefix: str, deadline: float) -> str | None:
    """The rest of the first line a child prints that starts with ``prefix`` (None if it
    ends first or ``deadline``, a ``time.monotonic()`` value, passes)."""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            line = stdout.readline()
            if not line:
                return None  # the process ended
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()
    return None


def startup_lines(stdout: IO[str], prefixes: Sequence[str], deadline: float) -> dict[str, str]:
    """The rest of the first line starting with each of ``prefixes`` that a child prints
    before ``deadline`` (a ``time.monotonic()`` value) or its end; absent ones are missing.

    Reads the pipe's descriptor itself: ``readline`` on the text wrapper would buffer
    lines that ``select`` then no longer sees (``line_after`` is for one line only).
    """
    found: dict[str, str] = {}
    pending = b""
    fd = stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while len(found) < len(prefixes) and (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # the process ended
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                for prefix in prefixes:
                    if prefix not in found and text.startswith(prefix):
                        found[prefix] = text.removeprefix(prefix).strip()
    return found


@contextmanager
def engine_processes(
    configs: Sequence[tuple[str, int]], timeout: float = 30.0
) -> Iterator[list[EngineProcess]]:
    """``python -m engine run`` once per (config text, binds in it); stopped with SIGTERM
    (then killed) on the way out."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        running: list[EngineProcess] = []
        try:
            for n, (text, binds) in enumerate(configs):
                path = Path(tmp) / f"engine{n}.toml"
                path.write_text(text)
                log = stack.enter_context(open(Path(tmp) / f"engine{n}.log", "w+"))
                process = subprocess.Popen(
                    [sys.executable, "-m", "engine", "run", str(path)],
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
                assert process.stdout is not None
                url = line_after(process.stdout, "metrics on ", time.monotonic() + timeout)
                if url is None:
                    process.kill()
                    process.wait()
                    log.seek(0)
                    raise RuntimeError(f"engine {n} did not start:\n{log.read()[-2000:]}")
                running.append(EngineProcess(process, url, binds))
            yield running
        finally:
            for engine in running:
                if engine.process.poll() is None:
                    engine.process.send_signal(signal.SIGTERM)
            for engine in running:
                try:
                    engine.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    engine.process.kill()
                    engine.process.wait()
                if engine.process.stdout is not None:
                    engine.process.stdout.close()


@dataclass
class ProcsRun:
    rate: float
    elapsed: float
    cpu: float
    """Seconds of CPU per message, all engine processes together."""
    round_trips: list[tuple[float, float]]
    """The submit round-trip histogram of every process added up: (upper bound, cumulative
    count), ascending."""


def stage(keys: Keys) -> str:
    """The staging stream's key, in the bulk lane's hash slot (``run_processes`` gives it the
    consumer group and renames it onto the lane)."""
    return keys.lane(Lane.BULK) + ":staging"


def run_processes(
    client: redis.Redis,
    keys: Keys,
    configs: Sequence[tuple[str, int]],
    count: int,
    *,
    limit: float,
    carrier: str = "sim",
) -> ProcsRun:
    """Release ``count`` staged messages to engines started from ``configs``; time them."""
    staging = stage(keys)
    client.xgroup_create(staging, _GROUP, id="0", mkstream=True)
    lane = keys.lane(Lane.BULK)
    with engine_processes(configs) as engines:
        deadline = time.monotonic() + 30.0
        while sum(e.binds_up() for e in engines) < sum(e.binds for e in engines):
            if time.monotonic() > deadline:
                raise RuntimeError("the engines' binds did not come up within 30 s")
            time.sleep(0.05)
        cpu0 = [e.cpu_seconds() for e in engines]
        start = time.perf_counter()
        client.rename(staging, lane)
        deadline = time.monotonic() + limit
        while client.xlen(lane) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{client.xlen(lane)} messages still queued after {limit} s")
            time.sleep(0.002)
        elapsed = time.perf_counter() - start
        cpu = sum(e.cpu_seconds() - c for e, c in zip(engines, cpu0, strict=True))
        deadline = time.monotonic() + 5.0  # the lane empties a moment before the counters move
        while (sent := sum(e.sent() for e in engines)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        merged: dict[float, float] = {}
        for engine in engines:
            for le, n in engine.round_trips(carrier).items():
                merged[le] = merged.get(le, 0.0) + n
    if sent < count:
        raise RuntimeError(f"the lane emptied but only {sent:.0f} of {count} were sent")
    return ProcsRun(count / elapsed, elapsed, cpu / count, sorted(merged.items()))
