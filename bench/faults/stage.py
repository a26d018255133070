"""The stage a scenario plays on: a Redis namespace with subscribers and an appeal, the
simulator in this process, the engine's configuration file, and the checks read from them.

Everything a stage starts is stopped and its namespace deleted on the way out, whether the
scenario passed, failed or was interrupted.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import trio

from bench.burst import wipe
from bench.faults.harness import MemorySampler, until
from bench.faults.process import EngineProcess, EngineSettings, engine_process, engine_toml
from counters import Keys, Lane, Store, StoreConfig, open_store
from engine.campaigns.appeals import Campaigns
from engine.campaigns.model import AppealSpec
from engine.campaigns.settings import CampaignConfig
from smpp.simulator.config import (
    AccountConfig,
    DeliveryConfig,
    FaultConfig,
    HandsetConfig,
    LedgerConfig,
    ReceiptConfig,
    SimulatorConfig,
)
from smpp.simulator.server import Simulator, open_simulator

__all__ = [
    "FIRST",
    "TEXT",
    "THANKS",
    "Delivery",
    "Options",
    "Stage",
    "open_stage",
    "simulator_config",
]

FIRST = 31_600_000_000
"""Handset 0's number (the subscribers are +FIRST, +FIRST+1, ...)."""
TEXT = "Stop de marteling van Ahmed. Antwoord JA om te tekenen."
THANKS = "Bedankt voor je handtekening! Al {count} mensen tekenden."
"""The appeal's thank-you template: its fixed start tells thank-yous apart in the ledger."""


@dataclass(frozen=True)
class Options:
    """What the command line gives every scenario."""

    url: str
    quick: bool
    tmp: Path
    say: Callable[[str], None]


def simulator_config(
    handsets: int,
    *,
    replies: float = 0.0,
    receipts: ReceiptConfig | None = None,
    faults: FaultConfig | None = None,
) -> SimulatorConfig:
    """One account (ja/pw, no tps cap, window 5000), ``handsets`` handsets that answer JA
    with probability ``replies`` within about 2 s (30% of them twice), receipts off
    unless given, and deliver_sm retried for about a minute (a restarted engine or Redis
    gets what it did not acknowledge)."""
    return SimulatorConfig(
        port=0,
        inactivity_timeout=None,
        accounts=[AccountConfig(system_id="ja", password="pw", max_binds=16, window=5000)],
        # With receipts off the delay still times the delivery, so the replies.
        receipts=receipts or ReceiptConfig(enabled=False, delay=0.2, jitter=0.3),
        delivery=DeliveryConfig(
            response_timeout=2.0,
            retry_initial=0.5,
            retry_factor=1.5,
            retry_max=2.0,
            max_attempts=40,
        ),
        handsets=HandsetConfig(
            count=handsets,
            first_number=str(FIRST),
            reply_probability=replies,
            stop_probability=0.0,
            help_probability=0.0,
            unrelated_probability=0.0,
            long_probability=0.0,
            duplicate_probability=0.3 if replies else 0.0,
            stranger_probability=0.0,
            delay_min=0.2,
            delay_median=0.8,
            delay_sigma=0.4,
            duplicate_gap=1.0,
            variants={"JA": 0.5, "ja": 0.3, "Ja!": 0.2},
        ),
        faults=faults or FaultConfig(),
        ledger=LedgerConfig(max_records=10_000_000),
        message_store=2_000_000,
    )


@dataclass(frozen=True)
class Delivery:
    """What the handsets received of one fan-out, per the ledger."""

    recipients: int
    missed: int
    """Recipients the message never reached."""
    duplicated: int
    """Deliveries past the first, all recipients together."""


