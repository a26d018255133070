"""Differential tests against smpplib 2.2.4, in both directions.

For every PDU both libraries support, bytes we encode parse in smpplib to the same field
values, and bytes smpplib generates decode in ours to the same fields. Mandatory fields come
from Hypothesis (our strategies, clipped where smpplib truncates); TLVs from fixed examples,
because smpplib only knows a fixed set per PDU and raises on the rest.

Where smpplib disagrees with the 3.4 spec, the test asserts the spec and says why
(``test_smpplib_disagrees_*``). smpplib has no outbind, submit_multi(_resp),
cancel_sm(_resp) or replace_sm(_resp): those are covered by the golden vectors only.
"""

from __future__ import annotations

from typing import Any

import pytest
import smpplib.command
import smpplib.exceptions
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp.codec import decode_pdu, encode_pdu
from smpp.constants import CommandId, CommandStatus, TlvTag
from smpp.errors import LocalProtocolError, RemoteProtocolError, UnparsableBodyError
from smpp.pdu import (
    FIELDS,
    PDU_CLASSES,
    BindTransmitterResp,
    DataSM,
    DataSMResp,
    DeliverSM,
    Outbind,
    Pdu,
    SubmitSM,
)
from smpp.tlv import Tlv, find_tlv
from tests.smpp.strategies import pdus, sequence_numbers


class StubClient:
    """What smpplib's PDUs ask of a client: a sequence counter."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def _supported(cid: CommandId) -> bool:
    try:
        smpplib.smpp.make_pdu(cid.name.lower(), client=StubClient())
    except smpplib.exceptions.UnknownCommandError:
        return False
    return True


SHARED = [cid for cid in PDU_CLASSES if _supported(cid)]
UNSUPPORTED = [cid for cid in PDU_CLASSES if not _supported(cid)]
DIFF = settings(max_examples=40, deadline=None)


def _smpplib_limit(cid: CommandId, field: str) -> int | None:
    """smpplib's max for a C-octet field (NUL included); it truncates longer values."""
    cls = type(smpplib.smpp.make_pdu(cid.name.lower(), client=StubClient()))
    return getattr(cls.params[field], "max", None)


def _fields(pdu: Pdu) -> dict[str, Any]:
    return {name: getattr(pdu, name) for name, _ in FIELDS[pdu.command_id]}


def _smpplib_fields(parsed: Any, cid: CommandId) -> dict[str, Any]:
    """smpplib's parsed values in our types: bytes strings as Latin-1, a missing
    short_message (it stops at the end of the body) as b""."""
    out: dict[str, Any] = {}
    for name, _ in FIELDS[cid]:
        value = getattr(parsed, name)
        if name == "short_message":
            value = value or b""
        elif isinstance(value, bytes):
            value = value.decode("latin-1")
        out[name] = value
    return out


def _generate(name: str, seq: int, **fields: Any) -> bytes:
    pdu = smpplib.smpp.make_pdu(name, client=StubClient(), **fields)
    pdu.sequence = seq  # make_pdu ignores a sequence= keyword
    raw: bytes = pdu.generate()
    return raw


def _parse(raw: bytes) -> Any:
    return smpplib.smpp.parse_pdu(raw, client=StubClient())


def test_shared_pdus() -> None:
    assert len(SHARED) == 20
    assert {c.name for c in UNSUPPORTED} == {
        "OUTBIND",
        "SUBMIT_MULTI",
        "SUBMIT_MULTI_RESP",
        "CANCEL_SM",
        "CANCEL_SM_RESP",
        "REPLACE_SM",
        "REPLACE_SM_RESP",
    }


_IDS = [c.name.lower() for c in SHARED]


# --- mandatory fields, both directions, Hypothesis ------------------------------------------


@pytest.mark.parametrize("cid", SHARED, ids=_IDS)
@DIFF
@given(data=st.data(), seq=sequence_numbers)
def test_ours_parse_in_smpplib(cid: CommandId, data: st.DataObject, seq: int) -> None:
    pdu = data.draw(pdus(PDU_CLASSES[cid]))
    if "tlvs" in pdu.__struct_fields__:
        pdu = type(pdu)(**{**_fields(pdu), "tlvs": ()})
    parsed = _parse(encode_pdu(pdu, seq))
    assert parsed.command == cid.name.lower()
    assert parsed.sequence == seq
    assert parsed.status == 0
    assert _smpplib_fields(parsed, cid) == _fields(pdu)


