"""Who may write to the short code: a number is a person; a short code or an alphanumeric
name is a service, acknowledged and never answered; anything else is refused with
ESME_RINVSRCADR and never stored as a subscriber."""

from __future__ import annotations

import pytest
import trio

from counters import Store
from engine.bind import CarrierBind
from engine.inbox import Inbox
from engine.routing import SenderKind, e164_from_smpp, sender_kind
from smpp.constants import CommandStatus, Ton
from smpp.pdu import DataSM, DeliverSM
from tests.campaigns.test_inbound_rules import quiet_sim
from tests.engine.support import rig


@pytest.mark.parametrize(
    ("address", "ton", "kind"),
    [
        ("31612345678", Ton.INTERNATIONAL, SenderKind.NUMBER),
        ("0612345678", Ton.NATIONAL, SenderKind.NUMBER),
        ("+31612345678", Ton.UNKNOWN, SenderKind.NUMBER),
        ("4777", Ton.NETWORK_SPECIFIC, SenderKind.SHORT_CODE),
        ("Amnesty", Ton.ALPHANUMERIC, SenderKind.ALPHANUMERIC),
        ("", Ton.INTERNATIONAL, SenderKind.INVALID),
        ("", Ton.ALPHANUMERIC, SenderKind.INVALID),
        ("ABC", Ton.INTERNATIONAL, SenderKind.INVALID),
        ("+", Ton.UNKNOWN, SenderKind.INVALID),
        ("12", Ton.UNKNOWN, SenderKind.INVALID),
        ("3161234567890123456", Ton.INTERNATIONAL, SenderKind.INVALID),
        ("bad\nname", Ton.ALPHANUMERIC, SenderKind.INVALID),
        ("AVeryLongSenderName", Ton.ALPHANUMERIC, SenderKind.INVALID),
    ],
)
def test_sender_kinds(address: str, ton: int, kind: SenderKind) -> None:
    assert sender_kind(e164_from_smpp(address, ton, "31"), ton) is kind


async def test_only_numbers_are_recorded_and_bad_senders_are_refused(store: Store) -> None:
    async with rig(store, quiet_sim()) as r:
        (link,) = r.sim.bound_links()
        assert link.conn is not None

        async def deliver(address: str, ton: int) -> int:
            pdu = DeliverSM(
                source_addr=address,
                source_addr_ton=ton,
                destination_addr="4777",
                short_message=b"JA",
            )
            assert link.conn is not None
            with trio.fail_after(10):
                return (await link.conn.request(pdu)).command_status

        assert await deliver("", Ton.INTERNATIONAL) == CommandStatus.ESME_RINVSRCADR
        assert await deliver("ABC", Ton.INTERNATIONAL) == CommandStatus.ESME_RINVSRCADR
        assert await deliver("x\ny", Ton.ALPHANUMERIC) == CommandStatus.ESME_RINVSRCADR
        assert await deliver("Amnesty", Ton.ALPHANUMERIC) == CommandStatus.ESME_ROK
        assert await deliver("4777", Ton.NETWORK_SPECIFIC) == CommandStatus.ESME_ROK
        assert await deliver("31612345678", Ton.INTERNATIONAL) == CommandStatus.ESME_ROK
        with trio.fail_after(10):
            await r.engine.router_loop.wait_routed(1)
        log = await store.deliveries.inbound_log()
        assert [record.source for _, record in log] == ["+31612345678"]
        kinds = {
            sample.labels["kind"]: sample.value
            for metric in r.metrics.registry.collect()
            if metric.name == "ja_inbox_messages"
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.labels.get("kind", "").startswith("s")
        }
        assert kinds == {
            "sender_invalid": 3.0,
            "sender_alphanumeric": 1.0,
            "sender_short_code": 1.0,
        }


async def test_a_message_that_breaks_the_inbox_is_contained(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met by one message (forced here) must not end the bind or the engine, nor take
    its batch down with it: the others are recorded, the one is answered ESME_RX_T_APPN (the
    carrier keeps it and tries again later)."""
    original = Inbox._record

    def record(self: Inbox, bind: CarrierBind, pdu: DeliverSM | DataSM) -> object:
        if isinstance(pdu, DeliverSM) and pdu.short_message == b"poison":
            raise ValueError("a case no code foresaw")
        return original(self, bind, pdu)

    monkeypatch.setattr(Inbox, "_record", record)
    async with rig(store, quiet_sim()) as r:
        (link,) = r.sim.bound_links()
        conn = link.conn
        assert conn is not None
        statuses: dict[bytes, int] = {}

        async def deliver(number: int, text: bytes) -> None:
            pdu = DeliverSM(source_addr=str(number), source_addr_ton=Ton.INTERNATIONAL,
                            destination_addr="4777", short_message=text)  # fmt: skip
            statuses[text] = (await conn.request(pdu)).command_status

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:  # together: one batch, most likely
                for i, text in enumerate((b"JA", b"poison", b"STOP")):
                    nursery.start_soon(deliver, 31612345670 + i, text)
            await r.engine.router_loop.wait_routed(2)
        assert statuses == {
            b"JA": CommandStatus.ESME_ROK,
            b"poison": CommandStatus.ESME_RX_T_APPN,
            b"STOP": CommandStatus.ESME_ROK,
        }
        assert r.engine.binds[0].is_up()
        assert (
            r.metrics.registry.get_sample_value(
                "ja_inbox_messages_total", {"carrier": "sim", "kind": "error"}
            )
            == 1.0
        )
