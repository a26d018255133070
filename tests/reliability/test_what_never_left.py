"""What provably never reached the carrier is sent again, and nothing the carrier accepted
is sent twice: stopping between recording an attempt and the submit, and multi-part messages
whose parts get different answers."""

from __future__ import annotations

from collections import Counter

import pytest

from counters import Lane, OutboundMessage, Store
from engine.app import open_engine
from engine.metrics import Metrics
from engine.routers import LoggingRouter
from smpp.simulator.config import (
    AccountConfig,
    FaultConfig,
    HandsetConfig,
    ReceiptConfig,
    SimulatorConfig,
)
from smpp.simulator.ledger import Kind
from smpp.simulator.server import Simulator, open_simulator
from tests.engine.support import engine_config
from tests.waiting import wait_for

FIRST = 31600000000
LONG_TEXT = "Urgent action: " + "x" * 400  # three parts


def sim_config(faults: FaultConfig | None = None) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=1000, reply_probability=0.0, stranger_probability=0.0),
        faults=faults or FaultConfig(),
    )


async def push(store: Store, lane: Lane, count: int, text: str = "") -> None:
    for i in range(count):
        message = OutboundMessage(ref=f"m{i}", to=f"+{FIRST + i}", text=text or f"thanks {i}")
        await store.queues.push(lane, message)


def mt_per_number(sim: Simulator) -> Counter[str]:
    return Counter(rec.number for rec in sim.ledger if rec.direction == "mt")


async def drained(store: Store) -> bool:
    waiting = [await store.queues.length(lane) for lane in Lane]
    return sum(waiting) == 0 and await store.deliveries.in_flight() == 0


async def test_stopping_between_the_attempt_and_the_submit_loses_nothing(store: Store) -> None:
    """20 thank-yous are admitted at once (burst 20) and recorded as attempts, then wait
    for the wire (2 a second). Stopping now used to leave 19 "outcome unknown" records that
    the transactional policy ("drop") threw away on restart: 19 thank-yous never sent."""
    await push(store, Lane.TRANSACTIONAL, 20)
    async with open_simulator(sim_config()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        slow = engine_config(port, store.keys.namespace, rate=2.0, burst=20)
        async with open_engine(slow, metrics=Metrics(), store=store, router=LoggingRouter):
            await wait_for(lambda: sim.ledger.count(Kind.MT) >= 1, on=sim.centre.changed)
        sent_before = sim.ledger.count(Kind.MT)
        assert sent_before < 20
        assert await store.deliveries.in_flight() == 0  # nothing left "outcome unknown"

        fast = engine_config(port, store.keys.namespace)
        async with open_engine(
            fast, metrics=Metrics(), store=store, router=LoggingRouter
        ) as engine:
            await wait_for(lambda: sim.ledger.count(Kind.MT) >= 20, on=sim.centre.changed)
            await wait_for(lambda: drained(store), on=engine.outbox.writeback.written)
        assert mt_per_number(sim) == Counter({str(FIRST + i): 1 for i in range(20)})


@pytest.mark.parametrize("status", ["ESME_RTHROTTLED", "ESME_RSYSERR"])
async def test_only_the_parts_not_accepted_are_sent_again(store: Store, status: str) -> None:
    """A third of all submits are refused (throttled: sent again from memory; a system
    error: retried later through Redis). Each handset still gets each of the three parts
    exactly once, all with the same concatenation reference."""
    faults = FaultConfig(error_fraction=0.3, error_status=status)
    await push(store, Lane.BULK, 40, LONG_TEXT)
    extra = "[outbox]\nretry_initial = 0.05\nretry_max = 0.2\nmax_attempts = 30\n"
    async with open_simulator(sim_config(faults)) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        config = engine_config(port, store.keys.namespace, extra=extra)
        async with open_engine(
            config, metrics=Metrics(), store=store, router=LoggingRouter
        ) as engine:
            await wait_for(lambda: sim.ledger.count(Kind.MT) >= 120, on=sim.centre.changed)
            await wait_for(lambda: drained(store), on=engine.outbox.writeback.written)
        assert sum(sim.stats.faults.values()) > 0  # the fault did happen
        assert mt_per_number(sim) == Counter({str(FIRST + i): 3 for i in range(40)})
        for i in range(40):  # three different parts, not one part twice
            assert len({rec.text for rec in sim.ledger.received(FIRST + i)}) == 3