@pytest.mark.parametrize("cid", SHARED, ids=_IDS)
@DIFF
@given(data=st.data(), seq=sequence_numbers)
def test_smpplib_decodes_in_ours(cid: CommandId, data: st.DataObject, seq: int) -> None:
    fields = _fields(data.draw(pdus(PDU_CLASSES[cid])))
    for name, value in fields.items():
        limit = _smpplib_limit(cid, name)
        if isinstance(value, str) and limit is not None:
            fields[name] = value[: limit - 1]  # smpplib truncates (see below)
    if "interface_version" in fields:
        fields["interface_version"] = 0x34  # smpplib always writes 0x34
    if cid == CommandId.QUERY_SM and not fields["message_id"]:
        fields["message_id"] = "1"  # smpplib refuses to build a query_sm without one
    frame = decode_pdu(_generate(cid.name.lower(), seq, **fields))
    assert (frame.command_id, frame.sequence_number, frame.command_status) == (cid, seq, 0)
    assert frame.pdu == PDU_CLASSES[cid](**fields)


_RESPONSES = [c for c in SHARED if c.is_response and FIELDS[c]]


@pytest.mark.parametrize("cid", _RESPONSES, ids=[c.name.lower() for c in _RESPONSES])
def test_smpplib_disagrees_error_response_body(cid: CommandId) -> None:
    """§4.1.2, §4.4.2: a *_resp body "is not returned if the command_status field contains a
    non-zero value". smpplib writes it anyway (empty strings and zeros); we accept both
    forms and write the spec's, which smpplib parses too; except a refused bind, which
    keeps its body (an empty system_id) because some clients cannot parse it without."""
    raw = _generate(cid.name.lower(), 5, status=CommandStatus.ESME_RTHROTTLED)
    assert len(raw) > 16  # smpplib's extra body
    frame = decode_pdu(raw)
    assert frame.pdu == PDU_CLASSES[cid]()
    assert frame.command_status == CommandStatus.ESME_RTHROTTLED
    ours = encode_pdu(PDU_CLASSES[cid](), 5, CommandStatus.ESME_RTHROTTLED)
    assert len(ours) == (17 if cid.name.startswith("BIND_") else 16)
    parsed = _parse(ours)
    assert (parsed.status, parsed.sequence) == (CommandStatus.ESME_RTHROTTLED, 5)


# --- TLVs, fixed examples ----------------------------------------------------------------------

RECEIPT_TLVS = (  # in smpplib's order, which writes TLVs in its params_order
    Tlv(TlvTag.NETWORK_ERROR_CODE, b"\x03\x00\x00"),
    Tlv(TlvTag.MESSAGE_STATE, b"\x02"),
    Tlv(TlvTag.RECEIPTED_MESSAGE_ID, b"7f3a\0"),
)

