"""An engine bound to an in-process simulator over loopback TCP, on the test's Redis namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis
import trio

from counters import Lane, OutboundMessage, Store
from counters.records import encode
from engine.app import Engine, open_engine
from engine.config import Config, parse_config
from engine.metrics import Metrics
from engine.routers import LoggingRouter, Router, RouterFactory
from smpp.pdu import EnquireLink
from smpp.simulator.config import SimulatorConfig
from smpp.simulator.server import Simulator, open_simulator
from smpp.transport import ConnectionLost
from tests.waiting import wait_for

BIND = """
[[carriers.sim.binds]]
name = "sim-{n}"
port = {port}
system_id = "{system_id}"
password = "pw"
window = {window}
rate = {rate}
burst = {burst}
response_timeout = {response_timeout}
reconnect_initial = 0.05
reconnect_max = 0.5
"""


def engine_config(
    port: int,
    namespace: str,
    *,
    binds: int = 1,
    system_ids: list[str] | None = None,
    rate: float = 5000.0,
    burst: int = 50,
    window: int = 256,
    response_timeout: float = 2.0,
    extra: str = "",
    redis_extra: str = "",
) -> Config:
    """A configuration bound to the simulator on ``port``; ``extra`` is TOML added before
    the tables, ``redis_extra`` lines added to ``[redis]``."""
    ids = system_ids or ["ja"] * binds
    text = (
        f'short_code = "4777"\n{extra}\n[redis]\nnamespace = "{namespace}"\n{redis_extra}\n'
        "[carriers.sim]\n"
    )
    for n, system_id in enumerate(ids, 1):
        text += BIND.format(
            n=n,
            port=port,
            system_id=system_id,
            window=window,
            rate=rate,
            burst=burst,
            response_timeout=response_timeout,
        )
    return parse_config(text)


@dataclass
class Rig:
    sim: Simulator
    engine: Engine
    store: Store
    metrics: Metrics

    async def push(self, count: int, *, lane: Lane = Lane.BULK, first: int = 0) -> None:
        async with trio.open_nursery() as nursery:
            for i in range(first, first + count):
                message = OutboundMessage(ref=f"m{i}", to=f"+{31600000000 + i}", text=f"msg {i}")
                nursery.start_soon(self.store.queues.push, lane, message)

    async def wait_delivered(self, count: int, timeout: float = 10.0) -> None:
        """Until the simulator's ledger holds ``count`` records (accepted messages)."""
        await wait_until_delivered(self.sim, count, timeout=timeout)

    def received(self, first: int, count: int) -> list[int]:
        return [len(self.sim.ledger.received(31600000000 + i)) for i in range(first, first + count)]

    def finished(self, result: str = "sent", lane: Lane = Lane.BULK) -> int:
        """Messages the outbox finished as ``result`` and wrote back to Redis."""
        return finished(self.metrics, result, lane)

    async def wait_finished(
        self, count: int, result: str = "sent", lane: Lane = Lane.BULK, timeout: float = 10.0
    ) -> None:
        """Until the outbox has finished ``count`` messages as ``result``, and that write is
        complete in Redis (entries acknowledged and deleted, statuses recorded)."""
        await wait_finished(self.engine, self.metrics, count, result, lane, timeout=timeout)

    async def settle(self, count: int, timeout: float = 10.0) -> None:
        """The positive end of an outbound test: ``count`` messages finished as sent, then an
        enquire_link answered on every bind. The simulator answers in order, so every submit
        the engine wrote before it is in the ledger: count the ledger now, and a duplicate
        or a stray send shows."""
        await self.wait_finished(count, timeout=timeout)
        await mark_binds(self.engine, timeout=timeout)

    async def wait_answered(self, count: int, timeout: float = 10.0) -> None:
        """Until the engine has answered ``count`` deliver_sm with OK. It answers after Redis
        has the message (or knows it for a redelivery, or has applied the receipt)."""
        await wait_for(
            lambda: self.sim.stats.deliveries["ok"] >= count,
            on=self.sim.centre.changed,
            timeout=timeout,
            what=f"{count} deliver_sm answered",
        )

    def inbound(self, kind: str = "mo") -> int:
        """Inbound messages by ``kind`` (mo: recorded for the router; redelivery, flood, ...)."""
        labels = {"carrier": "sim", "kind": kind}
        return int(self.metrics.registry.get_sample_value("ja_inbox_messages_total", labels) or 0)

    async def wait_routed(self, count: int, timeout: float = 10.0) -> None:
        """Until the router has routed (and acknowledged) ``count`` inbound messages."""
        with trio.fail_after(timeout):
            await self.engine.router_loop.wait_routed(count)

    async def settle_inbound(self, answered: int, timeout: float = 10.0) -> None:
        """The positive end of an inbound test: ``answered`` deliver_sm answered OK, then
        everything they recorded routed. Nothing is left to arrive: count now."""
        await self.wait_answered(answered, timeout)
        await self.wait_routed(self.inbound("mo"), timeout)


