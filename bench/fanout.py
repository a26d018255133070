"""Fan-out throughput: the engine against peer clients, messages from queue to submit_sm_resp.

``python -m bench.fanout [--quick] [--json] [--rounds N] [--messages N] [--url URL]
[--binds N] [--processes N] [--profile FILE]``

Cases:

* ``fanout`` (msg/s, median of rounds): the engine as an operator runs it (``python -m engine
  run FILE``, ``bench._engine_procs``), with the rate limit lifted (1,000,000/s and a burst of
  1000 per bind), ``--binds`` binds (default 4) with a window of 512 each, Redis on loopback.
  Two contenders: ``ja-engine``, one process holding every bind, and ``ja-engine xN``,
  ``--processes`` processes (default 2) sharing the binds between them and the queue through
  the lanes' consumer group (the design's scale-out). Before each round ``--messages``
  messages are queued (one redis-py pipeline, outside the clock) in a staging stream; once
  every bind is up they are moved into the bulk lane with one ``RENAME`` and the clock starts;
  it stops when the lane is empty: every message read from the durable queue, its attempt
  recorded, submitted, acknowledged by submit_sm_resp, its message id stored and its entry
  acknowledged and deleted (the engines' ``sent`` counters must add up to the count). The
  peers (``bench._peers``: smpplib, aiosmpplib, smpp34 where they install) each send the same
  messages, one process each, to a simulator of their own and wait for every submit_sm_resp;
  their clock also runs from bound to the last response. smpplib, a blocking client, sends an
  eighth of the messages (its rate is what is compared; the full count would add minutes to a
  run on a busy machine).
* ``client_cpu_per_message`` (us/msg, lower is better): CPU time of the sending processes,
  every thread, while the clock ran, per message: for us every engine process (the Trio
  thread plus the Redis worker threads; not redis-server), for the peers their whole process
  (smpp34's tokio threads included). On a shared, noisy machine this moves far less than the
  rates do.
* ``submit_p99_half_load`` (ms, lower is better): the engine again, in this process (one
  engine holding every bind), its binds' rate set to half the best median ``fanout`` figure
  (split across the binds, burst 1% of a second), sending
  half the messages; the p99 of ``ja_smpp_response_duration_seconds{carrier="sim"}``,
  **interpolated linearly inside the histogram bucket** that holds it (as Prometheus'
  ``histogram_quantile`` does). The human-readable report adds the bucket's upper bound and
  the exact p99 of the same observations (recorded beside the histogram by this benchmark).

Every run gets a fresh simulator process (``python -m smpp.simulator``: one account, no
throughput limit, window 5000, receipts and replies off, ledger off), so no run inherits
another's state. Contenders alternate within each round (ja-engine, ja-engine xN, smpplib,
aiosmpplib, smpp34). Redis: ``--url``, else ``REDIS_URL``, else redis://127.0.0.1:6379/0; each round
uses a namespace of its own, deleted afterwards. Speed is reported, never asserted.

The engine sends registered_delivery=1 (it always asks for receipts; the simulator sends
none), the peers 0; the PDUs are otherwise the same: sender 4777 (TON 3), an international
number, 100 GSM characters. ``--profile FILE`` adds one engine round under cProfile (not
counted) and prints its top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
import trio

from bench._engine_procs import line_after, process_cpu_seconds, run_processes, stage
from bench._peers import DEST_FIRST, SHORT_CODE, TEXT, missing
from bench._report import OURS, Stats, format_table, ratios, summarise
from counters import Keys, Lane, OutboundMessage
from counters.records import encode
from engine.app import open_engine
from engine.config import Config, parse_config
from engine.metrics import Metrics

__all__ = ["Sizes", "histogram_quantile", "main"]

FANOUT = "fanout"
LATENCY = "submit_p99_half_load"
CPU = "client_cpu_per_message"
PEER_ORDER = ("smpplib", "aiosmpplib", "smpp34")
SLOW_PEERS = {"smpplib": 8}
"""Peers sent 1/N of the messages, because they would take minutes otherwise."""


@dataclass(frozen=True)
class Sizes:
    rounds: int
    messages: int
    binds: int = 4
    processes: int = 2
    """Engine processes of the scaled-out contender (1: measure one process only)."""
    window: int = 512
    burst: int = 1000

    def for_peer(self, peer: str) -> int:
        return max(1, self.messages // SLOW_PEERS.get(peer, 1))

    @property
    def latency_messages(self) -> int:
        return max(1, self.messages // 2)


FULL = Sizes(rounds=3, messages=200_000)
QUICK = Sizes(rounds=1, messages=2_000)


def scaled(sizes: Sizes) -> str:
    """The name of the scaled-out contender."""
    return f"{OURS} x{sizes.processes}"


SIMULATOR_TOML = """\
[[accounts]]
system_id = "ja"
password = "pw"
tps = 0
max_binds = 16
window = 5000

