"""The public counter under load: many clients poll one appeal's counter during a TV burst.

``python -m bench.counter [--quick] [--json] [--rounds N] [--numbers N] [--clients N]
[--load wrk|python] [--max-rate R] [--url URL]``

Each round runs ``bench.burst``'s throughput scenario (the campaign router, the TV at full
speed, an appeal fanning out in the background) twice, on fresh namespaces: once **quiet**
and once **hammered**, where ``--clients`` keep-alive HTTP/1.1 connections (200; quick 20)
poll ``GET /api/v1/public/appeals/{id}/counter`` as fast as it answers, for as long as the
TV runs. They poll the public server, as deployed: the process the engine starts for
``[http] public_port`` (at its default ``public_nice`` and ``public_max_rate``, or
``--max-rate``). The load comes from wrk where it is installed (``apt install wrk``; C,
two threads, so the load generator's own CPU stays small), else from a small Trio client in a
process of its own (``python -m bench.counter hammer``). Everything shares the same two
cores: the engine, the simulator, Redis, the public server and the load generator; that is
part of what is measured.

Figures: the counter's requests per second and p50/p99 latency (ms) under the burst; the
burst's JA/s quiet and hammered, and the drop (``1 - hammered / quiet``, medians), which
should stay under 10%. Exactness is checked every run as in ``bench.burst``; a mismatch
makes the exit status 1. Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import trio

from bench._report import OURS, summarise
from bench.burst import QUICK, During, Sizes, run_one, throughput
from bench.burst import quantile as nearest_rank
from engine.live.server import MAX_RATE

__all__ = ["Hammer", "Polled", "main", "report"]

CLIENTS = 200
QUICK_CLIENTS = 20
FULL = Sizes(rounds=3, numbers=200_000, subscribers=20_000, delay_seconds=0.0)
QUICK_SIZES = replace(QUICK, rounds=1)
DROP_LIMIT = 0.10


# --- the hammer (a process of its own) ------------------------------------------------------


@dataclass
class Hammer:
    """What the clients saw."""

    requests: int = 0
    errors: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> Polled:
        def p(q: float) -> float:
            return nearest_rank(self.latencies_ms, q) if self.latencies_ms else 0.0

        return Polled(self.requests, self.errors, self.seconds, p(0.5), p(0.99))


@dataclass(frozen=True)
class Polled:
    """The hammer's figures, as it writes them when it stops."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _connect(port: int) -> trio.SocketStream:
    """A connection to the engine, once it listens (it starts its server after binding)."""
    with trio.fail_after(30):
        while True:
            try:
                return await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)


async def _client(stream: trio.SocketStream, path: str, hammer: Hammer, port: int) -> None:
    """One keep-alive connection asking for ``path`` again as soon as each answer is in;
    when the server closes it (its keep-alive timeout while the burst was being set up),
    a new one, as a browser would."""
    while True:
        try:
            await _poll(stream, path, hammer)
        except (ConnectionError, trio.BrokenResourceError):
            hammer.reconnects += 1
            stream = await _connect(port)


async def _poll(stream: trio.SocketStream, path: str, hammer: Hammer) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    async with stream:
        buffer = b""
        while True:
            start = time.perf_counter()
            await stream.send_all(request)
            while b"\r\n\r\n" not in buffer:
                buffer += await _receive(stream)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = _content_length(head)
            while len(buffer) < length:
                buffer += await _receive(stream)
            buffer = buffer[length:]
            hammer.latencies_ms.append((time.perf_counter() - start) * 1000)
            hammer.requests += 1
            if not head.startswith(b"HTTP/1.1 200"):
                hammer.errors += 1


async def _receive(stream: trio.SocketStream) -> bytes:
    data = await stream.receive_some(65536)
    if not data:
        raise ConnectionError("the server closed the connection")
    return data


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def hammer(port: int, appeal: int, clients: int) -> Hammer:
    """``clients`` connections polling the counter until SIGTERM."""
    result = Hammer()
    path = f"/api/v1/public/appeals/{appeal}/counter"
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        streams = [await _connect(port) for _ in range(clients)]
        print("ready", flush=True)
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for stream in streams:
                nursery.start_soon(_client, stream, path, result, port)
            async for _ in signals:
                break
            nursery.cancel_scope.cancel()
    result.seconds = time.perf_counter() - start
    return result


def hammer_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counter hammer")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--appeal", type=int, required=True)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = trio.run(hammer, args.port, args.appeal, args.clients)
    args.out.write_text(json.dumps(asdict(result.summary())))
    return 0


# --- the rounds --------------------------------------------------------------------------------


