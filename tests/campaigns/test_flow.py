"""The urgent-action flow end to end: simulator handsets, the engine, real Redis."""

from __future__ import annotations

import trio

from counters import Lane, Store
from engine.campaigns.model import AppealSpec
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.ledger import Kind
from tests.engine.support import Rig, rig

FIRST = 31600000000
EXTRA = """
[inbox]
redelivery_window = 0.2
[campaigns]
thank_delay = 0.5
"""


def sim_config(count: int, **handsets: object) -> SimulatorConfig:
    options: dict[str, object] = {
        "count": count,
        "reply_probability": 0.5,
        "stop_probability": 0.05,
        "help_probability": 0.02,
        "unrelated_probability": 0.02,
        "long_probability": 0.0,
        "duplicate_probability": 0.2,
        "stranger_probability": 0.0,
        "delay_min": 0.0,
        "delay_median": 300.0,
        "delay_sigma": 0.5,
        "duplicate_gap": 1200.0,
    }
    options.update(handsets)
    return SimulatorConfig(
        port=0,
        time_compression=600.0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(delay=0.1, jitter=0.1, outcomes={"DELIVRD": 1.0}),
        handsets=HandsetConfig(**options),  # type: ignore[arg-type]
    )


async def subscribe(store: Store, count: int) -> None:
    numbers = [f"+{FIRST + i}" for i in range(count)]
    await store.subscribers.subscribe_many(numbers, source="test", language="nl")


async def wait_for(predicate: object, timeout: float = 30.0) -> None:
    assert callable(predicate)
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


def redeliveries(r: Rig) -> int:
    """MO the inbox took for a carrier's redelivery (same text, same number, within the
    window): in these tests a handset's reply to a thank-you can repeat its JA that fast."""
    value = r.metrics.registry.get_sample_value(
        "ja_inbox_messages_total", {"carrier": "sim", "kind": "redelivery"}
    )
    return int(value or 0)


def mo_count(r: Rig) -> int:
    return sum(1 for rec in r.sim.ledger if rec.direction == "mo")


async def settled(r: Rig) -> bool:
    """Nothing left anywhere: no reply or receipt due in the simulator, every MO routed,
    every lane and the schedule empty."""
    centre = r.sim.centre
    if len(centre.scheduler) or any(len(a.outbox) for a in centre.accounts):
        return False
    if r.engine.router_loop.routed + redeliveries(r) < mo_count(r):
        return False
    queues = r.store.queues
    lanes = [await queues.length(lane) for lane in Lane]
    return sum(lanes) == 0 and await queues.scheduled() == 0


async def wait_settled(r: Rig, timeout: float = 60.0) -> None:
    with trio.move_on_after(timeout):
        while not await settled(r):
            await trio.sleep(0.05)
        return
    centre = r.sim.centre
    queues = r.store.queues
    state = {
        "scheduler": len(centre.scheduler),
        "sim outbox": [len(a.outbox) for a in centre.accounts],
        "routed": r.engine.router_loop.routed,
        "mo": mo_count(r),
        "lanes": [await queues.length(lane) for lane in Lane],
        "pending": [await queues.pending(lane) for lane in Lane],
        "scheduled": await queues.scheduled(),
    }
    raise AssertionError(f"not settled after {timeout} s: {state}")


def first_ja(r: Rig) -> set[str]:
    return {rec.number for rec in r.sim.ledger if rec.kind == "ja"}


async def test_appeal_ja_thanks_and_stop(store: Store) -> None:
    count = 400
    await subscribe(store, count)
    async with rig(store, sim_config(count), router=None, extra=EXTRA) as r:
        campaigns = r.engine.campaigns
        view = await campaigns.create(
            AppealSpec(title="Test", text="Stop de marteling. Antwoord JA.")
        )
        await campaigns.send(view.id)
        await wait_for(lambda: r.sim.ledger.count(Kind.MT) >= count)
        await wait_settled(r)
        signers = first_ja(r)
        assert await store.appeals.count(view.id) == len(signers)
        shown = await campaigns.show(view.id)
        assert shown.signatures == len(signers)
