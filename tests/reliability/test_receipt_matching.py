"""A receipt is matched to its own message, never to another one whose id reads the same in
the other base: found by the fault suite when receipts overtook their submit_sm_resp
(receipt 1233 matched message 4D1, and a failure would mark the wrong number undeliverable)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from counters import SentRecord, Store
from engine.bind import CarrierBind
from engine.campaigns.model import AppealSpec
from engine.inbox import Inbox
from engine.metrics import Metrics
from smpp.constants import EsmClass, Ton
from smpp.pdu import DeliverSM
from smpp.receipt import format_receipt_text
from smpp.simulator.ledger import Kind
from tests.campaigns.test_flow import FIRST, subscribe
from tests.campaigns.test_inbound_rules import EXTRA, quiet_sim, send_mo
from tests.engine.support import engine_config, rig
from tests.waiting import wait_for

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class _Carrier:
    """What the inbox reads of the bind a receipt came on."""

    carrier = "sim"
    name = "sim-1"


def record(to: str, appeal: int) -> SentRecord:
    return SentRecord(ref=f"r{appeal}", to=to, lane="bulk", bind="sim-1", appeal=appeal,
                      kind="appeal")  # fmt: skip


def receipt(message_id: str, handset: str, stat: str = "UNDELIV") -> DeliverSM:
    text = format_receipt_text(message_id=message_id, submit_date=NOW, done_date=NOW, stat=stat)
    return DeliverSM(source_addr=handset, source_addr_ton=Ton.INTERNATIONAL,
                     destination_addr="4777", esm_class=int(EsmClass.SMSC_DELIVERY_RECEIPT),
                     short_message=text.encode())  # fmt: skip


async def test_an_early_receipt_waits_for_its_own_message(store: Store) -> None:
    inbox = Inbox(store, engine_config(9, store.keys.namespace), Metrics())
    bind = cast(CarrierBind, _Carrier())
    inbox.sent("4D1", record("+31600000001", appeal=1))  # 0x4D1 == 1233

    await inbox._receipts(bind, [receipt("1233", "31600000002")])  # its resp is still out
    assert inbox.appeal_receipts == {}  # not counted against appeal 1's message

    inbox.sent("1233", record("+31600000002", appeal=2))  # now the resp comes
    assert inbox.appeal_receipts == {(2, "appeal_receipt_UNDELIVERABLE"): 1}
    # The failure is applied to the number the receipt came from, not to +31600000001.
    assert [late.to for _, late in inbox._late] == ["+31600000002"]


async def test_a_receipt_in_the_other_base_still_matches_its_message(store: Store) -> None:
    """Carriers that answer submit_sm in hex and write receipts in decimal are matched."""
    inbox = Inbox(store, engine_config(9, store.keys.namespace), Metrics())
    bind = cast(CarrierBind, _Carrier())
    inbox.sent("4D1", record("+31600000001", appeal=1))
    await inbox._receipts(bind, [receipt("1233", "31600000001", stat="DELIVRD")])
    assert inbox.appeal_receipts == {(1, "appeal_receipt_DELIVERED"): 1}


async def test_a_ja_to_an_appeal_not_yet_marked_received_still_signs_it(store: Store) -> None:
    """After a crash the record of who received the appeal can lag what the handsets have
    (it is written once the carrier took the message). A JA then signs the newest open
    appeal queued for that subscriber instead of being answered "no appeal" (found by the
    fault suite: up to 34 signatures lost per kill -9 during a burst)."""
    await subscribe(store, FIRST, 10)
    slow = EXTRA  # thank-yous quickly; the bind sends 1 message a second
    async with rig(store, quiet_sim(), router=None, extra=slow, rate=1.0, burst=1) as r:
        appeal = await r.engine.campaigns.create(AppealSpec(title="A", text="Appeal A: JA"))
        await r.engine.campaigns.send(appeal.id)
        await wait_for(lambda: r.sim.ledger.count(Kind.MT) >= 1, on=r.sim.centre.changed)
        last = FIRST + 9  # queued for, not yet sent (1 a second): nothing marked received
        assert await store.appeals.last_received_many([10]) == [0]
        send_mo(r.sim, last, "JA")
        await r.engine.router_loop.wait_routed(1)
        assert await store.appeals.count(appeal.id) == 1
