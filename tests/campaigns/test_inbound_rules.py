"""Routing decisions driven by hand-written MO: latest appeal, crashes, dead letters, windows."""

from __future__ import annotations

import pytest
import trio

from counters import InboundRecord, Lane, Store
from engine.app import Engine, open_engine
from engine.campaigns.appeals import Campaigns
from engine.campaigns.fanout import FanOut
from engine.campaigns.model import AppealSpec
from engine.campaigns.router import CampaignRouter
from engine.campaigns.settings import CampaignConfig
from engine.metrics import Metrics
from engine.routers import Batch, LoggingRouter, RouterContext
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.handsets import Reply
from smpp.simulator.ledger import Kind
from smpp.simulator.server import Simulator, open_simulator
from tests.campaigns.test_flow import FIRST, subscribe
from tests.engine.support import engine_config, rig
from tests.waiting import wait_for

EXTRA = """
[inbox]
redelivery_window = 0.2
[campaigns]
thank_delay = 0.2
"""


def quiet_sim(count: int = 1000) -> SimulatorConfig:
    """Handsets that never answer on their own: the test writes every MO itself."""
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=count, reply_probability=0.0, stop_probability=0.0,
                               help_probability=0.0, unrelated_probability=0.0,
                               long_probability=0.0, stranger_probability=0.0),
    )  # fmt: skip


def send_mo(sim: Simulator, number: int, text: str) -> None:
    reply = Reply(0.0, Kind.JA, text, number)
    sim.centre.send_mo(sim.account("ja"), reply, "4777", (0, 0), trio.current_time())


async def wait_mt(sim: Simulator, count: int) -> None:
    await wait_for(lambda: sim.ledger.count(Kind.MT) >= count, on=sim.centre.changed,
                   timeout=20, what=f"{count} messages sent")  # fmt: skip


async def wait_received(engine: Engine, numbers: list[int], appeals: list[int]) -> None:
    """Until the engine has noted (in Redis) that subscriber ``numbers[i]`` received
    ``appeals[i]``: it does so when it writes the sent messages back."""

    async def noted() -> bool:
        return await engine.store.appeals.last_received_many(numbers) == appeals

    await wait_for(noted, on=engine.outbox.writeback.written, what=f"{appeals} received")


async def test_bare_ja_signs_the_latest_appeal_the_handset_received(store: Store) -> None:
    await subscribe(store, FIRST, 10, "nl")
    await subscribe(store, FIRST + 10, 10, "en")
    async with rig(store, quiet_sim(), router=None, extra=EXTRA) as r:
        campaigns = r.engine.campaigns
        first = await campaigns.create(AppealSpec(title="A", text="Appeal A: reply JA"))
        await campaigns.send(first.id)
        await wait_mt(r.sim, 20)
        second = await campaigns.create(
            AppealSpec(title="B", text="Appeal B: reply YES", language="en", audience_language="en")
        )
        await campaigns.send(second.id)
        await wait_mt(r.sim, 30)
        # The engine notes who received what once the carrier took it.
        await wait_received(r.engine, [1, 11], [first.id, second.id])
        send_mo(r.sim, FIRST, "Ja!")  # received only A
        send_mo(r.sim, FIRST + 10, "yes")  # received A, then B
        send_mo(r.sim, FIRST + 11, f"JA {first.id}")  # an explicit reference wins
        await r.wait_routed(3)
        assert await store.appeals.count(first.id) == 2
        assert await store.appeals.count(second.id) == 1
        assert await store.appeals.has_signed(second.id, 11)


async def test_ja_for_no_open_appeal_gets_a_hint_not_a_signature(store: Store) -> None:
    await subscribe(store, FIRST, 1)
    async with rig(store, quiet_sim(), router=None, extra=EXTRA) as r:
        send_mo(r.sim, FIRST, "JA")
        send_mo(r.sim, FIRST + 1, "Jsa")  # a near miss from someone else
        await wait_mt(r.sim, 2)
        texts = {rec.number: rec.text for rec in r.sim.ledger if rec.direction == "mt"}
        assert texts[str(FIRST)].startswith("Dank je, maar er loopt nu geen oproep")
        assert texts[str(FIRST + 1)].startswith("Bedoelde je JA?")
        assert await store.appeals.ids() == []


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing contains it."""


class CrashAfterEffects(CampaignRouter):
    """Does all of a batch's work, then dies before the batch is acknowledged."""

    async def route(self, batch: Batch, *, again: bool) -> None:
        await super().route(batch, again=again)
        raise Crash