def wrk_figures(report: str) -> Polled:
    """wrk's summary (``--latency``) as `Polled`.

    Raises:
        ValueError: the summary lacks a figure (wrk changed its output, or did not run).
    """
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", report)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", report, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", report, re.M)
    if total is None or p50 is None or p99 is None:
        raise ValueError(f"unexpected wrk output:\n{report}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", report))
    if (bad := re.search(r"Non-2xx or 3xx responses: (\d+)", report)) is not None:
        errors += int(bad[1])
    seconds = float(total[2]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total[3]]
    return Polled(int(total[1]), errors, seconds, _ms(p50), _ms(p99))


def _ms(match: re.Match[str]) -> float:
    return float(match[1]) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[match[2]]


def load_command(load: str, port: int, appeal: int, clients: int, out: Path) -> list[str]:
    """The load generator's command line: wrk (two threads, ``clients`` connections, until
    SIGINT) or this module's own Trio hammer."""
    if load == "wrk":
        url = f"http://127.0.0.1:{port}/api/v1/public/appeals/{appeal}/counter"
        # A 10 s timeout: slow answers are measured as latency, not cut off as errors.
        return ["wrk", "-t2", f"-c{clients}", "-d1h", "--timeout", "10s", "--latency", url]
    argv = [sys.executable, "-m", "bench.counter", "hammer", "--port", str(port)]
    return [*argv, "--appeal", str(appeal), "--clients", str(clients), "--out", str(out)]


def hammering(load: str, clients: int, out: Path, results: list[Polled]) -> During:
    """A ``bench.burst.During``: the load generator for as long as the TV runs."""
    if load == "wrk":
        return _wrk(clients, out, results)

    async def during(port: int, appeal: int, *, task_status: trio.TaskStatus[None]) -> None:
        argv = load_command(load, port, appeal, clients, out)
        process = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            with trio.fail_after(60):
                said = await process.stdout.receive_some(64)
            if not said.startswith(b"ready"):
                raise RuntimeError(f"the hammer did not start (it said {said!r})")
            task_status.started()
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True), trio.fail_after(30):
                process.send_signal(signal.SIGTERM)
                await process.wait()
                results.append(Polled(**json.loads(await trio.Path(out).read_text())))

    return during


def _wrk(clients: int, out: Path, results: list[Polled]) -> During:
    async def during(port: int, appeal: int, *, task_status: trio.TaskStatus[None]) -> None:
        async with await _connect(port):  # wrk gives up on a port not listening yet
            pass
        argv = load_command("wrk", port, appeal, clients, out)
        process = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE)
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True), trio.fail_after(30):
                process.send_signal(signal.SIGINT)  # wrk prints its summary and ends
                assert process.stdout is not None
                said = b""
                while data := await process.stdout.receive_some(65536):
                    said += data
                await process.wait()
                results.append(wrk_figures(said.decode()))

    return during


@dataclass
class Outcome:
    quiet: list[float] = field(default_factory=list)
    hammered: list[float] = field(default_factory=list)
    hammers: list[Polled] = field(default_factory=list)
    exact: bool = True

    @property
    def drop(self) -> float:
        if not self.quiet or not self.hammered:
            return 0.0
        return 1 - statistics.median(self.hammered) / statistics.median(self.quiet)


def measure(
    sizes: Sizes,
    clients: int,
    url: str,
    say: Any,
    load: str = "python",
    max_rate: float | None = None,
) -> Outcome:
    outcome = Outcome()
    scenario = throughput(sizes.numbers)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for r in range(1, sizes.rounds + 1):
            quiet = run_one(OURS, scenario, sizes, url, tmp)
            outcome.quiet.append(quiet.rate)
            during = hammering(load, clients, tmp / f"hammer-{r}.out", outcome.hammers)
            options = "" if max_rate is None else f"public_max_rate = {max_rate}\n"
            loud = run_one(OURS, scenario, sizes, url, tmp, during=during, public_options=options)
            outcome.hammered.append(loud.rate)
            outcome.exact &= quiet.exact.ok and loud.exact.ok
            say(quiet.exact.line())
            say(loud.exact.line())
            h = outcome.hammers[-1]
            say(
                f"round {r}/{sizes.rounds}: quiet {quiet.rate:,.0f} JA/s, hammered "
                f"{loud.rate:,.0f} JA/s; counter {h.per_second:,.0f} req/s over {clients} "
                f"connections, p50 {h.p50_ms:.1f} ms, p99 {h.p99_ms:.1f} ms, {h.errors} errors"
            )
    return outcome