def finished(metrics: Metrics, result: str = "sent", lane: Lane = Lane.BULK) -> int:
    """Messages an engine finished as ``result`` (by its ``ja_outbox_messages_total``)."""
    labels = {"lane": lane.value, "result": result}
    return int(metrics.registry.get_sample_value("ja_outbox_messages_total", labels) or 0)


async def wait_finished(
    engine: Engine,
    metrics: Metrics,
    count: int,
    result: str = "sent",
    lane: Lane = Lane.BULK,
    *,
    timeout: float = 10.0,
) -> None:
    """Until ``engine`` has finished ``count`` messages as ``result`` and written them back."""
    await wait_for(
        lambda: finished(metrics, result, lane) >= count,
        on=engine.outbox.writeback.written,
        timeout=timeout,
        what=f"{count} {lane.value} messages finished as {result}",
    )
    with trio.fail_after(timeout):
        await engine.outbox.flush()  # the write that counted them is complete


async def mark_binds(engine: Engine, timeout: float = 10.0) -> None:
    """An enquire_link answered on every bind that is up: whatever the engine wrote before
    it has reached the simulator (a marker after the sends that must not happen). A
    connection that drops instead takes whatever the simulator had not read with it."""
    with trio.fail_after(timeout):
        for bind in engine.binds:
            if bind.conn is not None and bind.is_up():
                try:
                    await bind.conn.request(EnquireLink())
                except ConnectionLost:
                    pass


async def wait_until_delivered(sim: Simulator, count: int, timeout: float = 10.0) -> None:
    """Until the simulator's ledger holds ``count`` records."""
    await wait_for(
        lambda: sim.ledger.count() >= count,
        on=sim.centre.changed,
        timeout=timeout,
        what=f"{count} records in the ledger",
    )


async def fill(store: Store, count: int) -> None:
    """Queue ``count`` bulk messages with one pipeline from a worker thread. Call it before
    the rig starts: filling while the engine sends would stall the event loop the engine and
    the simulator share, and skew the simulator's view of the send rate."""
    key = store.keys.lane(Lane.BULK)

    def run() -> None:
        client = redis.Redis.from_url(store.url)
        try:
            with client.pipeline(transaction=False) as pipe:
                for i in range(count):
                    message = OutboundMessage(
                        ref=f"m{i}", to=f"+{31600000000 + i}", text=f"msg {i}"
                    )
                    pipe.xadd(key, {"e": encode(message)})
                pipe.execute()
        finally:
            client.close()

    await trio.to_thread.run_sync(run)


@asynccontextmanager
async def rig(
    store: Store,
    sim_config: SimulatorConfig,
    *,
    router: Router | RouterFactory | None = LoggingRouter,
    **engine_options: object,
) -> AsyncIterator[Rig]:
    """The simulator and an engine bound to it; the engine logs what comes in unless given
    another ``router`` (None: the configured one, the campaigns)."""
    async with open_simulator(sim_config) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        config = engine_config(port, store.keys.namespace, **engine_options)  # type: ignore[arg-type]
        metrics = Metrics()
        async with open_engine(config, metrics=metrics, store=store, router=router) as engine:
            with trio.fail_after(10):
                await engine.wait_bound()
            yield Rig(sim, engine, store, metrics)