async def test_router_crash_after_signing_sends_no_second_reply(store: Store) -> None:
    await subscribe(store, FIRST, 5)
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        config = engine_config(port, store.keys.namespace, extra=EXTRA)
        with pytest.RaisesGroup(Crash, allow_unwrapped=True, flatten_subgroups=True):
            async with open_engine(config, store=store, router=CrashAfterEffects) as engine:
                view = await engine.campaigns.create(
                    AppealSpec(title="T", text="T: JA", public=True)
                )
                await engine.campaigns.send(view.id)
                await wait_mt(sim, 5)
                await wait_received(engine, [1], [view.id])
                send_mo(sim, FIRST, "JA")
                send_mo(sim, FIRST + 1, "STOP")
                send_mo(sim, FIRST + 2, "HELP")
                send_mo(sim, 31699999999, "JA")  # a stranger on a public appeal
                await trio.sleep_forever()  # until the router dies
        assert await store.appeals.count(view.id) == 2
        async with open_engine(config, store=store, metrics=Metrics()) as engine:
            # The restarted router reads the unacknowledged batch again and finishes it.
            await engine.router_loop.wait_routed(4)
            await wait_mt(sim, 5 + 4)  # thank-you x2, STOP confirmation, HELP answer

            async def drained() -> bool:  # the lane empties as the replies are written back
                queues = store.queues
                return not await queues.scheduled() and not await queues.length(Lane.TRANSACTIONAL)

            await wait_for(drained, on=engine.outbox.writeback.written, what="replies finished")
        replies = sorted(
            (rec.number, rec.text.split(" ")[0])
            for rec in sim.ledger
            if rec.direction == "mt" and not rec.text.startswith("T:")
        )
        assert replies == sorted(
            [(str(FIRST), "Dank"), (str(FIRST + 1), "Je"), (str(FIRST + 2), "Amnesty:"),
             ("31699999999", "Dank")]
        )  # fmt: skip
        assert await store.appeals.count(view.id) == 2


class PoisonRouter(LoggingRouter):
    async def route(self, batch: Batch, *, again: bool) -> None:
        if any(record.text == "poison" for _, record in batch):
            raise ValueError("cannot digest this")
        await super().route(batch, again=again)


async def test_a_message_the_router_cannot_handle_is_dead_lettered(store: Store) -> None:
    async with rig(store, quiet_sim(), router=PoisonRouter) as r:
        send_mo(r.sim, FIRST, "hello")
        send_mo(r.sim, FIRST + 1, "poison")
        send_mo(r.sim, FIRST + 2, "world")
        await r.wait_routed(3)
        router = r.engine.router
        assert isinstance(router, PoisonRouter)
        assert sorted(record.text for record in router.seen) == ["hello", "world"]
        dead = await store.deliveries.dead_letters()
        assert [(record.text, error) for _, error, record in dead] == [
            ("poison", "ValueError: cannot digest this")
        ]
        assert r.metrics.registry.get_sample_value("ja_router_dead_letters_total") == 1


async def test_a_second_ja_after_the_window_is_routed_and_counted_as_duplicate(
    store: Store,
) -> None:
    await subscribe(store, FIRST, 1)
    async with rig(store, quiet_sim(), router=None, extra=EXTRA) as r:
        view = await r.engine.campaigns.create(AppealSpec(title="T", text="T: JA", public=True))
        await r.engine.campaigns.send(view.id)
        send_mo(r.sim, FIRST, "JA")
        send_mo(r.sim, FIRST, "JA")  # within the window: the carrier's redelivery
        await r.settle_inbound(2)  # both answered: one routed, one a redelivery
        await trio.sleep(0.3)  # let the window (0.2 s on Redis's clock) pass: time is the point
        send_mo(r.sim, FIRST, "JA")
        await r.wait_routed(2)
        ja = r.metrics.registry.get_sample_value
        assert ja("ja_campaign_ja_total", {"result": "accepted"}) == 1
        assert ja("ja_campaign_ja_total", {"result": "duplicate"}) == 1
        assert ja("ja_inbox_messages_total", {"carrier": "sim", "kind": "redelivery"}) == 1
        log = await store.deliveries.inbound_log()
        assert [record.text for _, record in log] == ["JA", "JA"]  # kept after routing


