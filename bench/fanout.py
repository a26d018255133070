"""Fan-out throughput: the engine against peer clients, messages from queue to submit_sm_resp.

``python -m bench.fanout [--quick] [--json] [--rounds N] [--messages N] [--url URL]
[--binds N] [--processes N] [--profile FILE]``

Two cases, in alternating rounds, each with every contender: ``receipts_on``, the headline
(every submit_sm asks for a receipt, registered_delivery=1, and the simulator sends each
one 1 to 3 s later; every real carrier sends them), and ``receipts_off`` (no receipt is asked
for by the peers, and the simulator sends none to anyone). Figures per case:

* ``fanout_<case>`` (msg/s, median of rounds): the engine as an operator runs it (``python
  -m engine run FILE``, ``bench._engine_procs``), with the rate limit lifted (1,000,000/s and
  a burst of 1000 per bind), ``--binds`` binds (default 4) with a window of 512 each, Redis on
  loopback. Two contenders: ``ja-engine``, one process holding every bind, and ``ja-engine
  xN``, ``--processes`` processes (default 2) sharing the binds between them and the queue
  through the lanes' consumer group (the design's scale-out). Before each round
  ``--messages`` messages are queued (one redis-py pipeline, outside the clock) in a staging
  stream; once every bind is up they are moved into the bulk lane with one ``RENAME`` and the
  clock starts; it stops when the lane is empty: every message read from the durable queue,
  its attempt recorded, submitted, acknowledged by submit_sm_resp, its message id stored and
  its entry acknowledged and deleted (the engines' ``sent`` counters must add up to the
  count). The peers (``bench._peers``: smpplib, aiosmpplib, smpp34 where they install) each
  send the same messages, one process each, to a simulator of their own and wait for every
  submit_sm_resp, acknowledging every receipt that arrives meanwhile; their clock also runs
  from bound to the last response. smpplib, a blocking client, sends an eighth of the
  messages (its rate is what is compared; the full count would add minutes to a run).
* ``client_cpu_per_message_<case>`` (us/msg, lower is better): CPU time of the sending
  processes, every thread, while the clock ran, per message: for us every engine process
  (the Trio thread plus the Redis worker threads; not redis-server), for the peers their
  whole process (smpp34's tokio threads included). On a shared, noisy machine this moves far
  less than the rates do.
* ``submit_p99_half_load`` (ms, lower is better; receipts on): both engine contenders again,
  their binds' rates adding up to half the best median ``fanout_receipts_on`` figure (burst
  1% of a second), sending half the messages; the p99 of the processes'
  ``ja_smpp_response_duration_seconds{carrier="sim"}`` added up, **interpolated linearly
  inside the histogram bucket** that holds it (as Prometheus' ``histogram_quantile`` does).

Throughput over time (``series`` in the JSON, for the charts): every contender's simulator
serves its metrics, and ``bench._sampler`` reads them every ``sample_every`` seconds while
the contender runs: submits accepted, receipts acknowledged, ESME_RMSGQFUL answers and the
receipts queued in the simulator, per interval; the median round's series is kept.

Every run gets a fresh simulator process (``python -m smpp.simulator``: one account, no
throughput limit, window 5000, replies off, ledger off, its deliver_sm window and receipt
queue at their defaults: 64 per bind, refusing submits past 1,000,000 receipts waiting for
a bound receiver), so no run inherits another's state. Contenders alternate within each
round (ja-engine, ja-engine xN, smpplib, aiosmpplib, smpp34). Redis: ``--url``, else
``REDIS_URL``, else redis://127.0.0.1:6379/0; each round uses a namespace of its own,
deleted afterwards. Speed is reported, never asserted.

The engine sends registered_delivery=1 in both cases (it always asks for receipts; with
receipts off the simulator sends none); the peers 1 with receipts on, else 0. The PDUs are
otherwise the same: sender 4777 (TON 3), an international number, 100 GSM characters.
``--profile FILE`` adds one engine round (receipts on) under cProfile (not counted) and
prints its top functions.
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

from bench._engine_procs import process_cpu_seconds, run_processes, stage, startup_lines
from bench._peers import DEST_FIRST, SHORT_CODE, TEXT, missing
from bench._report import OURS, Stats, format_table, median_index, ratios, summarise
from bench._sampler import Sampler, Series, empty_series, series
from counters import Keys, Lane, OutboundMessage
from counters.records import encode
from engine.app import open_engine
from engine.config import Config, parse_config
from engine.metrics import Metrics

__all__ = ["CASES", "Sizes", "collect", "histogram_quantile", "main", "measure", "report"]

FANOUT = "fanout"
LATENCY = "submit_p99_half_load"
CPU = "client_cpu_per_message"
RECEIPTS_ON = "receipts_on"
RECEIPTS_OFF = "receipts_off"
CASES = (RECEIPTS_ON, RECEIPTS_OFF)
"""Receipts on is the headline (every real carrier sends them); off is the second case."""
RECEIPT_DELAY = 1.0
RECEIPT_JITTER = 2.0
"""Receipts come 1 to 3 s after their submit (a handset in coverage), so that they load
every contender for nearly the whole run instead of only its last seconds."""
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
    sample_every: float = 0.5
    """Seconds between two readings of the simulator's counters (throughput over time)."""

    def for_peer(self, peer: str) -> int:
        return max(1, self.messages // SLOW_PEERS.get(peer, 1))

    @property
    def latency_messages(self) -> int:
        return max(1, self.messages // 2)


FULL = Sizes(rounds=3, messages=200_000)
QUICK = Sizes(rounds=1, messages=2_000, sample_every=0.05)


def scaled(sizes: Sizes) -> str:
    """The name of the scaled-out contender."""
    return f"{OURS} x{sizes.processes}"


def fanout_case(receipts: str) -> str:
    return f"{FANOUT}_{receipts}"


def cpu_case(receipts: str) -> str:
    return f"{CPU}_{receipts}"


SIMULATOR_TOML = """\
metrics_port = 0

[[accounts]]
system_id = "ja"
password = "pw"
tps = 0
max_binds = 16
window = 5000

[receipts]
enabled = {receipts}
delay = {delay}
jitter = {jitter}

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


def simulator_toml(receipts: bool) -> str:
    return SIMULATOR_TOML.format(
        first=DEST_FIRST,
        receipts=str(receipts).lower(),
        delay=RECEIPT_DELAY,
        jitter=RECEIPT_JITTER,
    )


@dataclass
class SimulatorProcess:
    host: str
    port: int
    pid: int
    metrics_url: str | None = None
    """Its Prometheus metrics, when the configuration sets ``metrics_port``."""

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def sampler(self, every: float) -> Sampler:
        """A started ``Sampler`` of this simulator's counters (``stop()`` it for the series)."""
        if self.metrics_url is None:
            raise RuntimeError("the simulator serves no metrics: set metrics_port")
        sampler = Sampler(self.metrics_url, every)
        sampler.start()
        return sampler


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
            prefixes = ["listening on "]
            if "metrics_port" in config.read_text():
                prefixes.append("metrics on ")  # printed first, but read in the same pass
            lines = startup_lines(process.stdout, prefixes, time.monotonic() + timeout)
            host_port = _host_port(lines.get("listening on "))
            if host_port is None or len(lines) < len(prefixes):
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the simulator did not start listening:\n{tail}")
            metrics_url = lines.get("metrics on ")
            yield SimulatorProcess(host_port[0], host_port[1], process.pid, metrics_url)
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


def _host_port(where: str | None) -> tuple[str, int] | None:
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
    series: Series = field(repr=False)


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
            sampler = sim.sampler(sizes.sample_every)
            try:
                run = run_processes(client, keys, configs, count, limit=60.0 + count / 1000.0)
            finally:
                samples = sampler.stop()
            sim_cpu = sim.cpu_seconds() - sim0
    finally:
        wipe(client, keys)
    over_time = series(samples, run.elapsed)
    return EnginesRun(run.rate, run.cpu, sim_cpu / count, run.round_trips, over_time)


# --- peers ------------------------------------------------------------------------------------


@dataclass
class PeerRun:
    rate: float | None
    cpu: float = 0.0
    """Seconds of the peer process's CPU per message, every thread, while its clock ran."""
    simulator_cpu: float = 0.0
    error: str | None = None
    series: Series | None = field(default=None, repr=False)


def run_peer(sim_config: Path, peer: str, sizes: Sizes, *, receipts: bool) -> PeerRun:
    """One peer run in a process of its own, against a simulator of its own."""
    count = sizes.for_peer(peer)
    with simulator(sim_config) as sim:
        argv = [sys.executable, "-m", "bench._peers", peer, "--host", sim.host]
        argv += ["--port", str(sim.port), "--messages", str(count)]
        argv += ["--binds", str(sizes.binds), "--window", str(sizes.window)]
        argv += ["--receipts"] if receipts else []
        sim0 = sim.cpu_seconds()
        sampler = sim.sampler(sizes.sample_every)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=120.0 + count / 500.0, check=False
            )
        except subprocess.TimeoutExpired:
            return PeerRun(None, error=f"{peer}: no result within the time limit")
        finally:
            samples = sampler.stop()
        sim_cpu = sim.cpu_seconds() - sim0
    result = _last_json(done.stdout)
    if result is None:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return PeerRun(None, error=f"exit {done.returncode} without a result: {tail[0]}")
    if "error" in result:
        return PeerRun(None, error=str(result["error"]))
    if result["errors"]:
        return PeerRun(None, error=f"{result['errors']} submits were refused")
    rate, cpu = float(result["rate"]), float(result["cpu"]) / count
    over_time = series(samples, float(result["elapsed"]))
    return PeerRun(rate, cpu, sim_cpu / count, series=over_time)


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
    buckets: list[tuple[float, float]] = field(repr=False)
    """The submit round-trip histogram: (upper bound in seconds, cumulative count)."""


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
    return LatencyRun(p99 * 1000, bucket * 1000, run.rate, run.round_trips)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class CaseRuns:
    """One case (receipts on or off): each contender's figures, one entry per round."""

    rates: dict[str, list[float]]
    cpu: dict[str, list[float]]
    """Client CPU, us per message."""
    series: dict[str, list[Series]]

    @classmethod
    def for_contenders(cls, names: Sequence[str]) -> CaseRuns:
        return cls({n: [] for n in names}, {n: [] for n in names}, {n: [] for n in names})

    def add(self, name: str, rate: float, cpu: float, series: Series | None) -> None:
        self.rates[name].append(rate)
        self.cpu[name].append(cpu * 1e6)
        self.series[name].append(series or empty_series())

    def drop(self, name: str) -> None:
        del self.rates[name], self.cpu[name], self.series[name]


@dataclass
class Outcome:
    cases: dict[str, CaseRuns]
    """By case name (``CASES``), the headline first."""
    latency: dict[str, list[LatencyRun]]
    half_load: str
    skipped: dict[str, str]
    notes: list[str]


@dataclass
class _Round:
    """What one round of one case needs."""

    sim_config: Path
    receipts: bool
    client: redis.Redis
    url: str
    sizes: Sizes
    failures: dict[str, list[str]]


def _run_contenders(
    engines: dict[str, int], runs: CaseRuns, peers: Sequence[str], ctx: _Round
) -> list[str]:
    """Every contender once, in the fixed order; returns one progress phrase per contender."""
    line = []
    for name, processes in engines.items():
        ours = run_engines(ctx.sim_config, ctx.client, ctx.url, ctx.sizes, processes)
        runs.add(name, ours.rate, ours.cpu, ours.series)
        line.append(_phrase(name, ours.rate, ours.cpu, ours.simulator_cpu, ours.series))
    for peer in peers:
        got = run_peer(ctx.sim_config, peer, ctx.sizes, receipts=ctx.receipts)
        if got.rate is None:
            ctx.failures.setdefault(peer, []).append(got.error or "failed")
            line.append(f"{peer} failed: {got.error}")
            continue
        runs.add(peer, got.rate, got.cpu, got.series)
        line.append(_phrase(peer, got.rate, got.cpu, got.simulator_cpu, got.series))
    return line


def _phrase(name: str, rate: float, cpu: float, sim_cpu: float, series: Series | None) -> str:
    text = (
        f"{name} {rate:,.0f} msg/s (CPU {cpu * 1e6:.1f} us/msg, simulator {sim_cpu * 1e6:.1f} "
        "us/msg"
    )
    if series is not None and series["totals"]["receipts"]:
        totals = series["totals"]
        text += f"; {totals['receipts']:,.0f} receipts taken, {totals['rmsgqful']:,.0f} RMSGQFUL"
    return text + ")"


def _settle_failures(
    case: str, runs: CaseRuns, failures: dict[str, list[str]], rounds: int
) -> tuple[list[str], dict[str, str]]:
    """Notes for peers that failed some rounds; the peers that failed every round are dropped
    from the case and returned as skipped."""
    notes: list[str] = []
    skipped: dict[str, str] = {}
    for peer, errors in failures.items():
        if runs.rates[peer]:
            notes.append(f"{peer}, {case}: {len(errors)} of {rounds} runs failed ({errors[0]})")
        else:
            skipped[f"{peer} ({case})"] = "; ".join(sorted(set(errors)))
            runs.drop(peer)
    return notes, skipped


def measure(sizes: Sizes, url: str, say: Any, profile_to: Path | None = None) -> Outcome:
    """Alternating rounds of every case and contender, then the half-load latency rounds."""
    skipped = {peer: why for peer in PEER_ORDER if (why := missing(peer)) is not None}
    engines = {OURS: 1}
    if sizes.processes > 1:
        engines[scaled(sizes)] = sizes.processes
    peers = [p for p in PEER_ORDER if p not in skipped]
    cases = {case: CaseRuns.for_contenders([*engines, *peers]) for case in CASES}
    failures: dict[str, dict[str, list[str]]] = {case: {} for case in CASES}
    notes: list[str] = []
    client = redis.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        configs = {case: Path(tmp) / f"simulator-{case}.toml" for case in CASES}
        for case, path in configs.items():
            path.write_text(simulator_toml(case == RECEIPTS_ON))
        try:
            for r in range(1, sizes.rounds + 1):
                for case in CASES:
                    receipts = case == RECEIPTS_ON
                    ctx = _Round(configs[case], receipts, client, url, sizes, failures[case])
                    line = _run_contenders(engines, cases[case], peers, ctx)
                    say(f"round {r}/{sizes.rounds}, {case.replace('_', ' ')}: " + "; ".join(line))
            for case in CASES:
                more_notes, more_skipped = _settle_failures(
                    case, cases[case], failures[case], sizes.rounds
                )
                notes += more_notes
                skipped |= more_skipped
            target = max(statistics.median(cases[RECEIPTS_ON].rates[name]) for name in engines) / 2
            on = configs[RECEIPTS_ON]
            latency = _latency_rounds(on, client, url, sizes, engines, target, say)
            half_load = f"half load: {target:,.0f} msg/s over {sizes.binds} binds, receipts on"
            if profile_to is not None:
                _profile(configs[RECEIPTS_ON], client, url, sizes, profile_to)
        finally:
            client.close()
    return Outcome(cases, latency, half_load, skipped, notes)


def _latency_rounds(
    sim_config: Path,
    client: redis.Redis,
    url: str,
    sizes: Sizes,
    engines: dict[str, int],
    target: float,
    say: Any,
) -> dict[str, list[LatencyRun]]:
    latency: dict[str, list[LatencyRun]] = {name: [] for name in engines}
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
    return latency


def _profile(
    sim_config: Path, client: redis.Redis, url: str, sizes: Sizes, profile_to: Path
) -> None:
    profile = cProfile.Profile()
    run_ours(sim_config, client, url, sizes, count=sizes.messages, profile=profile)
    profile.dump_stats(str(profile_to))
    stats = pstats.Stats(str(profile_to))
    stats.sort_stats("tottime").print_stats(30)


def _peer_ratios(results: dict[str, Stats], ours: str, better: Any = "higher") -> dict[str, float]:
    """``ours`` against the peers only (not against the other engine contender)."""
    mine = {name: s for name, s in results.items() if name == ours or name in PEER_ORDER}
    return ratios(mine, ours=ours, better=better)


def report(outcome: Outcome, sizes: Sizes | None = None) -> dict[str, Any]:
    """The JSON object of design.md ("Benchmarks"), with the headline case named, the
    throughput over time of each contender's median round (``series``) and the half-load
    round-trip histograms of the last latency round (``latency_buckets``: [upper bound in
    seconds, cumulative count], null for +Inf)."""
    results: dict[str, Any] = {}
    all_ratios: dict[str, dict[str, float]] = {}
    series: dict[str, dict[str, Series]] = {}
    for case, runs in outcome.cases.items():
        rate = {name: summarise(values) for name, values in runs.rates.items()}
        per_message = {name: summarise(values) for name, values in runs.cpu.items()}
        results[fanout_case(case)] = rate
        results[cpu_case(case)] = dict(per_message) | {"unit": "us/msg", "better": "lower"}
        all_ratios[fanout_case(case)] = _peer_ratios(rate, OURS)
        all_ratios[cpu_case(case)] = _peer_ratios(per_message, OURS, better="lower")
        for name in rate:
            if name != OURS and name not in PEER_ORDER:
                all_ratios[f"{fanout_case(case)} {name}"] = _peer_ratios(rate, name)
        series[fanout_case(case)] = {
            name: runs.series[name][median_index(values)] for name, values in runs.rates.items()
        }
    p99: dict[str, Any] = {
        name: summarise([run.p99_ms for run in runs]) for name, runs in outcome.latency.items()
    }
    results[LATENCY] = p99 | {"unit": "ms", "better": "lower"}
    obj: dict[str, Any] = {
        "benchmark": FANOUT,
        "unit": "msg/s",
        "headline": fanout_case(RECEIPTS_ON),
        "results": results,
        "ratios": all_ratios,
        "series": series,
        "latency_buckets": {
            name: [[le if math.isfinite(le) else None, n] for le, n in runs[-1].buckets]
            for name, runs in outcome.latency.items()
        },
        "half_load": outcome.half_load,
    }
    if sizes is not None:
        obj["settings"] = settings(sizes)
    if outcome.skipped:
        obj["skipped"] = outcome.skipped
    if outcome.notes:
        obj["notes"] = outcome.notes
    return obj


def settings(sizes: Sizes) -> dict[str, Any]:
    return {
        "rounds": sizes.rounds,
        "messages": sizes.messages,
        "smpplib_messages": sizes.for_peer("smpplib"),
        "binds": sizes.binds,
        "window": sizes.window,
        "processes": sizes.processes,
        "receipt_delay_s": [RECEIPT_DELAY, RECEIPT_DELAY + RECEIPT_JITTER],
        "sample_every_s": sizes.sample_every,
    }


def collect(quick: bool, url: str, say: Any) -> dict[str, Any]:
    """Both cases, measured at the default sizes; the JSON object of ``--json``."""
    sizes = QUICK if quick else FULL
    return report(measure(sizes, url, say), sizes)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = replace(sizes, rounds=args.rounds)
    if args.messages:
        sizes = replace(sizes, messages=args.messages)
    if args.binds:
        sizes = replace(sizes, binds=args.binds)
    if args.processes:
        sizes = replace(sizes, processes=args.processes)
    return replace(sizes, processes=min(sizes.processes, sizes.binds))  # a bind each at least


def print_report(obj: dict[str, Any]) -> None:
    """The human-readable tables, one block per case, then CPU and latency lines."""
    for case in CASES:
        key = fanout_case(case)
        print(format_table({key: obj["results"][key]}, obj["ratios"], "msg/s"))
        for ratio_key, vs_peers in obj["ratios"].items():
            if ratio_key.startswith(f"{key} "):
                line = ", ".join(f"{k} {v:.2f}x" for k, v in vs_peers.items())
                print(f"  {ratio_key.removeprefix(key + ' ')} {line}")
        figures = ", ".join(
            f"{name} {s['median']:.1f}"
            for name, s in obj["results"][cpu_case(case)].items()
            if name not in ("unit", "better")
        )
        vs = ", ".join(f"{k} {v:.2f}x" for k, v in obj["ratios"][cpu_case(case)].items())
        print(f"{cpu_case(case)} (us of client CPU per message, lower is better): {figures}; {vs}")
    p99 = ", ".join(
        f"{name} {stats['median']:g} [{stats['min']:g} .. {stats['max']:g}]"
        for name, stats in obj["results"][LATENCY].items()
        if name not in ("unit", "better")
    )
    print(
        f"{LATENCY} (ms, lower is better; interpolated in the histogram bucket): {p99}; "
        f"{obj['half_load']}"
    )
    for note in obj.get("notes", []):
        print(note)
    for peer, why in obj.get("skipped", {}).items():
        print(f"{peer}: not measured: {why}")


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
    sizes = sizes_from(args)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    say(
        f"fanout: {sizes.rounds} rounds, {sizes.messages:,} messages "
        f"(smpplib {sizes.for_peer('smpplib'):,}), {sizes.binds} binds x window {sizes.window}, "
        f"engine in 1 and {sizes.processes} processes, receipts on then off"
    )
    obj = report(measure(sizes, args.url, say, args.profile), sizes)
    print_report(obj)
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