[receipts]
enabled = false

[handsets]
count = 2000000
first_number = "{first}"
reply_probability = 0.0
stranger_probability = 0.0

[ledger]
max_records = 0
"""

ENGINE_TOML = """\
short_code = "{short_code}"
[redis]
url = "{url}"
namespace = "{namespace}"
[outbox]
consumer = "{consumer}"
[metrics]
port = 0
[carriers.sim]
"""

BIND_TOML = """\
[[carriers.sim.binds]]
name = "sim-{n}"
host = "{host}"
port = {port}
system_id = "ja"
password = "pw"
window = {window}
rate = {rate}
burst = {burst}
"""


# --- the simulator ----------------------------------------------------------------------------


@dataclass
class SimulatorProcess:
    host: str
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)


@contextmanager
def simulator(config: Path, timeout: float = 20.0) -> Iterator[SimulatorProcess]:
    """A simulator subprocess on a free port; always stopped (SIGINT, then kill) on the way out."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "smpp.simulator", "--config", str(config), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            host_port = _listening(process.stdout, timeout)
            if host_port is None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the simulator did not start listening:\n{tail}")
            yield SimulatorProcess(host_port[0], host_port[1], process.pid)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _listening(stdout: Any, timeout: float) -> tuple[str, int] | None:
    where = line_after(stdout, "listening on ", time.monotonic() + timeout)
    if where is None:
        return None
    host, _, port = where.rpartition(":")
    return host, int(port)


# --- Redis ------------------------------------------------------------------------------------


def fill_bulk(client: redis.Redis, keys: Keys, count: int, stream: str | None = None) -> None:
    """``count`` messages in the bulk lane (or ``stream``), as the campaigns layer queues them."""
    lane = stream or keys.lane(Lane.BULK)
    with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            message = OutboundMessage(ref=f"f{i}", to=f"+{DEST_FIRST + i}", text=TEXT)
            pipe.xadd(lane, {"e": encode(message)})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()


def wipe(client: redis.Redis, keys: Keys) -> None:
    for pattern in keys.pattern():
        names = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(names), 1000):
            client.unlink(*names[start : start + 1000])


# --- ours -------------------------------------------------------------------------------------


@dataclass
class OursRun:
    rate: float
    elapsed: float
    cpu: float
    """Seconds of this process's CPU (every thread: the Trio loop and Redis workers) per message."""
    loop_cpu: float
    """Seconds of the Trio thread's CPU per message."""
    simulator_cpu: float
    metrics: Metrics = field(repr=False)


def engine_toml(
    sim: SimulatorProcess,
    url: str,
    namespace: str,
    sizes: Sizes,
    rate: float,
    burst: int,
    *,
    binds: Sequence[int] = (),
    consumer: str = "bench",
) -> str:
    """An engine's configuration with the binds numbered ``binds`` (default: all of them)."""
    text = ENGINE_TOML.format(
        short_code=SHORT_CODE, url=url, namespace=namespace, consumer=consumer
    )
    for n in binds or range(1, sizes.binds + 1):
        text += BIND_TOML.format(
            n=n, host=sim.host, port=sim.port, window=sizes.window, rate=rate, burst=burst
        )
    return text