class Stage:
    """One scenario's world; build it with ``open_stage``."""

    def __init__(
        self,
        options: Options,
        keys: Keys,
        client: redis.Redis,
        store: Store,
        sim: Simulator,
        port: int,
        name: str,
    ) -> None:
        self.options = options
        self.keys = keys
        self.client = client
        self.store = store
        self.sim = sim
        self.port = port
        self.name = name
        self.memory = MemorySampler()
        self.subscribers = 0
        self.appeals: list[int] = []
        """Every appeal sent on this stage, oldest first."""

    @property
    def url(self) -> str:
        return self.store.url

    # --- the audience and the appeal -----------------------------------------------------------

    async def subscribe(self, count: int, *, language: str = "nl") -> None:
        """More active subscribers, +FIRST onwards (the simulator's handsets), up to
        ``count`` in all; ``language`` makes a segment an appeal can be sent to alone."""
        for start in range(self.subscribers, count, 5000):
            numbers = [f"+{FIRST + i}" for i in range(start, min(count, start + 5000))]
            await self.store.subscribers.subscribe_many(numbers, source="bench",
                                                        language=language)  # fmt: skip
        self.subscribers = max(self.subscribers, count)

    async def send_appeal(self, title: str, *, language: str = "") -> int:
        """Create and send an urgent appeal (no weekly cap) to every subscriber (or those of
        ``language``); its id."""
        campaigns = Campaigns(self.store, CampaignConfig())
        spec = AppealSpec(title=title, text=TEXT, thank_you=THANKS, urgent=True,
                          audience_language=language)  # fmt: skip
        view = await campaigns.create(spec)
        await campaigns.send(view.id)
        self.appeals.append(view.id)
        return view.id

    # --- the engine ----------------------------------------------------------------------------

    @asynccontextmanager
    async def engine(self, settings: EngineSettings, run: int = 1) -> AsyncIterator[EngineProcess]:
        """The engine as a process on this stage (stopped on the way out); its memory is
        sampled by ``self.memory`` while it runs."""
        tmp = self.options.tmp
        config = tmp / f"{self.name}.toml"
        config.write_text(engine_toml(self.url, self.keys.namespace, self.port, settings))
        log_path = tmp / f"{self.name}-engine{run}.log"
        with open(log_path, "w") as log:  # noqa: ASYNC230 (the child's stderr: a real file)
            async with engine_process(config, log) as engine:
                self.memory.watch(engine)
                yield engine

    async def wait_bound(self, binds: int) -> None:
        await until(f"{binds} binds up", lambda: len(self.sim.bound_links()) >= binds, 30)

    # --- reading Redis (a thread: the simulator shares this loop) ------------------------------

    async def redis(self, method: str, *args: Any) -> Any:
        return await trio.to_thread.run_sync(lambda: getattr(self.client, method)(*args))

    async def outbound_idle(self) -> bool:
        """Both lanes and the schedule (retries, thank-yous) empty."""
        k = self.keys

        def read() -> bool:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.xlen(k.lane(Lane.BULK))
                pipe.xlen(k.lane(Lane.TRANSACTIONAL))
                pipe.zcard(k.queue_delayed)
                return not any(pipe.execute())

        return await trio.to_thread.run_sync(read)

    async def inbound_idle(self) -> bool:
        """Every recorded inbound message acted on by the router."""

        def read() -> bool:
            try:
                groups: list[dict[str, Any]] = self.client.xinfo_groups(self.keys.inbound)
            except redis.ResponseError:
                return True  # no stream yet: nothing came in
            return all(int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 for g in groups)

        return await trio.to_thread.run_sync(read)

    async def appeal_state(self, appeal: int) -> dict[str, str]:
        raw: dict[bytes, bytes] = await self.redis("hgetall", self.keys.appeal_state(appeal))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def signatures(self, appeal: int) -> int:
        return int(await self.redis("get", self.keys.appeal_count(appeal)) or 0)

    # --- reading the ledger --------------------------------------------------------------------

    def delivered(self, count: int, before: Counter[int] | None = None) -> Delivery:
        """Missed and duplicated deliveries to handsets 0..count-1 since ``before`` (an
        earlier ``sim.ledger.mt_counts()``)."""
        now = self.sim.ledger.mt_counts()
        missed = duplicated = 0
        for number in range(FIRST, FIRST + count):
            got = now[number] - (before[number] if before else 0)
            missed += got == 0
            duplicated += max(0, got - 1)
        return Delivery(count, missed, duplicated)

    def reached(self, count: int, before: Counter[int] | None = None) -> int:
        """How many of handsets 0..count-1 have received something since ``before``."""
        return count - self.delivered(count, before).missed


@asynccontextmanager
async def open_stage(
    options: Options, name: str, sim_config: SimulatorConfig, *, url: str | None = None
) -> AsyncIterator[Stage]:
    """A fresh namespace on ``url`` (default the shared Redis), the simulator listening on
    loopback; the namespace is deleted on the way out."""
    url = url or options.url
    keys = Keys(f"faults{name.replace('-', '')}{uuid.uuid4().hex[:8]}")
    client = redis.Redis.from_url(url, socket_timeout=10.0)
    try:
        async with (
            open_store(StoreConfig(url=url, namespace=keys.namespace)) as store,
            open_simulator(sim_config) as sim,
        ):
            _, port = await sim.listen("127.0.0.1", 0)
            stage = Stage(options, keys, client, store, sim, port, name)
            async with trio.open_nursery() as nursery:
                await nursery.start(stage.memory.run)
                yield stage
                nursery.cancel_scope.cancel()
    finally:
        try:
            wipe(client, keys)
        except (redis.RedisError, OSError) as exc:
            options.say(f"{name}: could not delete namespace {keys.namespace}: {exc}")
        client.close()