async def test_join_subscribes_with_a_welcome_and_stop_start_round_trip(store: Store) -> None:
    async with rig(store, quiet_sim(), router=None, extra=EXTRA) as r:
        send_mo(r.sim, FIRST, "AAN")  # a TV viewer joins in Dutch
        send_mo(r.sim, FIRST + 1, "join")  # and one in English
        await wait_mt(r.sim, 2)
        ids = await store.subscribers.ids([f"+{FIRST}", f"+{FIRST + 1}"], create=False)
        assert await store.subscribers.consent_states(ids) == [(True, False), (True, False)]
        assert await store.subscribers.languages(ids) == ["nl", "en"]
        texts = {rec.number: rec.text for rec in r.sim.ledger if rec.direction == "mt"}
        assert texts[str(FIRST)].startswith("Welkom bij het SMS-netwerk van Amnesty")
        assert texts[str(FIRST + 1)].startswith("Welcome to the Amnesty SMS network")
        send_mo(r.sim, FIRST + 1, "Stop. Thank you")
        await wait_mt(r.sim, 3)
        assert await store.subscribers.consent_states(ids[1:]) == [(False, True)]
        send_mo(r.sim, FIRST + 1, "STOP")  # already out: not confirmed a second time
        send_mo(r.sim, FIRST + 1, "START")
        await wait_mt(r.sim, 4)
        assert await store.subscribers.consent_states(ids[1:]) == [(True, False)]
        mine = [rec.text.split()[0] for rec in r.sim.ledger if rec.number == str(FIRST + 1)]
        assert [t for t in mine if t in ("Welcome", "You")] == ["Welcome", "You", "Welcome"]
        history = await store.subscribers.history(f"+{FIRST + 1}")
        assert [e.kind.value for e in history] == ["subscribe", "unsubscribe", "unsubscribe",
                                                   "subscribe"]  # fmt: skip


async def test_only_phone_numbers_get_automatic_answers(store: Store) -> None:
    config = engine_config(2775, store.keys.namespace, extra=EXTRA)
    router = CampaignRouter(RouterContext(store, config, Metrics()))

    def record(source: str) -> InboundRecord:
        return InboundRecord(source=source, destination="4777", text="HELP", carrier="sim",
                             bind="sim-1", received_at=1.0)  # fmt: skip

    batch = [("1-1", record("AMNESTY")), ("1-2", record("4777")), ("1-3", record("+31612345678"))]
    await router.route(batch, again=False)
    await store.queues.ensure_groups()
    queued = await store.queues.read(Lane.TRANSACTIONAL, "test", count=10)
    assert [(q.message.to, q.message.kind) for q in queued] == [("+31612345678", "help")]


async def test_consent_is_checked_when_the_message_goes_out(store: Store) -> None:
    """Queued while the engine was down; one recipient opts out before it comes back."""
    await subscribe(store, FIRST, 3)
    campaigns = Campaigns(store, CampaignConfig())
    view = await campaigns.create(AppealSpec(title="T", text="T: antwoord JA"))
    await campaigns.send(view.id)
    fanout = FanOut(store, CampaignConfig(), Metrics())
    await store.queues.ensure_groups()
    assert await fanout.expand(view.id, "appeal") == 3
    await store.subscribers.unsubscribe(f"+{FIRST + 1}", source="test")
    async with rig(store, quiet_sim(), router=None, extra=EXTRA) as r:
        await wait_mt(r.sim, 2)

        async def counted() -> bool:  # per appeal, as the refusal is written back
            return (await campaigns.show(view.id)).fanout.refused >= 1

        await wait_for(counted, on=r.engine.outbox.writeback.written, what="one refused")
        got = sorted(rec.number for rec in r.sim.ledger if rec.direction == "mt")
        assert got == [str(FIRST), str(FIRST + 2)]
        refused = r.metrics.registry.get_sample_value(
            "ja_outbox_messages_total", {"lane": "bulk", "result": "opted_out"}
        )
        assert refused == 1


async def test_a_permanent_delivery_failure_opts_the_subscriber_out(store: Store) -> None:
    await subscribe(store, FIRST, 2)
    sim = quiet_sim()
    sim = SimulatorConfig(
        port=0,
        accounts=sim.accounts,
        receipts=ReceiptConfig(delay=0.05, jitter=0.0, outcomes={"UNDELIV": 1.0}),
        handsets=sim.handsets,
    )
    async with rig(store, sim, router=None, extra=EXTRA) as r:
        view = await r.engine.campaigns.create(AppealSpec(title="T", text="T: antwoord JA"))
        await r.engine.campaigns.send(view.id)
        ids = await store.subscribers.ids([f"+{FIRST}", f"+{FIRST + 1}"], create=False)
        # A receipt follows the submit_sm_resp that taught the inbox its message id: it is
        # applied (the number opted out) before it is answered.
        await r.wait_answered(2)
        assert await store.subscribers.consent_states(ids) == [(False, True)] * 2
        history = await store.subscribers.history(f"+{FIRST}")
        assert (history[-1].kind.value, history[-1].source) == ("unsubscribe", "carrier")