def engine_config(
    sim: SimulatorProcess, url: str, namespace: str, sizes: Sizes, rate: float, burst: int
) -> Config:
    return parse_config(engine_toml(sim, url, namespace, sizes, rate, burst))


def _sent(metrics: Metrics) -> float:
    """``ja_outbox_messages_total{lane="bulk",result="sent"}``, collecting only that metric
    (``registry.get_sample_value`` collects them all: 0.3 ms a call, a few % of a run)."""
    for family in metrics.outbox_messages.collect():
        for sample in family.samples:
            if (
                sample.name == "ja_outbox_messages_total"
                and sample.labels.get("lane") == "bulk"
                and sample.labels.get("result") == "sent"
            ):
                return sample.value
    return 0.0


async def _drive(
    config: Config, metrics: Metrics, count: int, limit: float
) -> tuple[float, float, float]:
    """(wall, process CPU, Trio-thread CPU) seconds from started to ``count`` sent."""
    async with open_engine(config, metrics=metrics):
        start, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
        with trio.fail_after(limit):
            # Polling the metric is the point: the engine offers no event for "n sent".
            while _sent(metrics) < count:  # noqa: ASYNC110
                await trio.sleep(0.002)
        return (
            time.perf_counter() - start,
            time.process_time() - cpu,
            time.thread_time() - loop,
        )


def run_ours(
    sim_config: Path,
    client: redis.Redis,
    url: str,
    sizes: Sizes,
    *,
    count: int,
    rate: float = 1_000_000.0,
    burst: int | None = None,
    metrics: Metrics | None = None,
    profile: cProfile.Profile | None = None,
) -> OursRun:
    """One engine run: fill the lane, start a simulator, send ``count``, clean up."""
    keys = Keys(f"bench{uuid.uuid4().hex[:12]}")
    metrics = metrics or Metrics()
    try:
        fill_bulk(client, keys, count)
        with simulator(sim_config) as sim:
            config = engine_config(sim, url, keys.namespace, sizes, rate, burst or sizes.burst)
            timeout = 60.0 + count / 1000.0
            sim0 = sim.cpu_seconds()
            if profile is not None:
                profile.enable()
            try:
                elapsed, cpu, loop = trio.run(_drive, config, metrics, count, timeout)
            finally:
                if profile is not None:
                    profile.disable()
            sim_cpu = sim.cpu_seconds() - sim0
    finally:
        wipe(client, keys)
    return OursRun(count / elapsed, elapsed, cpu / count, loop / count, sim_cpu / count, metrics)


@dataclass
class EnginesRun:
    rate: float
    cpu: float
    """Seconds of CPU per message, every engine process together."""
    simulator_cpu: float
    round_trips: list[tuple[float, float]] = field(repr=False)
    """The submit round-trip histogram, every process added up (upper bound, cumulative)."""


def run_engines(
    sim_config: Path,
    client: redis.Redis,
    url: str,
    sizes: Sizes,
    processes: int,
    *,
    count: int | None = None,
    rate: float = 1_000_000.0,
    burst: int | None = None,
) -> EnginesRun:
    """The engine as deployed: ``processes`` runs of ``python -m engine run`` sharing the
    binds between them (each bind at ``rate``), timed from all bound to the lane empty
    (``bench._engine_procs``)."""
    keys = Keys(f"bench{uuid.uuid4().hex[:12]}")
    count = count or sizes.messages
    try:
        fill_bulk(client, keys, count, stream=stage(keys))
        with simulator(sim_config) as sim:
            share = [list(range(1 + p, sizes.binds + 1, processes)) for p in range(processes)]
            configs = [
                (
                    engine_toml(
                        sim, url, keys.namespace, sizes, rate, burst or sizes.burst,
                        binds=numbers, consumer=f"bench-{p}",
                    ),
                    len(numbers),
                )
                for p, numbers in enumerate(share)
                if numbers
            ]  # fmt: skip
            sim0 = sim.cpu_seconds()
            run = run_processes(client, keys, configs, count, limit=60.0 + count / 1000.0)
            sim_cpu = sim.cpu_seconds() - sim0
    finally:
        wipe(client, keys)
    return EnginesRun(run.rate, run.cpu, sim_cpu / count, run.round_trips)


