"""The TV burst: JA from a TV audience while an appeal fans out, end to end, checked exactly.

``python -m bench.burst [--quick] [--json] [--rounds N] [--numbers N] [--subscribers N]
[--url URL] [--profile FILE]``

The simulator's TV mode (``smpp.simulator.tv``) sends mobile-originated JA ("JA", "ja",
"Ja!") to short code 4000 from numbers outside the subscribed population, 20% of them a
repeat of the previous sender's message (the same person texting twice), while an appeal
marked ``public=True`` (so strangers' JA count) fans out to ``--subscribers`` subscribers
(20,000; quick 2,000) through the bulk lane in the background (4 binds of 500 msg/s each:
the fan-out takes about 10 s). Handsets do not reply to the appeal, so every signature
comes from the TV.

How the processes are laid out (2 cores): the **engine runs in a process of its own**, the
**simulator in this process** (a Trio loop that also hosts a thread sampling the count from
Redis every 20 ms), Redis in its own. ``python -m engine run`` cannot select a router other
than the configured ones, so both contenders are started the same way: ``python -m
bench.burst serve FILE --router campaigns|naive``, which does what ``engine.app._serve``
does (``open_engine``, logging at INFO, ``gc.freeze`` after start-up, stop on SIGTERM)
minus the ``/metrics`` HTTP server (never scraped here), and with the naive router it also
runs the fan-out (the engine starts it only for its campaign router) so that both carry the
same background load. The simulator stays in this process because its ledger (every MO
and when the engine acknowledged it) is what the exactness check reads.

Contenders, in alternating rounds (3 full, 1 quick), each round on a fresh Redis namespace
(deleted afterwards), a fresh simulator and a fresh engine process:

1. ``ja-engine``: the campaign router as built (``router=None``).
2. ``naive``: ``NaiveRouter`` below, the obvious first version: for each inbound entry in
   order, classify it, then await ``subscribers.id(number)`` (create), ``appeals.sign``
   and, if the signature is new, ``RouterContext.schedule`` of the thank-you: three Redis
   round trips per JA, one after the other. Same shortcut for the appeal (the one open
   public appeal, its metadata cached for a second as the campaign router does). In the
   full run it gets a quarter of the numbers (its rate is what is compared; the whole
   burst would add minutes per round); the quick run gives both the same.

Engine configuration, both contenders: ``[inbox] redelivery_window = 0.001`` (the TV's
repeats follow the first message within microseconds; with the default 30 s window the
inbox would take them for a carrier's redelivery and record them once, and the router's
exact dedupe would never see them), ``[campaigns] thank_delay`` 3600 s in the throughput
scenario (every thank-you is scheduled; none is due during the run) and 5 s in the delay
scenario. Everything else is the default (metrics on). The Redis server here keeps
nothing on disk: "durable" means recorded in Redis before the deliver_sm_resp, without an
fsync.

Figures:

* ``ja_per_second`` (JA/s): the TV profile at ``inf`` (as fast as the engine's binds take
  deliver_sm, the simulator keeping 4096 queued) until it has emitted ``--numbers`` / 0.8
  messages (500,000 distinct numbers; quick 4,000); the signature count (``appeals.count``,
  sampled from Redis) over time, the rate between 10% and 90% of the final count: received,
  recorded in Redis, routed, signed with exact dedupe, thank-you scheduled.
* ``thank_you_delay_p50`` / ``_p99`` (ms, lower is better; ja-engine only): the TV at
  1,000 MO/s for 30 s (quick 5 s) with ``thank_delay`` 5 s; every thank-you is sent
  (the simulator's account has no tps cap); the exact delays (``Metrics.thank_you_delays``,
  from the JA's arrival to the thank-you's submit_sm_resp, written to a file by the engine
  process when it stops) minus 5 s.
* Exactness, every run: once settled (the TV done, every MO acknowledged per the ledger,
  every inbound entry routed), the appeal's count must equal the number of distinct TV
  numbers whose MO the ledger shows acknowledged, the scheduled thank-yous (throughput)
  or the sent ones (delay) must equal the count too. A mismatch is printed and the exit
  status is 1, in ``--quick`` too.

``--profile FILE`` adds one ja-engine throughput round (not counted) with the engine process
under cProfile (stats to FILE, top functions printed to stderr) and Redis' INFO
commandstats for that round (the server's statistics are reset first).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import math
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import IO, Any

import redis
import trio

from bench._engine_procs import process_cpu_seconds
from bench._report import OURS, Stats, format_table, median_index, ratios, summarise
from counters import AppealMeta, Keys, Lane, OutboundMessage, StoreConfig, open_store
from engine.app import open_engine
from engine.campaigns.appeals import Campaigns
from engine.campaigns.keywords import Classifier, Intent
from engine.campaigns.model import AppealSpec
from engine.campaigns.router import CampaignRouter
from engine.campaigns.settings import CampaignConfig
from engine.campaigns.texts import render
from engine.config import Config, load_config
from engine.live.process import run_public_process
from engine.metrics import Metrics
from engine.routers import Batch, RouterContext
from smpp.simulator.config import (
    AccountConfig,
    DeliveryConfig,
    HandsetConfig,
    LedgerConfig,
    ReceiptConfig,
    SimulatorConfig,
    TvConfig,
)
from smpp.simulator.ledger import Kind, Ledger
from smpp.simulator.server import Simulator, open_simulator
from smpp.simulator.tv import CallToAction

__all__ = [
    "During",
    "NaiveRouter",
    "Sizes",
    "collect",
    "free_port",
    "main",
    "rate_series",
    "run_one",
    "steady_rate",
    "throughput",
]

log = logging.getLogger(__name__)

NAIVE = "naive"
RATE = "ja_per_second"
P50 = "thank_you_delay_p50"
P99 = "thank_you_delay_p99"
DUPLICATES = 0.2
SHORT_CODE = "4000"
SUBSCRIBER_FIRST = 31_600_000_000
TV_FIRST = 31_690_000_000
THANK_DELAY = 5.0
BINDS = 4
BIND_RATE = 500.0
During = Callable[..., Awaitable[None]]
"""Run alongside a round's TV: ``during(public_port, appeal, task_status=...)``, started with
``nursery.start`` (the TV starts once it reports ready)."""
APPEAL_TEXT = "Stop de marteling van Ahmed. Antwoord JA om te tekenen."


@dataclass(frozen=True)
class Sizes:
    rounds: int
    numbers: int
    """Distinct TV numbers in a throughput run (about: the ledger gives the exact figure)."""
    subscribers: int
    delay_seconds: float
    """Seconds of the 1,000 MO/s TV in the delay scenario."""
    naive_share: int = 1
    window: int = 64
    """The simulator's deliver_sm window per bind (its default)."""
    """The naive router gets ``numbers // naive_share``."""
    delay_rate: float = 1000.0

    def numbers_for(self, contender: str) -> int:
        return max(100, self.numbers // (self.naive_share if contender == NAIVE else 1))


FULL = Sizes(rounds=3, numbers=500_000, subscribers=20_000, delay_seconds=30.0, naive_share=4)
QUICK = Sizes(rounds=1, numbers=4_000, subscribers=2_000, delay_seconds=5.0)


# --- the naive router -------------------------------------------------------------------------


class NaiveRouter:
    """One awaited Redis call at a time, per message, in order: the obvious first version."""

    def __init__(self, context: RouterContext) -> None:
        self.ctx = context
        self.config = context.config.campaigns
        self.classifier = Classifier(self.config.keywords)
        self._public: AppealMeta | None = None
        self._fresh_until = -1.0

    async def _appeal(self, now: float) -> AppealMeta | None:
        """The open public appeal (re-read at most once a second, as the campaign router)."""
        if now >= self._fresh_until:
            appeals = self.ctx.store.appeals
            metas = [await appeals.meta(i) for i in await appeals.ids(newest=50)]
            public = [m for m in metas if m and m.public and m.is_open(now)]
            self._public = max(public, key=lambda m: m.opens_at, default=None)
            self._fresh_until = now + 1.0
        return self._public

    async def route(self, batch: Batch, *, again: bool) -> None:
        store, metrics = self.ctx.store, self.ctx.metrics
        for entry_id, record in batch:
            decision = self.classifier.classify(record.text)
            metrics.child("inbound_rules", decision.rule).inc()
            if decision.intent is not Intent.SIGN:
                continue
            appeal = await self._appeal(self.ctx.clock())
            if appeal is None:
                continue
            subscriber = await store.subscribers.id(record.source, create=True)
            result = await store.appeals.sign(
                appeal.id, subscriber, text=record.text, message_id=entry_id
            )
            metrics.child("signatures", "accepted" if result.new else "duplicate").inc()
            if result.new or again:
                due = record.received_at + self.config.thank_delay
                message = self._thank_you(appeal, subscriber, record.source, record)
                await self.ctx.schedule(due, message, appeal=appeal.id, kind="thanks")

    def _thank_you(
        self, meta: AppealMeta, subscriber: int, number: str, record: Any
    ) -> OutboundMessage:
        language = meta.language if meta.language in self.config.templates else "nl"
        values = {"organisation": self.config.organisation, "short_code": SHORT_CODE,
                  "count": "{count}", "others": "{others}", "appeal": "{appeal}"}  # fmt: skip
        return OutboundMessage(
            ref=f"t{meta.id}:{subscriber}",
            to=number,
            text=render(self.config.templates[language].thank_you_public, values),
            kind="thanks",
            appeal=meta.id,
            subscriber=subscriber,
            carrier=record.carrier,
            bind=record.bind,
            requires="not_stopped",
            template=True,
            language=language,
            origin_at=record.received_at,
        )


# --- the engine process -----------------------------------------------------------------------


async def _serve(config: Config, router: str, config_path: Path) -> list[float]:
    """``engine.app._serve`` with a choice of router, no HTTP server, and the public
    server's process when ``[http] public_port`` is set (as ``ja-engine run`` starts it:
    ``bench.counter`` hammers its counter); returns the exact thank-you delays."""
    metrics = Metrics()
    factory = NaiveRouter if router == NAIVE else None
    async with (
        open_engine(config, metrics=metrics, router=factory) as engine,
        trio.open_nursery() as nursery,
    ):
        if not isinstance(engine.router, CampaignRouter):
            await nursery.start(engine.fanout.run)
        if config.http.public_port is not None:
            await nursery.start(
                run_public_process, str(config_path), engine.store.url, trio.sleep_forever
            )
        gc.collect()
        gc.freeze()
        print("engine up", flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
        nursery.cancel_scope.cancel()
    return list(metrics.thank_you_delays)


def serve_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst serve")
    parser.add_argument("config", type=Path)
    parser.add_argument("--router", choices=("campaigns", NAIVE), default="campaigns")
    parser.add_argument("--delays", type=Path, help="write the exact thank-you delays here")
    parser.add_argument("--profile", type=Path, help="run under cProfile; stats here")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    try:
        delays = trio.run(_serve, load_config(args.config), args.router, args.config)
    finally:
        if profile is not None:
            profile.disable()
            profile.dump_stats(str(args.profile))
    if args.delays is not None:
        args.delays.write_text(json.dumps(delays))
    return 0


ENGINE_TOML = """\
short_code = "{short_code}"
[redis]
url = "{url}"
namespace = "{namespace}"
[outbox]
consumer = "bench"
[http]
port = 0
{public}[inbox]
redelivery_window = 0.001
[campaigns]
thank_delay = {thank_delay}
[carriers.sim]
"""

BIND_TOML = """\
[[carriers.sim.binds]]
name = "sim-{n}"
host = "127.0.0.1"
port = {port}
system_id = "ja"
password = "pw"
window = 512
rate = {rate}
burst = 50
"""


def engine_toml(
    url: str,
    namespace: str,
    port: int,
    thank_delay: float,
    public_port: int | None = None,
    public_options: str = "",
) -> str:
    """The engine's configuration; with ``public_port``, its public server there (and
    ``public_options``: more ``[http]`` lines)."""
    public = "" if public_port is None else f"public_port = {public_port}\n{public_options}"
    text = ENGINE_TOML.format(
        short_code=SHORT_CODE, url=url, namespace=namespace, thank_delay=thank_delay,
        public=public,
    )  # fmt: skip
    for n in range(1, BINDS + 1):
        text += BIND_TOML.format(n=n, port=port, rate=BIND_RATE)
    return text


def simulator_config(subscribers: int, window: int = 64) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        delivery=DeliveryConfig(window=window),
        accounts=[AccountConfig(system_id="ja", password="pw", tps=0, max_binds=16, window=5000)],
        receipts=ReceiptConfig(delay=1.0, jitter=1.0, outcomes={"DELIVRD": 1.0}),
        handsets=HandsetConfig(
            count=subscribers,
            first_number=str(SUBSCRIBER_FIRST),
            reply_probability=0.0,
            stop_probability=0.0,
            help_probability=0.0,
            unrelated_probability=0.0,
            long_probability=0.0,
            duplicate_probability=0.0,
            stranger_probability=0.0,
        ),
        ledger=LedgerConfig(max_records=10_000_000),
    )


def tv_config(numbers: int, profile: list[tuple[float, float]]) -> TvConfig:
    return TvConfig(
        short_code=SHORT_CODE,
        profile=profile,
        first_number=str(TV_FIRST),
        numbers=numbers,
        duplicate_probability=DUPLICATES,
        keywords={"JA": 0.6, "ja": 0.25, "Ja!": 0.15},
    )


# --- measuring from outside -------------------------------------------------------------------


class Sampler(threading.Thread):
    """The appeal's count from Redis every ``interval`` seconds: (monotonic time, count)."""

    def __init__(self, url: str, key: str, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(url)
        self.key = key
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            value = int(self.client.get(self.key) or 0)
            self.samples.append((time.monotonic(), value))
            self.done.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        self.done.set()
        self.join()
        self.client.close()
        return self.samples


def steady_rate(samples: Sequence[tuple[float, int]], low: float = 0.1, high: float = 0.9) -> float:
    """Count per second between the first samples at ``low`` and ``high`` of the final count."""
    final = samples[-1][1] if samples else 0
    if final <= 0:
        return 0.0
    first = next((s for s in samples if s[1] >= low * final), None)
    last = next((s for s in samples if s[1] >= high * final), None)
    if first is None or last is None or last[0] <= first[0]:
        return 0.0
    return (last[1] - first[1]) / (last[0] - first[0])


@dataclass
class Exactness:
    contender: str
    scenario: str
    signatures: int
    expected: int
    """Distinct TV numbers whose MO the ledger shows acknowledged."""
    emitted: int
    unacked: int
    thanks: int
    """Thank-yous scheduled (throughput) or sent (delay)."""

    @property
    def ok(self) -> bool:
        return self.signatures == self.expected == self.thanks and self.unacked == 0

    def line(self) -> str:
        what = "scheduled" if self.scenario == "throughput" else "sent"
        verdict = "ok" if self.ok else "MISMATCH"
        return (
            f"exactness {self.contender} {self.scenario}: {self.emitted:,} MO, "
            f"{self.expected:,} distinct numbers acknowledged, {self.unacked} unacknowledged; "
            f"count {self.signatures:,}, thank-yous {what} {self.thanks:,}: {verdict}"
        )


def rate_series(samples: Sequence[tuple[float, int]], start: float) -> dict[str, list[float]]:
    """The count's rise per second, in bins of a second (shorter for runs under 20 s, so
    that a quick run still has about 20), from ``start`` to the last sample: ``{"t": bin
    ends in seconds since start, "ja_per_s": ...}``."""
    out: dict[str, list[float]] = {"t": [], "ja_per_s": []}
    if not samples:
        return out
    duration = samples[-1][0] - start
    width = 1.0 if duration >= 20 else max(duration / 20, 0.02)
    i, before = 0, 0
    edge = start + width
    while edge <= samples[-1][0] + width:
        while i < len(samples) and samples[i][0] <= edge:
            i += 1
        count = samples[i - 1][1] if i else 0
        out["t"].append(round(edge - start, 3))
        out["ja_per_s"].append(round((count - before) / width, 1))
        before = count
        edge += width
    return out


@dataclass
class RunResult:
    rate: float
    elapsed: float
    engine_cpu: float
    """Engine process CPU seconds per signature over the run."""
    sim_cpu: float
    exact: Exactness
    delays: list[float] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    """Signatures per second over the run (``rate_series``)."""


def ledger_check(ledger: Ledger) -> tuple[int, int]:
    """(distinct numbers with an acknowledged TV MO, TV MO not acknowledged)."""
    numbers: set[str] = set()
    unacked = 0
    tv = Kind.TV.name.lower()
    for record in ledger:
        if record.kind != tv:
            continue
        if record.acked_at is None:
            unacked += 1
        else:
            numbers.add(record.number)
    return len(numbers), unacked


def _inbound_idle(client: redis.Redis, keys: Keys) -> bool:
    try:
        groups: list[dict[str, Any]] = client.xinfo_groups(keys.inbound)
    except redis.ResponseError:
        return False
    return bool(groups) and all(
        int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 for g in groups
    )


async def _settle(
    sim: Simulator,
    client: redis.Redis,
    keys: Keys,
    count_key: str,
    *,
    lanes_empty: bool,
    limit: float,
) -> None:
    """Wait until nothing moves: the simulator has nothing queued, every inbound entry is
    routed, the count has not changed for a second (and, if asked, the lanes and the
    schedule are empty)."""
    deadline = trio.current_time() + limit
    last, since = -1, trio.current_time()
    while True:
        now = trio.current_time()
        if now > deadline:
            raise RuntimeError(f"not settled after {limit:.0f} s")
        count = int(client.get(count_key) or 0)
        if count != last:
            last, since = count, now
        busy = any(len(a.outbox) for a in sim.accounts) or not _inbound_idle(client, keys)
        if lanes_empty and not busy:
            queued = sum(int(client.xlen(keys.lane(lane))) for lane in Lane)
            busy = queued > 0 or int(client.zcard(keys.queue_delayed)) > 0
        if not busy and now - since >= 1.0:
            return
        await trio.sleep(0.1)


@dataclass(frozen=True)
class Scenario:
    name: str
    """"throughput" or "delay"."""
    numbers: int
    profile: list[tuple[float, float]]
    stop_after: int | None
    """Cancel the TV once it has emitted this many (the ``inf`` profile never ends)."""
    thank_delay: float


def throughput(numbers: int) -> Scenario:
    emit = math.ceil(numbers / (1 - DUPLICATES))
    return Scenario("throughput", 2 * emit, [(0.0, math.inf)], emit, 3600.0)


def delay_scenario(sizes: Sizes) -> Scenario:
    seconds, rate = sizes.delay_seconds, sizes.delay_rate
    profile = [(0.0, rate), (seconds, rate), (seconds, 0.0)]  # then a step down to nothing
    return Scenario("delay", 2 * math.ceil(seconds * rate), profile, None, THANK_DELAY)


async def _stop_engine(process: trio.Process, grace: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    with trio.move_on_after(grace):
        await process.wait()
    if process.poll() is None:
        process.kill()
        await process.wait()


async def _run(
    contender: str,
    scenario: Scenario,
    sizes: Sizes,
    url: str,
    keys: Keys,
    tmp: Path,
    profile: Path | None,
    engine_log: IO[str],
    during: During | None = None,
    public_options: str = "",
) -> RunResult:
    async with open_store(StoreConfig(url=url, namespace=keys.namespace)) as store:
        numbers = [f"+{SUBSCRIBER_FIRST + i}" for i in range(sizes.subscribers)]
        for start in range(0, len(numbers), 5000):
            chunk = numbers[start : start + 5000]
            await store.subscribers.subscribe_many(chunk, source="bench", language="nl")
        campaigns = Campaigns(store, CampaignConfig())
        view = await campaigns.create(AppealSpec(title="TV", text=APPEAL_TEXT, public=True))
        await campaigns.send(view.id)
    appeal = view.id
    count_key = keys.appeal_count(appeal)
    client = redis.Redis.from_url(url)
    delays_file = trio.Path(tmp) / f"delays-{keys.namespace}.json"
    try:
        async with open_simulator(simulator_config(sizes.subscribers, sizes.window)) as sim:
            _, port = await sim.listen("127.0.0.1", 0)
            config_path = trio.Path(tmp) / f"engine-{keys.namespace}.toml"
            public_port = free_port() if during is not None else None
            await config_path.write_text(
                engine_toml(
                    url, keys.namespace, port, scenario.thank_delay, public_port, public_options
                )
            )
            argv = [sys.executable, "-m", "bench.burst", "serve", str(config_path)]
            argv += ["--router", NAIVE if contender == NAIVE else "campaigns"]
            argv += ["--delays", str(delays_file)]
            if profile is not None:
                argv += ["--profile", str(profile)]
            busy = None
            if during is not None and public_port is not None:
                busy = partial(during, public_port, appeal)
            process = await trio.lowlevel.open_process(
                argv, stdout=engine_log, stderr=subprocess.STDOUT
            )
            try:
                result = await _drive(
                    sim,
                    process,
                    client,
                    keys,
                    count_key,
                    contender,
                    scenario,
                    url,
                    engine_log,
                    busy,
                )
            finally:
                with trio.CancelScope(shield=True):
                    await _stop_engine(process)
            if scenario.name == "delay":
                result.delays = [float(d) for d in json.loads(await delays_file.read_text())]
                result.exact.thanks = len(result.delays)
            return result
    finally:
        client.close()


async def _drive(
    sim: Simulator,
    process: trio.Process,
    client: redis.Redis,
    keys: Keys,
    count_key: str,
    contender: str,
    scenario: Scenario,
    url: str,
    engine_log: IO[str],
    busy: Callable[..., Awaitable[None]] | None = None,
) -> RunResult:
    with trio.move_on_after(30):
        # Polling is the point: the simulator offers no event for "n binds up".
        while len(sim.bound_links()) < BINDS:
            if process.poll() is not None:
                break
            await trio.sleep(0.02)
    if len(sim.bound_links()) < BINDS:
        engine_log.seek(0)
        raise RuntimeError(f"the engine did not bind:\n{engine_log.read()[-3000:]}")
    tv = CallToAction(sim.centre, tv_config(scenario.numbers, scenario.profile), seed=1)
    sampler = Sampler(url, count_key)
    engine0, sim0 = process_cpu_seconds(process.pid), time.process_time()
    start = time.monotonic()
    sampler.start()
    try:
        async with trio.open_nursery() as nursery:
            if busy is not None:  # alongside the TV (once it is ready), cancelled with it
                await nursery.start(busy)
            nursery.start_soon(tv.run)
            if scenario.stop_after is not None:
                while tv.emitted < scenario.stop_after:  # noqa: ASYNC110 (no event for it)
                    await trio.sleep(0.002)
                nursery.cancel_scope.cancel()
        limit = 120.0 + scenario.numbers / 500.0
        await _settle(
            sim, client, keys, count_key, lanes_empty=scenario.name == "delay", limit=limit
        )
        expected, unacked = ledger_check(sim.ledger)
        deadline = trio.current_time() + 30.0
        while unacked and trio.current_time() < deadline:  # a retried deliver_sm, say
            await trio.sleep(0.5)
            await _settle(sim, client, keys, count_key, lanes_empty=False, limit=limit)
            expected, unacked = ledger_check(sim.ledger)
    finally:
        samples = sampler.stop()
    engine_cpu = process_cpu_seconds(process.pid) - engine0
    sim_cpu = time.process_time() - sim0
    signatures = int(client.get(count_key) or 0)
    scheduled = int(client.zcard(keys.queue_delayed))
    exact = Exactness(contender, scenario.name, signatures, expected, tv.emitted, unacked,
                      scheduled)  # fmt: skip
    done_at = next((t for t, v in samples if v >= signatures), samples[-1][0])
    return RunResult(
        rate=steady_rate(samples),
        elapsed=done_at - start,
        engine_cpu=engine_cpu / max(signatures, 1),
        sim_cpu=sim_cpu / max(signatures, 1),
        exact=exact,
        series=rate_series([s for s in samples if s[0] <= done_at], start),
    )


def free_port() -> int:
    """A loopback port free now (the engine process binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wipe(client: redis.Redis, keys: Keys) -> None:
    for pattern in keys.pattern():
        names = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(names), 1000):
            client.unlink(*names[start : start + 1000])


def run_one(
    contender: str,
    scenario: Scenario,
    sizes: Sizes,
    url: str,
    tmp: Path,
    profile: Path | None = None,
    during: During | None = None,
    public_options: str = "",
) -> RunResult:
    """One round on a fresh namespace; ``during(public_port, appeal)`` (the engine then runs
    its public server's process on that port) runs while the TV does, and is cancelled when
    it stops."""
    keys = Keys(f"bench{uuid.uuid4().hex[:12]}")
    client = redis.Redis.from_url(url)
    try:
        with open(tmp / f"engine-{keys.namespace}.log", "w+") as log:
            return trio.run(
                _run, contender, scenario, sizes, url, keys, tmp, profile, log, during,
                public_options,
            )  # fmt: skip
    finally:
        wipe(client, keys)
        client.close()


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    rates: dict[str, list[float]]
    p50: list[float]
    p99: list[float]
    checks: list[Exactness]
    series: dict[str, list[dict[str, list[float]]]] = field(default_factory=dict)
    """Each contender's signatures per second, one series per throughput round."""
    delays: list[float] = field(default_factory=list)
    """Every thank-you's delay past ``thank_delay``, ms, all delay rounds together."""


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank quantile (exact delays, no interpolation)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure(sizes: Sizes, url: str, say: Any, profile_to: Path | None) -> Outcome:
    contenders = (OURS, NAIVE)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    outcome = Outcome(rates, [], [], [])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for r in range(1, sizes.rounds + 1):
            parts = []
            for name in contenders:
                run = run_one(name, throughput(sizes.numbers_for(name)), sizes, url, tmp)
                rates[name].append(run.rate)
                outcome.series.setdefault(name, []).append(run.series)
                outcome.checks.append(run.exact)
                parts.append(
                    f"{name} {run.rate:,.0f} JA/s ({run.exact.signatures:,} signatures in "
                    f"{run.elapsed:.1f} s; engine CPU {run.engine_cpu * 1e6:.0f} us/JA, "
                    f"simulator {run.sim_cpu * 1e6:.0f} us/JA)"
                )
                say(run.exact.line())
            say(f"round {r}/{sizes.rounds}: " + "; ".join(parts))
            run = run_one(OURS, delay_scenario(sizes), sizes, url, tmp)
            outcome.checks.append(run.exact)
            say(run.exact.line())
            extra = [(d - THANK_DELAY) * 1000 for d in run.delays]
            outcome.delays += extra
            if extra:
                outcome.p50.append(quantile(extra, 0.5))
                outcome.p99.append(quantile(extra, 0.99))
                say(
                    f"delay {r}/{sizes.rounds}: {len(extra):,} thank-yous at "
                    f"{sizes.delay_rate:,.0f} JA/s offered: delay - {THANK_DELAY:g} s p50 "
                    f"{outcome.p50[-1]:.0f} ms, p99 {outcome.p99[-1]:.0f} ms, "
                    f"max {max(extra):.0f} ms"
                )
        if profile_to is not None:
            _profiled(sizes, url, tmp, profile_to, say)
    return outcome


def _profiled(sizes: Sizes, url: str, tmp: Path, profile_to: Path, say: Any) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.config_resetstat()
        run = run_one(OURS, throughput(sizes.numbers), sizes, url, tmp, profile=profile_to)
        stats: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    say(f"profiled round (not counted): {run.rate:,.0f} JA/s; {run.exact.line()}")
    pstats.Stats(str(profile_to), stream=sys.stderr).sort_stats("tottime").print_stats(30)
    top = sorted(stats.items(), key=lambda kv: -float(kv[1]["usec"]))[:12]
    for name, s in top:
        say(f"  redis {name}: {s['calls']} calls, {float(s['usec']) / 1e6:.2f} s, "
            f"{s['usec_per_call']} us/call")  # fmt: skip


def _check_json(c: Exactness) -> dict[str, Any]:
    return {"contender": c.contender, "scenario": c.scenario, "signatures": c.signatures,
            "expected": c.expected, "thanks": c.thanks, "mo": c.emitted,
            "unacked": c.unacked, "ok": c.ok}  # fmt: skip


def quantiles(values: Sequence[float], points: int = 200) -> list[float]:
    """``points`` + 1 nearest-rank quantiles, from the minimum to the maximum (a CDF)."""
    if not values:
        return []
    ordered = sorted(values)
    last = len(ordered) - 1
    return [round(ordered[round(last * k / points)], 3) for k in range(points + 1)]


def report(outcome: Outcome, sizes: Sizes | None = None) -> dict[str, Any]:
    """The JSON object, with each contender's signatures per second over its median round
    (``series``) and the thank-you delays as quantiles (``thank_you_delay_quantiles_ms``)."""
    rate = {name: summarise(values) for name, values in outcome.rates.items()}
    results: dict[str, Any] = {RATE: rate}
    for name, values in ((P50, outcome.p50), (P99, outcome.p99)):
        if values:
            results[name] = {OURS: summarise(values), "unit": "ms", "better": "lower"}
    obj: dict[str, Any] = {
        "benchmark": "burst",
        "unit": "JA/s",
        "results": results,
        "ratios": {RATE: ratios(rate)},
        "exactness": {
            "passed": all(c.ok for c in outcome.checks),
            "runs": [_check_json(c) for c in outcome.checks],
        },
        "series": {
            name: outcome.series[name][median_index(values)]
            for name, values in outcome.rates.items()
            if outcome.series.get(name)
        },
        "thank_you_delay_quantiles_ms": quantiles(outcome.delays),
    }
    if sizes is not None:
        obj["settings"] = asdict(sizes)
    return obj


def collect(quick: bool, url: str, say: Any) -> dict[str, Any]:
    """Every round at the default sizes; the JSON object of ``--json`` (its ``exactness``
    says whether every run counted exactly)."""
    sizes = sizes_from(quick)
    return report(measure(sizes, url, say, None), sizes)


def sizes_from(
    quick: bool,
    rounds: int | None = None,
    numbers: int | None = None,
    subscribers: int | None = None,
) -> Sizes:
    sizes = QUICK if quick else FULL
    if rounds:
        sizes = replace(sizes, rounds=rounds)
    if numbers:
        sizes = replace(sizes, numbers=numbers)
    if subscribers:
        sizes = replace(sizes, subscribers=subscribers)
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve"]:
        return serve_main(args_list[1:])
    parser = argparse.ArgumentParser(
        prog="python -m bench.burst", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3, quick 1)")
    parser.add_argument("--numbers", type=int, help="distinct TV numbers (default 500000)")
    parser.add_argument("--subscribers", type=int, help="subscribers the appeal goes to")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", type=Path, help="add a cProfiled engine round; stats here")
    args = parser.parse_args(args_list)
    sizes = sizes_from(args.quick, args.rounds, args.numbers, args.subscribers)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    say(
        f"burst: {sizes.rounds} rounds, {sizes.numbers:,} TV numbers ({NAIVE} "
        f"{sizes.numbers_for(NAIVE):,}), {DUPLICATES:.0%} repeats, {sizes.subscribers:,} "
        f"subscribers; delay scenario {sizes.delay_rate:,.0f} MO/s for {sizes.delay_seconds:g} s"
    )
    started = time.monotonic()
    outcome = measure(sizes, args.url, say, args.profile)
    obj = report(outcome, sizes)
    print(format_table({RATE: obj["results"][RATE]}, obj["ratios"], "JA/s"))
    for name in (P50, P99):
        if name in obj["results"]:
            s: Stats = obj["results"][name][OURS]
            print(
                f"{name} (ms past the {THANK_DELAY:g} s thank_delay, lower is better, at "
                f"{sizes.delay_rate:,.0f} JA/s): {OURS} {s['median']:g} "
                f"[{s['min']:g} .. {s['max']:g}]"
            )
    for check in outcome.checks:
        print(check.line())
    passed = obj["exactness"]["passed"]
    print(f"exactness: {'passed' if passed else 'FAILED'}; {time.monotonic() - started:.0f} s")
    if len(outcome.rates[OURS]) > 1:
        spread = statistics.pstdev(outcome.rates[OURS]) / statistics.mean(outcome.rates[OURS])
        print(f"{OURS} rate spread: {spread:.1%} (population stdev / mean)")
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
