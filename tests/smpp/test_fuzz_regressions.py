"""What the fuzzing run (``python -m bench.fuzz``) found, each pinned by a test that failed
before the fix."""

from __future__ import annotations

import struct

import pytest

from smpp.codec import decode_pdu, encode_body, encode_pdu
from smpp.constants import CommandId, CommandStatus
from smpp.errors import UnparsableBodyError
from smpp.events import PduRejected, ResponseReceived
from smpp.pdu import (
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    QuerySMResp,
    SubmitMultiResp,
    SubmitSM,
    UnsuccessSme,
)
from tests.smpp.helpers import SessionPair


def _with_length(raw: bytes | bytearray) -> bytes:
    return struct.pack(">I", len(raw)) + bytes(raw[4:])


def test_unknown_command_id_with_the_response_bit_gets_generic_nack() -> None:
    """§4.3: an unknown command_id gets generic_nack ESME_RINVCMDID, top bit set or not.
    It went unanswered: the session took every id with the top bit for a response."""
    pair = SessionPair()
    pair.bind()
    (event,) = pair.deliver(pair.mc, struct.pack(">IIII", 16, 0x80000077, 0, 5))
    assert isinstance(event, PduRejected)
    assert pair.mc.reject(event) == encode_pdu(GenericNack(), 5, CommandStatus.ESME_RINVCMDID)


def test_a_known_response_with_a_bad_body_is_still_not_answered() -> None:
    pair = SessionPair()
    pair.bind()
    garbled = _with_length(encode_pdu(QuerySMResp(message_id="1"), 5) + b"\x01")
    (event,) = pair.deliver(pair.mc, garbled)
    assert isinstance(event, PduRejected)
    assert pair.mc.reject(event) == b""


def test_a_garbled_response_of_another_type_does_not_settle_the_request() -> None:
    """A bad query_sm_resp carrying the sequence number of our enquire_link took its
    window slot and failed it; the real enquire_link_resp then came as unexpected."""
    pair = SessionPair()
    pair.bind()
    seq = int.from_bytes(pair.esme.send(EnquireLink())[12:16], "big")
    garbled = _with_length(encode_pdu(QuerySMResp(message_id="1"), seq) + b"\x01")
    (rejected,) = pair.deliver(pair.esme, garbled)
    assert isinstance(rejected, PduRejected)
    assert rejected.request is None
    assert pair.esme.in_flight == 1
    (answer,) = pair.deliver(pair.esme, encode_pdu(EnquireLinkResp(), seq))
    assert isinstance(answer, ResponseReceived)
    assert answer.request == EnquireLink()
    assert pair.esme.in_flight == 0


def test_a_garbled_response_of_the_awaited_type_settles_the_request() -> None:
    pair = SessionPair()
    pair.bind()
    seq = int.from_bytes(pair.esme.send(EnquireLink())[12:16], "big")
    garbled = _with_length(encode_pdu(EnquireLinkResp(), seq) + b"\x01")
    (rejected,) = pair.deliver(pair.esme, garbled)
    assert isinstance(rejected, PduRejected)
    assert rejected.request == EnquireLink()
    assert pair.esme.in_flight == 0


def test_sm_length_255_is_refused_with_rinvmsglen() -> None:
    """§4.4.1: short_message is 0-254 octets. sm_length 255 decoded, and the PDU could then
    not be encoded again (LocalProtocolError from the encoder)."""
    raw = bytearray(encode_pdu(SubmitSM(short_message=b"x" * 254), 7))
    raw[-255] = 255
    raw += b"x"
    with pytest.raises(UnparsableBodyError) as info:
        decode_pdu(_with_length(raw))
    assert info.value.command_status_hint == CommandStatus.ESME_RINVMSGLEN
    assert "sm_length 255 > 254" in str(info.value)


def test_no_unsuccess_255_is_refused() -> None:
    """The encoder allows at most 254 unsuccess_smes (one per destination); 255 decoded
    and could then not be encoded again."""
    smes = (UnsuccessSme(1, 1, "4477", 8),) * 254
    body = bytearray(encode_body(SubmitMultiResp(message_id="m", unsuccess_smes=smes)))
    body[2] = 255  # no_unsuccess, after message_id "m\0"
    body += encode_body(SubmitMultiResp(unsuccess_smes=smes[:1]))[2:]  # one more entry
    raw = struct.pack(">IIII", 16 + len(body), CommandId.SUBMIT_MULTI_RESP, 0, 1) + body
    with pytest.raises(UnparsableBodyError) as info:
        decode_pdu(bytes(raw))
    assert info.value.command_status_hint == CommandStatus.ESME_RINVNUMDESTS