# --- peers ------------------------------------------------------------------------------------


@dataclass
class PeerRun:
    rate: float | None
    cpu: float = 0.0
    """Seconds of the peer process's CPU per message, every thread, while its clock ran."""
    simulator_cpu: float = 0.0
    error: str | None = None


def run_peer(sim_config: Path, peer: str, sizes: Sizes) -> PeerRun:
    """One peer run in a process of its own, against a simulator of its own."""
    count = sizes.for_peer(peer)
    with simulator(sim_config) as sim:
        argv = [sys.executable, "-m", "bench._peers", peer, "--host", sim.host]
        argv += ["--port", str(sim.port), "--messages", str(count)]
        argv += ["--binds", str(sizes.binds), "--window", str(sizes.window)]
        sim0 = sim.cpu_seconds()
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=120.0 + count / 500.0, check=False
            )
        except subprocess.TimeoutExpired:
            return PeerRun(None, error=f"{peer}: no result within the time limit")
        sim_cpu = sim.cpu_seconds() - sim0
    result = _last_json(done.stdout)
    if result is None:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return PeerRun(None, error=f"exit {done.returncode} without a result: {tail[0]}")
    if "error" in result:
        return PeerRun(None, error=str(result["error"]))
    if result["errors"]:
        return PeerRun(None, error=f"{result['errors']} submits were refused")
    return PeerRun(float(result["rate"]), float(result["cpu"]) / count, sim_cpu / count)


def _last_json(stdout: str) -> dict[str, Any] | None:
    """The peer's result line (printed and flushed before it exits, even if exiting fails)."""
    lines = stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return result if isinstance(result, dict) else None


# --- the latency figure -----------------------------------------------------------------------


def histogram_quantile(metrics: Metrics, q: float, carrier: str = "sim") -> tuple[float, float]:
    """(interpolated quantile, upper bound of its bucket) of an in-process engine's submit
    round trip, seconds (see ``bucket_quantile``)."""
    buckets = sorted(
        (float(sample.labels["le"]), sample.value)
        for family in metrics.submit_latency.collect()
        for sample in family.samples
        if sample.name.endswith("_bucket") and sample.labels.get("carrier") == carrier
    )
    return bucket_quantile(buckets, q)


def bucket_quantile(buckets: Sequence[tuple[float, float]], q: float) -> tuple[float, float]:
    """(interpolated quantile, upper bound of its bucket) from cumulative histogram buckets
    (upper bound, count), ascending, +Inf last.

    Linear interpolation inside the bucket, as Prometheus' ``histogram_quantile``; a quantile
    in the +Inf bucket is reported as the highest finite bound. NaN when nothing was observed.
    """
    if not buckets or buckets[-1][1] == 0:
        return math.nan, math.nan
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower, upper
            share = (rank - below) / (count - below) if count > below else 1.0
            return lower + (upper - lower) * share, upper
        lower, below = upper, count
    raise AssertionError("unreachable: the +Inf bucket holds every observation")


@dataclass
class LatencyRun:
    p99_ms: float
    bucket_le_ms: float
    achieved_rate: float


