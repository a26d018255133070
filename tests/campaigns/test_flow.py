"""The urgent-action flow end to end: simulator handsets, the engine, real Redis.

Every check compares the engine's Redis state with the simulator's ledger (what each handset
received and sent), after the whole system has settled (a positive signal: nothing due in the
simulator, every MO routed or counted as a redelivery, every lane and the schedule empty).
"""

from __future__ import annotations

import re
from collections import Counter

import trio

from counters import Lane, Store
from engine.campaigns.model import AppealSpec
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.ledger import Kind, Record
from tests.engine.support import Rig, rig
from tests.waiting import wait_for

FIRST = 31600000000
EXTRA = """
[inbox]
redelivery_window = 0.2
[campaigns]
thank_delay = 0.5
"""
APPEAL = "Urgente actie: stop de marteling van een gevangene. Antwoord JA om te tekenen."
SIGN_KINDS = {"ja", "duplicate", "stranger"}


def sim_config(count: int, **handsets: object) -> SimulatorConfig:
    options: dict[str, object] = {
        "count": count,
        "reply_probability": 0.5,
        "stop_probability": 0.05,
        "help_probability": 0.03,
        "unrelated_probability": 0.03,
        "long_probability": 0.0,
        "duplicate_probability": 0.2,
        "stranger_probability": 0.05,
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


async def subscribe(store: Store, first: int, count: int, language: str = "nl") -> None:
    numbers = [f"+{first + i}" for i in range(count)]
    await store.subscribers.subscribe_many(numbers, source="test", language=language)


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
    centre = r.sim.centre
    if len(centre.scheduler) or any(len(a.outbox) for a in centre.accounts):
        return False
    if r.engine.router_loop.routed + redeliveries(r) < mo_count(r):
        return False
    queues = r.store.queues
    lanes = [await queues.length(lane) for lane in Lane]
    jobs = await r.store.appeals.jobs()
    return sum(lanes) == 0 and await queues.scheduled() == 0 and not jobs


def changes(r: Rig) -> list[trio.lowlevel.ParkingLot]:
    """Where what ``settled`` reads changes: the simulator (MO sent, deliveries answered),
    the router, the outbox's writes to Redis, the fan-out's rounds."""
    engine = r.engine
    lots = [r.sim.centre.changed, engine.router_loop.changed, engine.outbox.writeback.written]
    return [*lots, engine.fanout.stepped]


async def wait_settled(r: Rig, timeout: float = 60.0) -> None:
    try:
        await wait_for(lambda: settled(r), on=changes(r), timeout=timeout)
        return
    except AssertionError:
        pass
    centre = r.sim.centre
    queues = r.store.queues
    state = {
        "scheduler": len(centre.scheduler),
        "sim outbox": [len(a.outbox) for a in centre.accounts],
        "routed": r.engine.router_loop.routed,
        "redeliveries": redeliveries(r),
        "mo": mo_count(r),
        "lanes": [await queues.length(lane) for lane in Lane],
        "scheduled": await queues.scheduled(),
        "jobs": await r.store.appeals.jobs(),
    }
    raise AssertionError(f"not settled after {timeout} s: {state}")


def mt_to(r: Rig, prefix: str) -> Counter[str]:
    """How many MT each number received whose text starts with ``prefix``."""
    return Counter(
        rec.number for rec in r.sim.ledger if rec.direction == "mt" and rec.text.startswith(prefix)
    )


def signers_in_ledger(r: Rig) -> set[str]:
    return {rec.number for rec in r.sim.ledger if rec.kind in SIGN_KINDS}


async def test_appeal_signatures_thanks_stop_help_and_outcome(store: Store) -> None:
    count = 400
    await subscribe(store, FIRST, count)
    async with rig(store, sim_config(count), router=None, extra=EXTRA) as r:
        campaigns = r.engine.campaigns
        spec = AppealSpec(title="Gevangene X", text=APPEAL, public=True)
        view = await campaigns.create(spec)
        assert (view.encoding, view.segments) == ("GSM 03.38", 1)
        await campaigns.send(view.id)
        await wait_for(
            lambda: r.sim.ledger.count(Kind.MT) >= count,
            on=r.sim.centre.changed,
            timeout=30,
            what="the appeal sent",
        )
        await wait_settled(r)

        # The appeal reached every subscriber exactly once.
        assert set(mt_to(r, "Urgente actie").values()) == {1}
        assert len(mt_to(r, "Urgente actie")) == count

        # Signatures: exactly the distinct numbers that sent a JA (strangers included: public).
        signers = signers_in_ledger(r)
        total = await store.appeals.count(view.id)
        assert total == len(signers)
        assert any(int(n) >= FIRST + count for n in signers), "no stranger signed"

        # One thank-you per signer, carrying a count between its position and the total.
        thanks = [rec for rec in r.sim.ledger if rec.direction == "mt" and "getekend" in rec.text]
        assert Counter(rec.number for rec in thanks) == Counter(signers)
        position = await positions(store, view.id)
        for rec in thanks:
            others = int(re.search(r"en ([\d.]+) anderen", rec.text)[1].replace(".", ""))  # type: ignore[index]
            assert position[rec.number] <= others + 1 <= total

        # A public appeal's strangers are thanked and invited, not subscribed.
        strangers = {n for n in signers if int(n) >= FIRST + count}
        invited = {rec.number for rec in thanks if "Vaker meedoen?" in rec.text}
        assert invited == strangers
        ids = await store.subscribers.ids([f"+{n}" for n in sorted(strangers)], create=False)
        assert {active for active, _ in await store.subscribers.consent_states(ids)} == {False}

        # STOP: confirmed once, nothing after the confirmation.
        stoppers = {rec.number for rec in r.sim.ledger if rec.kind == "stop"}
        assert stoppers
        confirmations = mt_to(r, "Je bent afgemeld")
        assert confirmations == Counter(stoppers)
        after = [
            rec for rec in after_confirmation(r) if not rec.text.startswith("Je bent afgemeld")
        ]
        assert after == []

        # HELP is answered.
        helpers = {rec.number for rec in r.sim.ledger if rec.kind == "help"}
        assert helpers <= set(mt_to(r, "Amnesty: SMS-acties"))

        # Outcome: once, to exactly the signers who have not opted out since.
        ids = await store.subscribers.ids([f"+{n}" for n in sorted(signers)], create=False)
        states = await store.subscribers.consent_states(ids)
        expected = {
            n for n, (_, stopped) in zip(sorted(signers), states, strict=True) if not stopped
        }
        await campaigns.outcome(view.id, "Goed nieuws: gevangene X is vrijgelaten. Dank!")
        await wait_settled(r)
        assert mt_to(r, "Goed nieuws") == Counter(expected)
        shown = await campaigns.show(view.id)
        assert shown.outcome.sent == len(expected)
        assert (shown.outcome.skipped, shown.outcome.remaining) == (len(signers) - len(expected), 0)
        assert (shown.fanout.sent, shown.fanout.remaining) == (count, 0)
        # The live picture per appeal: receipts, duplicates, opt-outs since it went out.
        assert shown.receipts["appeal"] == {"DELIVERED": count}
        thanked = sum(1 for rec in r.sim.ledger if rec.direction == "mt" and "getekend" in rec.text)
        assert shown.receipts["thanks"] == {"DELIVERED": thanked}
        duplicates = r.metrics.registry.get_sample_value(
            "ja_campaign_ja_total", {"result": "duplicate"}
        )
        assert shown.duplicates == duplicates
        assert 0.5 <= shown.thank_you_delay < 5  # thank_delay is 0.5 s here
        assert shown.opt_outs == len({rec.number for rec in r.sim.ledger if rec.kind == "stop"})


async def positions(store: Store, appeal: int) -> dict[str, int]:
    """Each signer's number -> its 1-based position in the signature stream."""
    signatures = await store.appeals.signatures(appeal, count=100_000)
    numbers = await store.subscribers.numbers([s.subscriber for s in signatures])
    return {n.lstrip("+"): i for i, n in enumerate(numbers, 1) if n}


def after_confirmation(r: Rig) -> list[Record]:
    """MT each opted-out handset received after its STOP confirmation."""
    confirmed: dict[str, float] = {}
    for rec in r.sim.ledger:
        if rec.direction == "mt" and rec.text.startswith("Je bent afgemeld"):
            confirmed.setdefault(rec.number, rec.t)
    return [
        rec
        for rec in r.sim.ledger
        if rec.direction == "mt" and rec.number in confirmed and rec.t > confirmed[rec.number]
    ]
