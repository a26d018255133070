"""The message centre over memory streams, in virtual time: binds, submits, receipts,
replies, query/cancel, holding, retries."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from smpp.codec import decode_pdu, encode_pdu
from smpp.constants import CommandStatus, MessageState, TlvTag
from smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    CancelSM,
    DataSM,
    DistributionList,
    EnquireLink,
    QuerySM,
    SmeAddress,
    SubmitMulti,
    SubmitSM,
    SubmitSMResp,
)
from smpp.receipt import receipt_from_fields
from smpp.segment import Reassembler, parse_udh
from smpp.simulator import Kind, format_receipt, open_simulator
from smpp.state import SessionState
from smpp.text import decode_text
from smpp.tlv import Tlv
from smpp.transport import BindError
from tests.simulator.helpers import BINDS, FIRST, Inbox, esme, make_config

Clock = trio.testing.MockClock


def submit(i: int = 0, *, receipt: int = 1, text: bytes = b"Teken: vrijlating nu") -> SubmitSM:
    return SubmitSM(
        source_addr="4000",
        destination_addr=str(FIRST + i),
        registered_delivery=receipt,
        short_message=text,
    )


@pytest.mark.parametrize(
    ("system_id", "password", "bind", "status"),
    [
        ("ja", "nope", "transceiver", CommandStatus.ESME_RBINDFAIL),
        ("who", "pw", "transceiver", CommandStatus.ESME_RBINDFAIL),
        ("tx", "pw", "receiver", CommandStatus.ESME_RINVBNDSTS),
    ],
)
async def test_bind_refusals(
    autojump_clock: Clock, system_id: str, password: str, bind: str, status: int
) -> None:
    accounts = [
        {"system_id": "ja", "password": "pw"},
        {"system_id": "tx", "password": "pw", "bind_types": ["transmitter"]},
    ]
    async with (
        open_simulator(make_config(accounts=accounts)) as sim,
        esme(sim, bind=None) as (c, _),
    ):
        with pytest.raises(BindError) as info:
            await c.bind(BINDS[bind](system_id=system_id, password=password))
        assert info.value.status == status
        assert sum(sim.stats.binds.values()) == 1
        assert sim.stats.binds["ok"] == 0


async def test_bind_limit_and_bind_state_rules(autojump_clock: Clock) -> None:
    config = make_config(accounts=[{"system_id": "ja", "password": "pw", "max_binds": 1}])
    async with open_simulator(config) as sim, esme(sim, bind="receiver") as (rx, _):
        assert sim.account().binds == 1
        async with esme(sim, bind=None) as (second, _):
            with pytest.raises(BindError) as info:
                await second.bind(BindTransceiver(system_id="ja", password="pw"))
        assert info.value.status == CommandStatus.ESME_RALYBND
        # A receiver may not submit; a second bind on one connection is ESME_RALYBND.
        result = await rx.request(EnquireLink())
        assert result.command_status == 0
        rx.session._set_state(SessionState.BOUND_TRX)  # lie to our session to send anyway
        refused = await rx.request(submit())
        assert refused.command_status == CommandStatus.ESME_RINVBNDSTS


async def test_submits_get_unique_ids_and_receipts(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim, esme(sim) as (conn, inbox):
        start = trio.current_time()
        ids = []
        for i in range(20):
            result = await conn.request(submit(i))
            assert isinstance(result.response, SubmitSMResp)
            ids.append(result.response.message_id)
        assert len(set(ids)) == 20
        await inbox.wait_for(20)
        assert trio.current_time() - start == pytest.approx(1.0, abs=0.05)
        first = inbox.receipts[0]
        tlvs = {t.tag: t.value for t in first.tlvs}
        receipt = receipt_from_fields(first.short_message, tlvs)
        assert receipt is not None
        assert receipt.message_id == ids[0]
        assert receipt.state is MessageState.DELIVERED
        assert receipt.text == "Teken: vrijlating nu"
        assert first.source_addr == str(FIRST)
        assert first.destination_addr == "4000"
        assert sim.stats.receipts["DELIVRD"] == 20
        await trio.sleep(0.1)  # the last deliver_sm_resp reaches the simulator
        assert sim.stats.deliveries["ok"] == 20


async def test_receipt_text_matches_the_protocol_layer(autojump_clock: Clock) -> None:
    from datetime import UTC, datetime

    from smpp.receipt import format_receipt_text

    when = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
    ours = format_receipt("1a", MessageState.UNDELIVERABLE, "2503040506", "2503040506", "hello")
    theirs = format_receipt_text(
        message_id="1a", submit_date=when, done_date=when, stat="UNDELIV", err="001", text="hello"
    )
    assert ours == theirs


@pytest.mark.parametrize(
    ("registered", "outcome", "expected"),
    [(0, "DELIVRD", 0), (1, "UNDELIV", 1), (2, "DELIVRD", 0), (2, "REJECTD", 1)],
)
async def test_receipts_only_when_asked(
    autojump_clock: Clock, registered: int, outcome: str, expected: int
) -> None:
    config = make_config(receipts={"outcomes": {outcome: 1.0}})
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        await conn.request(submit(receipt=registered))
        await trio.sleep(10)
        assert len(inbox.receipts) == expected
        if expected and outcome != "DELIVRD":
            tlvs = {t.tag: t.value for t in inbox.receipts[0].tlvs}
            assert tlvs[TlvTag.NETWORK_ERROR_CODE][0] == 3
            assert f"stat:{outcome}".encode() in inbox.receipts[0].short_message


@pytest.mark.slow
async def test_outcome_mix_follows_the_weights(autojump_clock: Clock) -> None:
    config = make_config(receipts={"outcomes": {"DELIVRD": 0.8, "UNDELIV": 0.2}})
    async with open_simulator(config) as sim, esme(sim, window=256) as (conn, inbox):
        async with trio.open_nursery() as nursery:
            for i in range(1000):
                nursery.start_soon(conn.request, submit(i))
        await inbox.wait_for(1000)
        share = sim.stats.receipts["UNDELIV"] / 1000
        assert 0.15 < share < 0.25


async def test_ja_replies_reach_the_esme_and_the_ledger(autojump_clock: Clock) -> None:
    config = make_config(handsets={"reply_probability": 1.0}, time_compression=3600.0)
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        for i in range(50):
            await conn.request(submit(i, receipt=0))
        await trio.sleep(24 * 3600 / 3600 * 10)  # ten "days" at 3600x
        assert len(inbox.mo) == 50
        senders = {p.source_addr for p in inbox.mo}
        assert senders == {str(FIRST + i) for i in range(50)}
        assert {p.destination_addr for p in inbox.mo} == {"4000"}
        variants = set(config.handsets.variants)
        assert all(decode_text(p.short_message, p.data_coding) in variants for p in inbox.mo)
        sent = sim.ledger.sent(FIRST + 3)
        assert len(sent) == 1
        assert sent[0].kind == "ja"
        assert sent[0].acked_at is not None
        assert sent[0].attempts == 1
        received = sim.ledger.received(str(FIRST + 3))
        assert [r.text for r in received] == ["Teken: vrijlating nu"]


async def test_replies_are_deterministic_across_arrival_order(autojump_clock: Clock) -> None:
    config = make_config(
        handsets={"reply_probability": 0.5, "duplicate_probability": 0.3},
        time_compression=3600.0,
    )

    async def run(order: list[int]) -> list[tuple[str, str]]:
        async with open_simulator(config) as sim, esme(sim) as (conn, _):
            for i in order:
                await conn.request(submit(i, receipt=0))
            await trio.sleep(1000)
            return sorted((r.number, r.kind + r.text) for r in sim.ledger if r.direction == "mo")

    forward = await run(list(range(100)))
    backward = await run(list(reversed(range(100))))
    assert forward == backward
    assert 30 < len({n for n, _ in forward}) < 70


async def test_stop_opts_out_and_the_ledger_catches_later_messages(autojump_clock: Clock) -> None:
    config = make_config(handsets={"stop_probability": 1.0}, time_compression=3600.0)
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        await conn.request(submit(7, receipt=0))
        await inbox.wait_for(1)
        assert decode_text(inbox.mo[0].short_message, 0) in config.handsets.opt_out_words
        assert sim.handsets.is_opted_out(7)
        assert sim.ledger.received_after_opt_out() == []
        await conn.request(submit(7, receipt=0))
        late = sim.ledger.received_after_opt_out()
        assert [r.number for r in late] == [str(FIRST + 7)]
        await trio.sleep(1000)
        assert len(inbox.mo) == 1  # an opted-out handset stays silent


async def test_long_reply_arrives_in_parts(autojump_clock: Clock) -> None:
    config = make_config(handsets={"long_probability": 1.0}, time_compression=3600.0)
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        await conn.request(submit(1, receipt=0))
        await trio.sleep(1000)
        assert len(inbox.mo) > 1
        assert all(p.esm_class & 0x40 for p in inbox.mo)
        reassembler = Reassembler()
        texts = []
        for pdu in inbox.mo:
            info, body = parse_udh(pdu.short_message)
            assert info is not None
            done = reassembler.add(pdu.source_addr, info, body, now=0.0)
            if done is not None:
                texts.append(decode_text(done, pdu.data_coding))
        assert len(texts) == 1
        assert texts[0] in config.handsets.long_texts
        assert sim.stats.replies["long"] == 1
        assert sim.ledger.sent(FIRST + 1)[0].attempts == len(inbox.mo)


async def test_strangers_reply_from_numbers_never_messaged(autojump_clock: Clock) -> None:
    config = make_config(
        handsets={"reply_probability": 1.0, "stranger_probability": 1.0}, time_compression=3600.0
    )
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        await conn.request(submit(1, receipt=0))
        await trio.sleep(1000)
        numbers = {int(p.source_addr) for p in inbox.mo}
        assert len(numbers) == 2
        stranger = max(numbers)
        assert stranger >= FIRST + 1000
        assert sim.ledger.received(stranger) == []
        assert sim.ledger.sent(stranger)[0].kind == "stranger"


async def test_query_and_cancel(autojump_clock: Clock) -> None:
    config = make_config(receipts={"delay": 60.0})
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        first = (await conn.request(submit(1))).response
        second = (await conn.request(submit(2))).response
        assert isinstance(first, SubmitSMResp)
        assert isinstance(second, SubmitSMResp)
        query = await conn.request(QuerySM(message_id=first.message_id))
        assert query.response.message_state == MessageState.ENROUTE  # type: ignore[attr-defined]
        cancel = await conn.request(
            CancelSM(message_id=second.message_id, destination_addr=str(FIRST + 2))
        )
        assert cancel.command_status == 0
        await trio.sleep(61)
        query = await conn.request(QuerySM(message_id=first.message_id))
        assert query.response.message_state == MessageState.DELIVERED  # type: ignore[attr-defined]
        assert len(query.response.final_date) == 16  # type: ignore[attr-defined]
        query = await conn.request(QuerySM(message_id=second.message_id))
        assert query.response.message_state == MessageState.DELETED  # type: ignore[attr-defined]
        assert len(inbox.receipts) == 1  # no receipt for the cancelled one
        again = await conn.request(CancelSM(message_id=first.message_id))
        assert again.command_status == CommandStatus.ESME_RCANCELFAIL
        unknown = await conn.request(QuerySM(message_id="zz-not-ours"))
        assert unknown.command_status == CommandStatus.ESME_RQUERYFAIL
        assert [r.kind for r in sim.ledger.for_number(FIRST + 2)] == ["mt", "cancelled"]


async def test_data_sm_and_submit_multi(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim, esme(sim) as (conn, inbox):
        payload = Tlv(TlvTag.MESSAGE_PAYLOAD, b"via data-sm")
        data = await conn.request(
            DataSM(
                source_addr="4000",
                destination_addr=str(FIRST),
                registered_delivery=1,
                tlvs=(payload,),
            )
        )
        assert data.command_status == 0
        dests = (
            SmeAddress(destination_addr=str(FIRST + 1)),
            SmeAddress(destination_addr=str(FIRST + 2)),
            SmeAddress(destination_addr="not a number"),
            DistributionList(dl_name="friends"),
        )
        multi = await conn.request(
            SubmitMulti(
                source_addr="4000", dest_addresses=dests, registered_delivery=1, short_message=b"hi"
            )
        )
        assert multi.command_status == 0
        resp = multi.response
        assert len(resp.unsuccess_smes) == 2  # type: ignore[attr-defined]
        await inbox.wait_for(3)
        ids = {receipt_from_fields(p.short_message, {}).message_id for p in inbox.receipts}  # type: ignore[union-attr]
        assert resp.message_id in ids  # type: ignore[attr-defined]
        assert len(ids) == 2  # one id for both submit_multi destinations
        assert sim.ledger.received(FIRST)[0].text == "via data-sm"


async def test_receipts_wait_for_a_receiver_bind(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim, esme(sim, bind="transmitter") as (tx, tx_box):
        for i in range(5):
            await tx.request(submit(i))
        await trio.sleep(10)
        assert len(sim.account().outbox) == 5
        async with esme(sim, bind="receiver") as (_rx, rx_inbox):
            await rx_inbox.wait_for(5)
        assert tx_box.pdus == []


async def test_hold_queue_is_bounded(autojump_clock: Clock) -> None:
    config = make_config(delivery={"hold_limit": 3})
    async with open_simulator(config) as sim, esme(sim, bind="transmitter") as (tx, _):
        for i in range(5):
            await tx.request(submit(i))
        await trio.sleep(10)
        assert len(sim.account().outbox) == 3
        assert sim.account().outbox.dropped == 2
        # The queue is full: the carrier pushes back on submits until it drains.
        refused = await tx.request(submit(9))
        assert refused.command_status == CommandStatus.ESME_RMSGQFUL
        assert sim.account().queue_full == 1


async def test_a_slow_receiver_is_pushed_back_only_past_the_queue_limit(
    autojump_clock: Clock,
) -> None:
    # The client takes its receipts one at a time and slowly (here: never answers within the
    # test), so they queue past hold_limit: while it is bound none is dropped, and its
    # submits are refused only once queue_limit are waiting.
    config = make_config(delivery={"hold_limit": 3, "queue_limit": 6, "window": 1})
    slow = Inbox(lambda _pdu: -1)
    async with open_simulator(config) as sim, esme(sim, inbox=slow) as (conn, _):
        for i in range(6):
            await conn.request(submit(i))
        await trio.sleep(3)  # every receipt is due (1 s); the deliver_sm timeout is 5 s
        outbox = sim.account().outbox
        # One sent and unanswered, one taken by the pump waiting for its slot, four queued
        # (before: three queued, three dropped, and every submit refused from here on).
        assert (len(outbox), outbox.dropped) == (4, 0)
        for i in range(6, 9):
            accepted = await conn.request(submit(i))
            assert accepted.command_status == 0
        await trio.sleep(1.5)
        assert (len(outbox), outbox.dropped) == (7, 0)
        refused = await conn.request(submit(9))
        assert refused.command_status == CommandStatus.ESME_RMSGQFUL
        assert sim.account().queue_full == 1


async def test_temporary_errors_are_retried_with_backoff(autojump_clock: Clock) -> None:
    refusals = {"n": 0}

    def answer(_pdu: object) -> int:
        refusals["n"] += 1
        return CommandStatus.ESME_RX_T_APPN if refusals["n"] <= 2 else 0

    config = make_config(delivery={"retry_initial": 2.0, "retry_factor": 3.0})
    async with open_simulator(config) as sim, esme(sim, inbox=Inbox(answer)) as (conn, inbox):
        start = trio.current_time()
        await conn.request(submit())
        await inbox.wait_for(1)
        # receipt after 1 s, refused, retried after 2 s, refused, retried after 6 s.
        assert trio.current_time() - start == pytest.approx(9.0, abs=0.05)
        await trio.sleep(0.1)
        assert sim.stats.deliveries == {"retried": 2, "ok": 1}


async def test_unanswered_deliveries_time_out_and_give_up(autojump_clock: Clock) -> None:
    config = make_config(
        delivery={"max_attempts": 3, "response_timeout": 5.0, "retry_initial": 1.0}
    )
    inbox = Inbox(lambda _pdu: -1)  # never answers
    async with open_simulator(config) as sim, esme(sim, inbox=inbox) as (conn, _):
        await conn.request(submit())
        await trio.sleep(60)
        assert sim.stats.deliveries == {"retried": 2, "given_up": 1}


async def test_permanent_error_is_not_retried(autojump_clock: Clock) -> None:
    inbox = Inbox(lambda _pdu: CommandStatus.ESME_RX_P_APPN)
    async with open_simulator(make_config()) as sim, esme(sim, inbox=inbox) as (conn, _):
        await conn.request(submit())
        await trio.sleep(60)
        assert sim.stats.deliveries == {"rejected": 1}


async def test_unbind_both_ways(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim:
        async with esme(sim) as (conn, _):
            await conn.unbind()
            assert conn.closed
        await trio.sleep(1)
        assert sim.account().binds == 0
        async with esme(sim) as (conn, _):
            assert await sim.unbind_clients() == 1
            await conn.wait_closed()
        await trio.sleep(1)
        assert sim.account().binds == 0


async def test_unbound_connection_is_closed_after_bind_timeout(autojump_clock: Clock) -> None:
    async with open_simulator(make_config(bind_timeout=5.0)) as sim:
        async with esme(sim, bind=None) as (conn, _):
            await conn.wait_closed()
            assert trio.current_time() == pytest.approx(5.0, abs=0.1)
        assert sim.stats.faults["bind_timeout"] == 1


async def test_silent_client_is_dropped_by_keepalive(autojump_clock: Clock) -> None:
    """A client that stops answering: enquire_link unanswered, the connection closes."""
    config = make_config(enquire_link_interval=10.0, delivery={"response_timeout": 5.0})
    # Times here are whole seconds from 0, which the keepalive's arithmetic keeps exact.
    async with open_simulator(config) as sim:
        stream = sim.connect_memory()
        await stream.send_all(encode_pdu(BindTransceiver(system_id="ja", password="pw"), 1))
        with trio.move_on_after(60):
            while await stream.receive_some(65536):
                pass
        assert trio.current_time() == pytest.approx(15.0, abs=0.5)
        await trio.sleep(1)
        assert sim.links == set()
        await stream.aclose()


async def test_garbage_gets_generic_nack(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim, esme(sim) as (conn, _):
        stream = sim.connect_memory()
        unknown = (
            (16).to_bytes(4, "big")
            + (0x0000_0999).to_bytes(4, "big")
            + bytes(4)
            + (9).to_bytes(4, "big")
        )
        await stream.send_all(unknown)
        data = await stream.receive_some(65536)
        frame = decode_pdu(bytes(data))
        assert frame.command_id == 0x80000000
        assert frame.command_status == CommandStatus.ESME_RINVCMDID
        assert frame.sequence_number == 9
        await stream.send_all(encode_pdu(EnquireLink(), 10))
        frame = decode_pdu(bytes(await stream.receive_some(65536)))
        assert frame.sequence_number == 10  # the connection carries on
        await stream.aclose()
        await trio.sleep(1)
        assert sim.stats.rejected_pdus == 1
        assert (await conn.request(EnquireLink())).command_status == 0


async def test_data_sm_to_receiver_is_refused(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim, esme(sim, bind="receiver") as (conn, _):
        conn.session._set_state(SessionState.BOUND_TRX)
        result = await conn.request(DataSM(destination_addr=str(FIRST)))
        assert result.command_status == CommandStatus.ESME_RINVBNDSTS
        conn.session._set_state(SessionState.OPEN)
        second = await conn.request(BindReceiver(system_id="ja", password="pw"))
        assert second.command_status == CommandStatus.ESME_RALYBND


async def test_ledger_counts_kinds(autojump_clock: Clock) -> None:
    config = make_config(handsets={"reply_probability": 1.0}, time_compression=3600.0)
    async with open_simulator(config) as sim, esme(sim) as (conn, _):
        for i in range(10):
            await conn.request(submit(i, receipt=0))
        await trio.sleep(1000)
        assert sim.ledger.count(Kind.MT) == 10
        assert sim.ledger.count(Kind.JA) == 10
