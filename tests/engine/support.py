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
from smpp.simulator.config import SimulatorConfig
from smpp.simulator.server import Simulator, open_simulator

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
) -> Config:
    ids = system_ids or ["ja"] * binds
    text = f'short_code = "4777"\n{extra}\n[redis]\nnamespace = "{namespace}"\n[carriers.sim]\n'
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

    async def wait_delivered(self, count: int, timeout: float) -> None:
        with trio.fail_after(timeout):
            while self.sim.ledger.count() < count:
                await trio.sleep(0.02)

    def received(self, first: int, count: int) -> list[int]:
        return [len(self.sim.ledger.received(31600000000 + i)) for i in range(first, first + count)]


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