def run_latency(
    sim_config: Path,
    client: redis.Redis,
    url: str,
    sizes: Sizes,
    processes: int,
    target: float,
) -> LatencyRun:
    """The engine in ``processes`` processes with its binds' rates adding up to ``target``."""
    per_bind = target / sizes.binds
    run = run_engines(
        sim_config,
        client,
        url,
        sizes,
        processes,
        count=sizes.latency_messages,
        rate=per_bind,
        burst=max(1, round(per_bind / 100)),
    )
    p99, bucket = bucket_quantile(run.round_trips, 0.99)
    return LatencyRun(p99 * 1000, bucket * 1000, run.rate)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    samples: dict[str, list[float]]
    cpu: dict[str, list[float]]
    latency: dict[str, list[LatencyRun]]
    half_load: str
    skipped: dict[str, str]
    notes: list[str]


def measure(sizes: Sizes, url: str, say: Any, profile_to: Path | None = None) -> Outcome:
    skipped = {peer: why for peer in PEER_ORDER if (why := missing(peer)) is not None}
    engines = {OURS: 1}
    if sizes.processes > 1:
        engines[scaled(sizes)] = sizes.processes
    samples: dict[str, list[float]] = {name: [] for name in engines}
    samples.update((p, []) for p in PEER_ORDER if p not in skipped)
    cpu: dict[str, list[float]] = {name: [] for name in samples}
    failures: dict[str, list[str]] = {}
    notes: list[str] = []
    latency: dict[str, list[LatencyRun]] = {name: [] for name in engines}
    client = redis.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        sim_config = Path(tmp) / "simulator.toml"
        sim_config.write_text(SIMULATOR_TOML.format(first=DEST_FIRST))
        try:
            for r in range(1, sizes.rounds + 1):
                line = []
                for name, processes in engines.items():
                    ours = run_engines(sim_config, client, url, sizes, processes)
                    samples[name].append(ours.rate)
                    cpu[name].append(ours.cpu * 1e6)
                    line.append(
                        f"{name} {ours.rate:,.0f} msg/s (CPU {ours.cpu * 1e6:.1f} us/msg, "
                        f"simulator {ours.simulator_cpu * 1e6:.1f} us/msg)"
                    )
                for peer in [p for p in PEER_ORDER if p in samples]:
                    got = run_peer(sim_config, peer, sizes)
                    if got.rate is None:
                        failures.setdefault(peer, []).append(got.error or "failed")
                        line.append(f"{peer} failed: {got.error}")
                        continue
                    samples[peer].append(got.rate)
                    cpu[peer].append(got.cpu * 1e6)
                    line.append(
                        f"{peer} {got.rate:,.0f} (CPU {got.cpu * 1e6:.1f} us/msg, "
                        f"simulator {got.simulator_cpu * 1e6:.1f} us/msg)"
                    )
                say(f"round {r}/{sizes.rounds}: " + "; ".join(line))
            for peer, errors in failures.items():
                if samples[peer]:
                    notes.append(
                        f"{peer}: {len(errors)} of {sizes.rounds} runs failed ({errors[0]})"
                    )
                else:
                    skipped[peer] = "; ".join(sorted(set(errors)))
                    del samples[peer], cpu[peer]
            target = max(statistics.median(samples[name]) for name in engines) / 2
            for r in range(1, sizes.rounds + 1):
                line = []
                for name, processes in engines.items():
                    run = run_latency(sim_config, client, url, sizes, processes, target)
                    latency[name].append(run)
                    line.append(
                        f"{name} {run.achieved_rate:,.0f} msg/s: p99 {run.p99_ms:.2f} ms "
                        f"(bucket le {run.bucket_le_ms:g} ms)"
                    )
                say(f"latency {r}/{sizes.rounds}, offered {target:,.0f} msg/s: " + "; ".join(line))
            half_load = f"half load: {target:,.0f} msg/s over {sizes.binds} binds"
            if profile_to is not None:
                profile = cProfile.Profile()
                run_ours(sim_config, client, url, sizes, count=sizes.messages, profile=profile)
                profile.dump_stats(str(profile_to))
                stats = pstats.Stats(str(profile_to))
                stats.sort_stats("tottime").print_stats(30)
        finally:
            client.close()
    return Outcome(samples, cpu, latency, half_load, skipped, notes)