QUIET = "ja-engine, nobody polling"
"""The contender the polled burst is compared with: the same burst, quiet, same run."""


def report(
    outcome: Outcome, sizes: Sizes, clients: int, load: str, max_rate: float
) -> dict[str, Any]:
    """The suite's shape (``bench._report``): ``ja_per_second`` compares the burst while the
    counter is polled (ja-engine) with the same burst quiet; the counter's own figures are
    ja-engine's alone."""
    hammers = outcome.hammers
    quiet, loud = statistics.median(outcome.quiet), statistics.median(outcome.hammered)
    return {
        "benchmark": "counter",
        "headline": "ja_per_second",
        "results": {
            "ja_per_second": {
                "unit": "JA/s",
                OURS: summarise(outcome.hammered),
                QUIET: summarise(outcome.quiet),
            },
            "counter_requests_per_second": {
                "unit": "req/s",
                OURS: summarise([h.per_second for h in hammers]),
            },
            "counter_p50_ms": {
                "unit": "ms",
                "better": "lower",
                OURS: summarise([h.p50_ms for h in hammers]),
            },
            "counter_p99_ms": {
                "unit": "ms",
                "better": "lower",
                OURS: summarise([h.p99_ms for h in hammers]),
            },
        },
        "ratios": {"ja_per_second": {f"vs_{QUIET}": round(loud / quiet, 3) if quiet else 0.0}},
        "counter_errors": sum(h.errors for h in hammers),
        "burst_rate_drop": round(outcome.drop, 4),
        "drop_limit": DROP_LIMIT,
        "drop_within_limit": outcome.drop <= DROP_LIMIT,
        "exactness": {"passed": outcome.exact},
        "settings": {**asdict(sizes), "clients": clients, "load": load, "max_rate": max_rate},
    }


def collect(quick: bool, url: str, say: Any) -> dict[str, Any]:
    """The default sizes, as ``python -m bench`` runs it: the report of ``--json``."""
    sizes = QUICK_SIZES if quick else FULL
    clients = QUICK_CLIENTS if quick else CLIENTS
    load = "wrk" if shutil.which("wrk") else "python"
    return report(measure(sizes, clients, url, say, load, MAX_RATE), sizes, clients, load, MAX_RATE)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hammer"]:
        return hammer_main(args_list[1:])
    parser = argparse.ArgumentParser(
        prog="python -m bench.counter", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--rounds", type=int, help="rounds of quiet + hammered (default 3)")
    parser.add_argument("--numbers", type=int, help="distinct TV numbers (default 200000)")
    parser.add_argument("--clients", type=int, help=f"polling connections (default {CLIENTS})")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--load",
        choices=("wrk", "python"),
        help="load generator: wrk where installed (default), else this module's Trio client",
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        help=f"the public server's [http] public_max_rate (default {MAX_RATE:g}; 0: no limit)",
    )
    args = parser.parse_args(args_list)
    max_rate = MAX_RATE if args.max_rate is None else args.max_rate
    load = args.load or ("wrk" if shutil.which("wrk") else "python")
    sizes = QUICK_SIZES if args.quick else FULL
    if args.rounds:
        sizes = replace(sizes, rounds=args.rounds)
    if args.numbers:
        sizes = replace(sizes, numbers=args.numbers)
    clients = args.clients or (QUICK_CLIENTS if args.quick else CLIENTS)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    say(
        f"counter: {sizes.rounds} rounds, {sizes.numbers:,} TV numbers, {clients} {load} "
        f"clients, public_max_rate {max_rate:g}"
    )
    outcome = measure(sizes, clients, args.url, say, load, max_rate)
    obj = report(outcome, sizes, clients, load, max_rate)
    results = obj["results"]
    rate = results["ja_per_second"]
    print(
        f"burst JA/s: quiet {rate[QUIET]['median']:,.0f}, hammered "
        f"{rate[OURS]['median']:,.0f}: drop {outcome.drop:.1%} (limit {DROP_LIMIT:.0%}: "
        f"{'within' if obj['drop_within_limit'] else 'OVER'})"
    )
    print(
        f"counter: {results['counter_requests_per_second'][OURS]['median']:,.0f} req/s, p50 "
        f"{results['counter_p50_ms'][OURS]['median']:.1f} ms, p99 "
        f"{results['counter_p99_ms'][OURS]['median']:.1f} ms, {obj['counter_errors']} errors"
    )
    print(f"exactness: {'passed' if outcome.exact else 'FAILED'}")
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0 if outcome.exact else 1


if __name__ == "__main__":
    sys.exit(main())