# (smpplib command, smpplib keyword arguments, our PDU with the same TLVs)
TLV_CASES: list[tuple[str, dict[str, Any], Pdu]] = [
    (
        "deliver_sm",
        {
            "esm_class": 4,
            "receipted_message_id": "7f3a",
            "message_state": 2,
            "network_error_code": b"\x03\x00\x00",
        },
        DeliverSM(esm_class=4, tlvs=RECEIPT_TLVS),
    ),
    (
        "submit_sm",
        {
            "short_message": b"part",
            "sar_msg_ref_num": 0x1234,
            "sar_total_segments": 3,
            "sar_segment_seqnum": 2,
            "user_message_reference": 7,
            "source_port": 2948,
            "destination_port": 9200,
        },
        SubmitSM(
            short_message=b"part",
            tlvs=(
                Tlv.of(TlvTag.USER_MESSAGE_REFERENCE, 7),
                Tlv.of(TlvTag.SOURCE_PORT, 2948),
                Tlv.of(TlvTag.DESTINATION_PORT, 9200),
                Tlv.of(TlvTag.SAR_MSG_REF_NUM, 0x1234),
                Tlv.of(TlvTag.SAR_TOTAL_SEGMENTS, 3),
                Tlv.of(TlvTag.SAR_SEGMENT_SEQNUM, 2),
            ),
        ),
    ),
    (
        "submit_sm",
        {"message_payload": b"x" * 200, "payload_type": 0},
        SubmitSM(
            tlvs=(
                Tlv.of(TlvTag.PAYLOAD_TYPE, 0),
                Tlv.of(TlvTag.MESSAGE_PAYLOAD, b"x" * 200),
            )
        ),
    ),
    (
        "data_sm",
        {"qos_time_to_live": 86400, "message_payload": b"\x01\x02"},
        DataSM(
            tlvs=(
                Tlv.of(TlvTag.QOS_TIME_TO_LIVE, 86400),
                Tlv.of(TlvTag.MESSAGE_PAYLOAD, b"\x01\x02"),
            )
        ),
    ),
    (
        "bind_transmitter_resp",
        {"system_id": "SMSC", "sc_interface_version": 0x34},
        BindTransmitterResp(system_id="SMSC", tlvs=(Tlv.of(TlvTag.SC_INTERFACE_VERSION, 0x34),)),
    ),
    (
        "data_sm_resp",
        {"message_id": "9", "additional_status_info_text": "queued", "dpf_result": 1},
        DataSMResp(
            message_id="9",
            tlvs=(
                Tlv.of(TlvTag.ADDITIONAL_STATUS_INFO_TEXT, "queued"),
                Tlv.of(TlvTag.DPF_RESULT, 1),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "pdu"), TLV_CASES, ids=[c[0] for c in TLV_CASES])
def test_tlvs_smpplib_to_ours(name: str, kwargs: dict[str, Any], pdu: Pdu) -> None:
    frame = decode_pdu(_generate(name, 3, **kwargs))
    assert frame.pdu == pdu  # same fields, and TLVs in the same order


@pytest.mark.parametrize(("name", "kwargs", "pdu"), TLV_CASES, ids=[c[0] for c in TLV_CASES])
def test_tlvs_ours_to_smpplib(name: str, kwargs: dict[str, Any], pdu: Pdu) -> None:
    parsed = _parse(encode_pdu(pdu, 3))
    for key, expected in kwargs.items():
        value = getattr(parsed, key)
        assert value == (expected.encode("latin-1") if isinstance(expected, str) else expected)


def test_typed_receipt_tlvs_match_smpplib() -> None:
    frame = decode_pdu(
        _generate("deliver_sm", 1, receipted_message_id="7f3a", message_state=2, esm_class=4)
    )
    tlvs = frame.pdu.tlvs  # type: ignore[attr-defined]
    message_id, state = (find_tlv(tlvs, t) for t in (0x001E, 0x0427))
    assert message_id is not None
    assert message_id.typed() == "7f3a"
    assert state is not None
    assert state.typed() == 2


# --- where smpplib disagrees with the spec: we assert the spec ---------------------------------


def test_smpplib_disagrees_source_addr_subunit_size() -> None:
    """§5.3.2.2: source_addr_subunit is a 1-octet Integer. smpplib's submit_sm declares it
    2 octets: it writes 000d 0002 0001, and parsing a correct 1-octet value desyncs its TLV
    reader (it then fails on the next TLV)."""
    raw = _generate("submit_sm", 1, source_addr_subunit=1)
    tlv = decode_pdu(raw).pdu.tlvs[0]  # type: ignore[attr-defined]
    assert tlv == Tlv(TlvTag.SOURCE_ADDR_SUBUNIT, b"\x00\x01")
    with pytest.raises(RemoteProtocolError) as info:
        tlv.typed()
    assert info.value.command_status_hint == CommandStatus.ESME_RINVPARLEN
    assert Tlv.of(TlvTag.SOURCE_ADDR_SUBUNIT, 1).value == b"\x01"
    ours = encode_pdu(
        SubmitSM(tlvs=(Tlv.of(TlvTag.SOURCE_ADDR_SUBUNIT, 1), Tlv.of(TlvTag.SOURCE_PORT, 5))), 1
    )
    with pytest.raises((smpplib.exceptions.UnknownCommandError, KeyError)):
        _parse(ours)


def test_smpplib_disagrees_subaddress_is_an_octet_string() -> None:
    """§5.3.2.15: source_subaddress is an octet string (a type octet, then the address), with
    no NUL. smpplib treats it as a C-octet string: it drops the last octet when parsing, and
    writes a NUL (and UTF-8) when generating."""
    value = b"\xa0\x01\x02"
    parsed = _parse(encode_pdu(DeliverSM(tlvs=(Tlv(TlvTag.SOURCE_SUBADDRESS, value),)), 1))
    assert parsed.source_subaddress == value[:-1]  # smpplib lost an octet
    frame = decode_pdu(encode_pdu(DeliverSM(tlvs=(Tlv(TlvTag.SOURCE_SUBADDRESS, value),)), 1))
    assert frame.pdu.tlvs[0].typed() == value  # type: ignore[attr-defined]


def test_smpplib_disagrees_data_sm_resp_tlv_types() -> None:
    """§5.3.2.33: delivery_failure_reason is a 1-octet Integer; §5.3.2.31: network_error_code
    is 3 octets. smpplib's data_sm_resp has both as C-octet strings: it writes
    0425 0002 01 00 and 0423 0004 'abc' 00, and parses a correct value short by an octet."""
    raw = _generate("data_sm_resp", 1, message_id="a", delivery_failure_reason="\x01")
    tlv = decode_pdu(raw).pdu.tlvs[0]  # type: ignore[attr-defined]
    assert tlv == Tlv(TlvTag.DELIVERY_FAILURE_REASON, b"\x01\x00")
    with pytest.raises(RemoteProtocolError):
        tlv.typed()
    ours = DataSMResp(
        message_id="a",
        tlvs=(
            Tlv.of(TlvTag.DELIVERY_FAILURE_REASON, 1),
            Tlv.of(TlvTag.NETWORK_ERROR_CODE, b"\x03\x00\x01"),
        ),
    )
    parsed = _parse(encode_pdu(ours, 1))
    assert parsed.delivery_failure_reason == b""  # the Integer 1 is lost
    assert parsed.network_error_code == b"\x03\x00"  # the last octet is lost


def test_smpplib_disagrees_flags_are_never_written() -> None:
    """§5.3.2.41: alert_on_message_delivery is a zero-length flag. smpplib declares it
    (type ``flag``) but its generator has no case for flags: the TLV is silently dropped."""
    raw = _generate("submit_sm", 1, alert_on_message_delivery=True)
    assert decode_pdu(raw).pdu.tlvs == ()  # type: ignore[attr-defined]
    ours = encode_pdu(SubmitSM(tlvs=(Tlv.of(TlvTag.ALERT_ON_MESSAGE_DELIVERY, None),)), 1)
    assert ours.endswith(bytes.fromhex("130c0000"))


def test_smpplib_disagrees_string_tlv_length_counts_characters() -> None:
    """smpplib writes string TLVs as UTF-8 but their length as the number of characters, so
    any non-ASCII value makes a corrupt TLV stream (here length 3, then 4 octets: c3 a9 31
    00). Mandatory strings it writes as Latin-1. We refuse the corrupt stream with
    ESME_RINVOPTPARSTREAM, and write C-octet strings as Latin-1 throughout."""
    raw = _generate("deliver_sm", 1, receipted_message_id="\xe91")
    assert raw.endswith(bytes.fromhex("001e 0003 c3a93100"))
    with pytest.raises(UnparsableBodyError) as info:
        decode_pdu(raw)
    assert info.value.command_status_hint == CommandStatus.ESME_RINVOPTPARSTREAM
    assert Tlv.of(TlvTag.RECEIPTED_MESSAGE_ID, "\xe91").value == b"\xe91\0"


def test_smpplib_disagrees_address_lengths_of_data_sm() -> None:
    """§4.7.1, §4.12.1: data_sm's and alert_notification's addresses are C-octet strings of up
    to 65 octets. smpplib limits them to 21 and silently truncates longer ones; we take 64
    characters and refuse 65 with LocalProtocolError rather than truncate."""
    long_addr = "1" * 30
    raw = _generate("data_sm", 1, source_addr=long_addr)
    assert decode_pdu(raw).pdu.source_addr == long_addr[:20]  # type: ignore[attr-defined]
    ours = DataSM(source_addr=long_addr)
    assert decode_pdu(encode_pdu(ours, 1)).pdu == ours
    assert _parse(encode_pdu(ours, 1)).source_addr == long_addr.encode()
    with pytest.raises(LocalProtocolError):
        encode_pdu(DataSM(source_addr="1" * 65), 1)


def test_smpplib_truncates_where_we_refuse() -> None:
    """smpplib cuts an over-long source_addr to 20 characters without a word; sending a
    different address than asked is worse than failing, so we raise."""
    raw = _generate("submit_sm", 1, source_addr="4" * 25)
    assert decode_pdu(raw).pdu.source_addr == "4" * 20  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError):
        encode_pdu(SubmitSM(source_addr="4" * 25), 1)


def test_smpplib_forces_interface_version() -> None:
    """smpplib's bind_* always writes interface_version 0x34, whatever it is given."""
    raw = _generate("bind_transmitter", 1, system_id="x", interface_version=0x33)
    assert decode_pdu(raw).pdu.interface_version == 0x34  # type: ignore[attr-defined]


def test_smpplib_cannot_parse_pdus_it_lacks() -> None:
    with pytest.raises(smpplib.exceptions.UnknownCommandError):
        _parse(encode_pdu(Outbind(system_id="smsc"), 1))