def _peer_ratios(results: dict[str, Stats], ours: str, better: Any = "higher") -> dict[str, float]:
    """``ours`` against the peers only (not against the other engine contender)."""
    mine = {name: s for name, s in results.items() if name == ours or name in PEER_ORDER}
    return ratios(mine, ours=ours, better=better)


def report(outcome: Outcome) -> dict[str, Any]:
    """The JSON object of design.md ("Benchmarks")."""
    fanout = {name: summarise(values) for name, values in outcome.samples.items()}
    p99: dict[str, Any] = {
        name: summarise([run.p99_ms for run in runs]) for name, runs in outcome.latency.items()
    }
    p99 |= {"unit": "ms", "better": "lower"}
    per_message = {name: summarise(values) for name, values in outcome.cpu.items()}
    cpu: dict[str, Any] = dict(per_message) | {"unit": "us/msg", "better": "lower"}
    obj: dict[str, Any] = {
        "benchmark": FANOUT,
        "unit": "msg/s",
        "results": {FANOUT: fanout, CPU: cpu, LATENCY: p99},
        "ratios": {
            FANOUT: _peer_ratios(fanout, OURS),
            CPU: _peer_ratios(per_message, OURS, better="lower"),
        },
    }
    for name in fanout:
        if name != OURS and name not in PEER_ORDER:
            obj["ratios"][f"{FANOUT} {name}"] = _peer_ratios(fanout, name)
    if outcome.skipped:
        obj["skipped"] = outcome.skipped
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3, quick 1)")
    parser.add_argument("--messages", type=int, help="messages per run (default 200000)")
    parser.add_argument("--binds", type=int, help="binds for every contender (default 4)")
    parser.add_argument(
        "--processes", type=int, help="engine processes of the scaled-out contender (default 2)"
    )
    parser.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", type=Path, help="add a cProfiled engine round; stats here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = replace(sizes, rounds=args.rounds)
    if args.messages:
        sizes = replace(sizes, messages=args.messages)
    if args.binds:
        sizes = replace(sizes, binds=args.binds)
    if args.processes:
        sizes = replace(sizes, processes=args.processes)
    sizes = replace(sizes, processes=min(sizes.processes, sizes.binds))  # a bind each at least

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    say(
        f"fanout: {sizes.rounds} rounds, {sizes.messages:,} messages "
        f"(smpplib {sizes.for_peer('smpplib'):,}), {sizes.binds} binds x window {sizes.window}, "
        f"engine in 1 and {sizes.processes} processes"
    )
    outcome = measure(sizes, args.url, say, args.profile)
    obj = report(outcome)
    results: dict[str, dict[str, Stats]] = {FANOUT: obj["results"][FANOUT]}
    print(format_table(results, obj["ratios"], "msg/s"))
    for key, vs_peers in obj["ratios"].items():
        if key.startswith(f"{FANOUT} "):
            line = ", ".join(f"{k} {v:.2f}x" for k, v in vs_peers.items())
            print(f"  {key.removeprefix(FANOUT + ' ')} {line}")
    figures = ", ".join(
        f"{name} {s['median']:.1f}"
        for name, s in obj["results"][CPU].items()
        if name not in ("unit", "better")
    )
    vs = ", ".join(f"{k} {v:.2f}x" for k, v in obj["ratios"][CPU].items())
    print(f"{CPU} (us of client CPU per message, lower is better, median): {figures}; {vs}")
    p99 = ", ".join(
        f"{name} {stats['median']:g} [{stats['min']:g} .. {stats['max']:g}]"
        for name, stats in obj["results"][LATENCY].items()
        if name not in ("unit", "better")
    )
    print(
        f"{LATENCY} (ms, lower is better; interpolated in the histogram bucket): {p99}; "
        f"{outcome.half_load}"
    )
    for note in outcome.notes:
        print(note)
    for peer, why in outcome.skipped.items():
        print(f"{peer}: not measured: {why}")
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
