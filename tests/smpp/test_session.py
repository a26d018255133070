"""The sans-IO session: legal moves per state, window pairing, timeouts, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp.codec import encode_pdu
from smpp.constants import CommandId, CommandStatus
from smpp.errors import LocalProtocolError, RemoteProtocolError
from smpp.events import (
    NEED_DATA,
    ConnectionClosed,
    PduRejected,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnexpectedResponse,
)
from smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSM,
    EnquireLink,
    GenericNack,
    Outbind,
    SubmitSM,
    SubmitSMResp,
    Unbind,
)
from smpp.session import Session
from smpp.state import Role, SessionState
from tests.smpp.helpers import SessionPair


def test_bind_moves_both_sides_to_bound_trx() -> None:
    pair = SessionPair()
    pair.bind()
    assert pair.esme.state is SessionState.BOUND_TRX
    assert pair.mc.state is SessionState.BOUND_TRX


@pytest.mark.parametrize(
    ("bind", "state"),
    [
        (BindTransmitter(), SessionState.BOUND_TX),
        (BindReceiver(), SessionState.BOUND_RX),
        (BindTransceiver(), SessionState.BOUND_TRX),
    ],
)
def test_each_bind_kind_reaches_its_state(
    bind: BindTransmitter | BindReceiver | BindTransceiver, state: SessionState
) -> None:
    pair = SessionPair()
    (request,) = pair.send(pair.esme, bind)
    assert isinstance(request, RequestReceived)
    (response,) = pair.deliver(pair.esme, pair.mc.respond(request))
    assert isinstance(response, ResponseReceived)
    assert pair.esme.state is state
    assert pair.mc.state is state


def test_failed_bind_stays_open() -> None:
    pair = SessionPair()
    (request,) = pair.send(pair.esme, BindTransceiver(password="wrong"))
    assert isinstance(request, RequestReceived)
    data = pair.mc.respond(request, status=CommandStatus.ESME_RBINDFAIL)
    (response,) = pair.deliver(pair.esme, data)
    assert isinstance(response, ResponseReceived)
    assert response.command_status == CommandStatus.ESME_RBINDFAIL
    assert pair.esme.state is SessionState.OPEN
    assert pair.mc.state is SessionState.OPEN


def test_response_is_paired_with_its_request() -> None:
    pair = SessionPair()
    pair.bind()
    first = SubmitSM(destination_addr="31600000001", short_message=b"one")
    second = SubmitSM(destination_addr="31600000002", short_message=b"two")
    (req1,) = pair.send(pair.esme, first, now=1.0)
    (req2,) = pair.send(pair.esme, second, now=2.0)
    assert isinstance(req1, RequestReceived)
    assert isinstance(req2, RequestReceived)
    # Answered out of order: each answer still finds its own request.
    (resp2,) = pair.deliver(pair.esme, pair.mc.respond(req2, SubmitSMResp(message_id="B")))
    (resp1,) = pair.deliver(pair.esme, pair.mc.respond(req1, SubmitSMResp(message_id="A")))
    assert isinstance(resp1, ResponseReceived)
    assert isinstance(resp2, ResponseReceived)
    assert (resp1.request, resp1.response, resp1.sent_at) == (first, SubmitSMResp("A"), 1.0)
    assert (resp2.request, resp2.response, resp2.sent_at) == (second, SubmitSMResp("B"), 2.0)
    assert pair.esme.in_flight == 0


def test_submit_on_receiver_bind_gets_rinvbndsts() -> None:
    pair = SessionPair()
    (request,) = pair.send(pair.esme, BindReceiver())
    assert isinstance(request, RequestReceived)
    pair.deliver(pair.esme, pair.mc.respond(request))
    # Our own session refuses to send it...
    with pytest.raises(LocalProtocolError, match="can't send submit_sm in state BOUND_RX"):
        pair.esme.send(SubmitSM())
    # ...and a peer that sends it anyway is answered with ESME_RINVBNDSTS.
    (event,) = pair.deliver(pair.mc, encode_pdu(SubmitSM(), 77))
    assert isinstance(event, PduRejected)
    assert event.command_status == CommandStatus.ESME_RINVBNDSTS
    (answer,) = pair.deliver(pair.esme, pair.mc.reject(event))
    assert isinstance(answer, UnexpectedResponse)
    assert answer.response == SubmitSMResp()
    assert answer.command_status == CommandStatus.ESME_RINVBNDSTS


def test_second_bind_gets_ralybnd() -> None:
    pair = SessionPair()
    pair.bind()
    (event,) = pair.deliver(pair.mc, encode_pdu(BindTransceiver(), 9))
    assert isinstance(event, PduRejected)
    assert event.command_status == CommandStatus.ESME_RALYBND


def test_submit_before_bind_is_refused_locally() -> None:
    with pytest.raises(LocalProtocolError, match="state OPEN"):
        Session(Role.ESME).send(SubmitSM())


def test_mc_cannot_send_deliver_sm_on_transmitter_bind() -> None:
    pair = SessionPair()
    (request,) = pair.send(pair.esme, BindTransmitter())
    assert isinstance(request, RequestReceived)
    pair.deliver(pair.esme, pair.mc.respond(request))
    with pytest.raises(LocalProtocolError):
        pair.mc.send(DeliverSM())


def test_outbind_needs_no_response() -> None:
    pair = SessionPair()
    (event,) = pair.send(pair.mc, Outbind(system_id="smsc", password="pw"))
    assert isinstance(event, RequestReceived)
    assert pair.mc.in_flight == 0


def test_window_is_enforced() -> None:
    pair = SessionPair(window=2)
    pair.bind()
    pair.esme.send(SubmitSM())
    pair.esme.send(SubmitSM())
    assert not pair.esme.can_send()
    with pytest.raises(LocalProtocolError, match="window full"):
        pair.esme.send(SubmitSM())


def test_sequence_numbers_wrap_and_skip_outstanding() -> None:
    session = Session(Role.ESME, window=4)
    session._next_seq = 0x7FFFFFFF
    first = session.send(BindTransceiver())
    second = session.send(EnquireLink())
    assert int.from_bytes(first[12:16], "big") == 0x7FFFFFFF
    assert int.from_bytes(second[12:16], "big") == 1


def test_expire_times_out_only_old_requests_oldest_first() -> None:
    pair = SessionPair()
    pair.bind()
    pair.esme.send(SubmitSM(short_message=b"a"), now=10.0)
    pair.esme.send(SubmitSM(short_message=b"b"), now=12.0)
    assert pair.esme.expire(now=14.9, timeout=5.0) == []
    (expired,) = pair.esme.expire(now=15.0, timeout=5.0)
    assert isinstance(expired, RequestTimedOut)
    assert expired.request == SubmitSM(short_message=b"a")
    assert pair.esme.in_flight == 1
    assert pair.esme.oldest_sent_at() == 12.0


def test_generic_nack_answers_the_request() -> None:
    pair = SessionPair()
    pair.bind()
    data = pair.esme.send(SubmitSM())
    seq = int.from_bytes(data[12:16], "big")
    (event,) = pair.deliver(
        pair.esme, encode_pdu(GenericNack(), seq, CommandStatus.ESME_RINVCMDLEN)
    )
    assert isinstance(event, ResponseReceived)
    assert event.response == GenericNack()
    assert pair.esme.in_flight == 0


def test_response_of_wrong_type_does_not_settle_the_request() -> None:
    pair = SessionPair()
    pair.bind()
    data = pair.esme.send(SubmitSM())
    seq = int.from_bytes(data[12:16], "big")
    (event,) = pair.deliver(pair.esme, encode_pdu(BindTransceiverResp(), seq))
    assert isinstance(event, UnexpectedResponse)
    assert pair.esme.in_flight == 1


def test_unknown_command_gets_generic_nack_and_session_carries_on() -> None:
    pair = SessionPair()
    pair.bind()
    bogus = (16).to_bytes(4, "big") + (0x77).to_bytes(4, "big") + bytes(4) + (5).to_bytes(4, "big")
    events = pair.deliver(pair.mc, bogus + encode_pdu(EnquireLink(), 6))
    assert isinstance(events[0], PduRejected)
    assert events[0].command_status == CommandStatus.ESME_RINVCMDID
    assert isinstance(events[1], RequestReceived)
    answer = pair.mc.reject(events[0])
    assert answer == encode_pdu(GenericNack(), 5, CommandStatus.ESME_RINVCMDID)


def test_bad_body_answered_with_own_resp() -> None:
    pair = SessionPair()
    pair.bind()
    good = encode_pdu(SubmitSM(short_message=b"hello"), 3)
    # sm_length says 5 but lie about it: claim 200 octets.
    broken = bytearray(good)
    broken[good.index(b"hello") - 1] = 200
    (event,) = pair.deliver(pair.mc, bytes(broken))
    assert isinstance(event, PduRejected)
    assert event.command_status == CommandStatus.ESME_RINVMSGLEN
    assert pair.mc.reject(event) == encode_pdu(SubmitSMResp(), 3, CommandStatus.ESME_RINVMSGLEN)


def test_lost_framing_raises() -> None:
    session = Session(Role.MC)
    session.receive_data((12).to_bytes(4, "big"))
    with pytest.raises(RemoteProtocolError) as info:
        session.next_event()
    assert info.value.fatal
    assert info.value.command_status_hint == CommandStatus.ESME_RINVCMDLEN


def test_unbind_from_either_side_closes() -> None:
    for unbinder in ("esme", "mc"):
        pair = SessionPair()
        pair.bind()
        sender = getattr(pair, unbinder)
        (request,) = pair.send(sender, Unbind())
        assert isinstance(request, RequestReceived)
        assert sender.state is SessionState.UNBINDING
        receiver = pair.peer(sender)
        (response,) = pair.deliver(sender, receiver.respond(request))
        assert isinstance(response, ResponseReceived)
        assert (sender.state, receiver.state) == (SessionState.CLOSED, SessionState.CLOSED)


def test_eof_reports_connection_closed_once() -> None:
    session = Session(Role.ESME)
    session.receive_data(b"")
    assert isinstance(session.next_event(), ConnectionClosed)
    assert session.next_event() is NEED_DATA


def test_respond_twice_is_a_local_error() -> None:
    pair = SessionPair()
    pair.bind()
    (request,) = pair.send(pair.mc, DeliverSM(short_message=b"JA"))
    assert isinstance(request, RequestReceived)
    pair.esme.respond(request)
    with pytest.raises(LocalProtocolError, match="not awaiting"):
        pair.esme.respond(request)


def test_requests_allowed_table_matches_spec_examples() -> None:
    pair = SessionPair()
    pair.bind()
    # MC -> ESME deliver_sm is legal on a transceiver bind; ESME -> MC deliver_sm is not.
    with pytest.raises(LocalProtocolError):
        pair.esme.send(DeliverSM())
    (event,) = pair.send(pair.mc, DeliverSM())
    assert isinstance(event, RequestReceived)
    assert event.pdu.command_id == CommandId.DELIVER_SM


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=64), max_size=8), role=st.sampled_from(list(Role)))
def test_fuzz_session_gives_events_or_protocol_error(chunks: list[bytes], role: Role) -> None:
    session = Session(role)
    try:
        for chunk in chunks:
            session.receive_data(chunk)
            while session.next_event() is not NEED_DATA:
                pass
    except RemoteProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    command_id=st.sampled_from([int(c) for c in CommandId] + [0x77, 0x80000077]),
    body=st.binary(max_size=80),
    role=st.sampled_from(list(Role)),
)
def test_fuzz_valid_header_random_body(command_id: int, body: bytes, role: Role) -> None:
    session = Session(role)
    header = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big")
    session.receive_data(header + bytes(4) + (1).to_bytes(4, "big") + body)
    event = session.next_event()
    if isinstance(event, PduRejected):
        session.reject(event)


def test_pdus_are_counted_by_command_in_both_directions() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(pair.esme, SubmitSM())
    assert pair.esme.pdus_out[CommandId.BIND_TRANSCEIVER] == 1
    assert pair.esme.pdus_out[CommandId.SUBMIT_SM] == 1
    assert pair.esme.pdus_in[CommandId.BIND_TRANSCEIVER_RESP] == 1
    assert pair.mc.pdus_in[CommandId.SUBMIT_SM] == 1
    assert pair.mc.pdus_out[CommandId.BIND_TRANSCEIVER_RESP] == 1


def test_expire_agrees_with_the_deadline_sum() -> None:
    pair = SessionPair()
    pair.bind()
    sent_at = 121.34750017368027
    pair.esme.send(SubmitSM(), now=sent_at)
    assert len(pair.esme.expire(now=sent_at + 30.0, timeout=30.0)) == 1
