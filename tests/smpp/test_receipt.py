"""Delivery receipts: Appendix B text as SMSCs really send it, the TLVs, and id matching."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpp.constants import MessageState, TlvTag
from smpp.receipt import (
    Receipt,
    format_receipt_text,
    message_id_candidates,
    normalise_message_id,
    parse_receipt_text,
    receipt_from_fields,
)

T0 = datetime(2023, 1, 15, 12, 30, tzinfo=UTC)
T1 = datetime(2023, 1, 15, 12, 31, tzinfo=UTC)
SPEC = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2301151230 done date:2301151231"
    " stat:DELIVRD err:000 Text:Hello world"
)


def fields_of(receipt: Receipt | None, expected: dict[str, Any]) -> dict[str, Any]:
    assert receipt is not None
    return {name: getattr(receipt, name) for name in expected}


# --- parsing: the spec layout and the real-world variants ------------------------------

VARIANTS: list[tuple[str | bytes, dict[str, Any]]] = [
    # 1. Appendix B as printed.
    (
        SPEC,
        {
            "message_id": "0123456789",
            "submitted": 1,
            "delivered": 1,
            "submit_date": T0,
            "done_date": T1,
            "stat": "DELIVRD",
            "state": MessageState.DELIVERED,
            "err": "000",
            "text": "Hello world",
            "network_error": None,
        },
    ),
    # 2. Lowercase "text:" (the most common spelling in practice).
    (
        "id:7220541285 sub:001 dlvrd:001 submit date:2104301503 done date:2104301504"
        " stat:DELIVRD err:000 text:Test message",
        {"message_id": "7220541285", "text": "Test message", "state": MessageState.DELIVERED},
    ),
    # 3. 12-digit dates with seconds.
    (
        "id:1234 sub:001 dlvrd:001 submit date:230115123045 done date:230115123102"
        " stat:DELIVRD err:000 text:",
        {
            "submit_date": datetime(2023, 1, 15, 12, 30, 45, tzinfo=UTC),
            "done_date": datetime(2023, 1, 15, 12, 31, 2, tzinfo=UTC),
            "text": "",
        },
    ),
    # 4. Keys all in capitals.
    (
        "ID:ABC123 SUB:001 DLVRD:000 SUBMIT DATE:2301151230 DONE DATE:2301151231"
        " STAT:UNDELIV ERR:001 TEXT:hi",
        {
            "message_id": "ABC123",
            "delivered": 0,
            "submit_date": T0,
            "state": MessageState.UNDELIVERABLE,
            "err": "001",
            "text": "hi",
        },
    ),
    # 5. Title-case keys, short numbers.
    (
        "Id:5 Sub:1 Dlvrd:1 Submit Date:2301151230 Done Date:2301151231 Stat:DELIVRD Err:0 Text:ok",
        {"message_id": "5", "submitted": 1, "done_date": T1, "err": "0", "text": "ok"},
    ),
    # 6. Hex id, lowercase.
    (
        "id:5f3a9c1b sub:001 dlvrd:001 submit date:2301151230 done date:2301151231"
        " stat:DELIVRD err:000 text:x",
        {"message_id": "5f3a9c1b", "state": MessageState.DELIVERED},
    ),
    # 7. Decimal id with leading zeros: kept as received.
    (
        "id:000000000042 sub:001 dlvrd:001 submit date:2301151230 done date:2301151231"
        " stat:DELIVRD err:000 text:x",
        {"message_id": "000000000042"},
    ),
    # 8. No err field.
    (
        "id:42 sub:001 dlvrd:000 submit date:2301151230 done date:2301151231 stat:EXPIRED text:x",
        {"err": None, "state": MessageState.EXPIRED, "text": "x"},
    ),
    # 9. Extra, unknown fields are skipped.
    (
        "id:42 sub:001 dlvrd:001 submit date:2301151230 done date:2301151231"
        " stat:DELIVRD err:000 mcc:234 mnc:15 imsi:234150000000000 text:hi",
        {"err": "000", "state": MessageState.DELIVERED, "text": "hi"},
    ),
    # 10. Underscored date keys.
    (
        "id:42 submit_date:2301151230 done_date:2301151231 stat:DELIVRD err:000",
        {"submit_date": T0, "done_date": T1, "submitted": None},
    ),
    # 11. No text field at all.
    (
        "id:42 sub:001 dlvrd:000 submit date:2301151230 done date:2301151231 stat:ACCEPTD err:000",
        {"state": MessageState.ACCEPTED, "text": ""},
    ),
    # 12. Text containing colons and things that look like keys.
    (
        "id:42 stat:DELIVRD err:000 text:Meet at 12:30: id:99 stat:REJECTD",
        {
            "message_id": "42",
            "state": MessageState.DELIVERED,
            "text": "Meet at 12:30: id:99 stat:REJECTD",
        },
    ),
    # 13. Extra whitespace everywhere, space before a colon, tabs.
    (
        "  id:  42   sub:001\tdlvrd:001   submit  date:2301151230  done \t date:2301151231"
        " stat : DELIVRD  err:000   text:  hi  ",
        {"message_id": "42", "submit_date": T0, "done_date": T1, "stat": "DELIVRD", "text": "hi"},
    ),
    # 14. Full-word stat, lowercase.
    (
        "id:42 stat:rejected err:000",
        {"stat": "rejected", "state": MessageState.REJECTED},
    ),
    # 15. Jasmin's field order.
    (
        "id:c2b5e3d0-8c1a-4f5e-9b3a-1e2f3a4b5c6d submit date:2301151230"
        " done date:2301151231 stat:UNDELIV sub:001 dlvrd:000 err:022 text:",
        {
            "message_id": "c2b5e3d0-8c1a-4f5e-9b3a-1e2f3a4b5c6d",
            "delivered": 0,
            "err": "022",
            "state": MessageState.UNDELIVERABLE,
        },
    ),
    # 16. Latin-1 bytes (not UTF-8) and a trailing NUL.
    (
        b"id:42 stat:DELIVRD err:000 text:caf\xe9\x00",
        {"message_id": "42", "text": "caf\xe9"},
    ),
    # 17. UTF-8 bytes.
    (
        "id:42 stat:DELIVRD text:Дякую".encode(),
        {"text": "Дякую"},
    ),
    # 18. Impossible dates (month 13, hour 25) and malformed numbers become None.
    (
        "id:42 sub:one dlvrd:-1 submit date:2313151230 done date:2301152530 stat:DELIVRD",
        {"submitted": None, "delivered": None, "submit_date": None, "done_date": None},
    ),
    # 19. A stat word we don't know: kept, state None.
    (
        "id:42 stat:FAILED err:500",
        {"stat": "FAILED", "state": None, "err": "500"},
    ),
    # 20. stat alone is enough to call it a receipt.
    (
        "stat:ENROUTE",
        {"message_id": "", "state": MessageState.ENROUTE},
    ),
]


@pytest.mark.parametrize(("raw", "expected"), VARIANTS)
def test_real_world_variants(raw: str | bytes, expected: dict[str, Any]) -> None:
    assert fields_of(parse_receipt_text(raw), expected) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "JA", "Hello world", "Reply STOP to: 12345", "identity:5 status:ok", b"\xff\xfe\x00"],
)
def test_not_a_receipt(raw: str | bytes) -> None:
    assert parse_receipt_text(raw) is None


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("ENROUTE", MessageState.ENROUTE),
        ("DELIVRD", MessageState.DELIVERED),
        ("DELIVERED", MessageState.DELIVERED),
        ("EXPIRED", MessageState.EXPIRED),
        ("DELETED", MessageState.DELETED),
        ("UNDELIV", MessageState.UNDELIVERABLE),
        ("undeliverable", MessageState.UNDELIVERABLE),
        ("ACCEPTD", MessageState.ACCEPTED),
        ("Accepted", MessageState.ACCEPTED),
        ("UNKNOWN", MessageState.UNKNOWN),
        ("REJECTD", MessageState.REJECTED),
        ("REJECTED", MessageState.REJECTED),
    ],
)
def test_stat_words(word: str, state: MessageState) -> None:
    receipt = parse_receipt_text(f"id:1 stat:{word}")
    assert receipt is not None
    assert receipt.state is state


# --- formatting and the round trip ----------------------------------------------------


def test_format_golden() -> None:
    text = format_receipt_text(
        message_id="42",
        submit_date=T0,
        done_date=T1,
        stat="DELIVRD",
        text="Hello, this is a longer message",
    )
    assert text == (
        "id:42 sub:001 dlvrd:001 submit date:2301151230 done date:2301151231"
        " stat:DELIVRD err:000 Text:Hello, this is a lon"
    )


def test_format_defaults_and_time_zones() -> None:
    kyiv = timezone(timedelta(hours=2))
    text = format_receipt_text(
        message_id="7",
        submit_date=datetime(2023, 1, 15, 14, 30, tzinfo=kyiv),
        done_date=datetime(2023, 1, 15, 12, 31),  # naive: written as it is
        stat="UNDELIV",
        err="001",
    )
    assert "dlvrd:000" in text
    receipt = parse_receipt_text(text)
    assert fields_of(receipt, {"submit_date": T0, "done_date": T1, "text": ""}) == {
        "submit_date": T0,
        "done_date": T1,
        "text": "",
    }


_ALNUM = st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_MINUTES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))


@given(
    message_id=st.text(_ALNUM, min_size=1, max_size=20),
    submitted=st.integers(0, 999),
    delivered=st.integers(0, 999),
    submit_date=_MINUTES,
    done_date=_MINUTES,
    stat=st.sampled_from(["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "ACCEPTD", "ENROUTE"]),
    err=st.text(_ALNUM, min_size=1, max_size=3),
    text=st.text(max_size=40),
)
def test_round_trip(
    message_id: str,
    submitted: int,
    delivered: int,
    submit_date: datetime,
    done_date: datetime,
    stat: str,
    err: str,
    text: str,
) -> None:
    raw = format_receipt_text(
        message_id=message_id,
        submitted=submitted,
        delivered=delivered,
        submit_date=submit_date,
        done_date=done_date,
        stat=stat,
        err=err,
        text=text,
    )
    receipt = parse_receipt_text(raw)
    assert receipt is not None
    assert receipt.message_id == message_id
    assert (receipt.submitted, receipt.delivered) == (submitted, delivered)
    assert (receipt.submit_date, receipt.done_date) == (submit_date, done_date)
    assert (receipt.stat, receipt.err) == (stat, err)
    assert receipt.text == text[:20].rstrip("\x00").strip()


# --- TLVs (§5.3.2.12, §5.3.2.31, §5.3.2.35) ------------------------------------------


def test_tlv_only_receipt() -> None:
    receipt = receipt_from_fields(
        b"",
        {
            TlvTag.RECEIPTED_MESSAGE_ID: b"ABC123\x00",
            TlvTag.MESSAGE_STATE: bytes([MessageState.DELIVERED]),
            TlvTag.NETWORK_ERROR_CODE: b"\x03\x00\x01",
        },
    )
    assert receipt == Receipt(
        message_id="ABC123",
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        network_error=(3, 1),
    )


def test_tlvs_beat_text() -> None:
    receipt = receipt_from_fields(
        SPEC.encode(),
        {
            TlvTag.RECEIPTED_MESSAGE_ID: b"75BCD15\x00",
            TlvTag.MESSAGE_STATE: bytes([MessageState.UNDELIVERABLE]),
            TlvTag.NETWORK_ERROR_CODE: b"\x01\x01\x2c",  # GSM (1), error 300
        },
    )
    expected = {
        "message_id": "75BCD15",
        "state": MessageState.UNDELIVERABLE,
        "stat": "UNDELIV",  # rewritten so stat and state agree
        "network_error": (1, 300),
        "submit_date": T0,  # the text still fills what the TLVs don't say
        "err": "000",
        "text": "Hello world",
    }
    assert fields_of(receipt, expected) == expected


def test_agreeing_state_keeps_the_texts_spelling() -> None:
    receipt = receipt_from_fields(
        b"id:1 stat:DELIVERED", {TlvTag.MESSAGE_STATE: bytes([MessageState.DELIVERED])}
    )
    assert fields_of(receipt, {"stat": "DELIVERED"}) == {"stat": "DELIVERED"}


@pytest.mark.parametrize(
    "tlvs",
    [
        {TlvTag.MESSAGE_STATE: b""},
        {TlvTag.MESSAGE_STATE: b"\x02\x02"},
        {TlvTag.MESSAGE_STATE: b"\x00"},
        {TlvTag.MESSAGE_STATE: b"\x09"},
        {TlvTag.NETWORK_ERROR_CODE: b"\x01\x02"},
        {TlvTag.NETWORK_ERROR_CODE: b"\x01\x02\x03\x04"},
        {TlvTag.RECEIPTED_MESSAGE_ID: b"\x00"},
        {TlvTag.RECEIPTED_MESSAGE_ID: b""},
    ],
)
def test_bad_tlvs_are_ignored(tlvs: dict[int, bytes]) -> None:
    assert receipt_from_fields(SPEC.encode(), tlvs) == parse_receipt_text(SPEC)


def test_receipted_message_id_without_nul() -> None:
    receipt = receipt_from_fields(b"", {TlvTag.RECEIPTED_MESSAGE_ID: b"99"})
    assert fields_of(receipt, {"message_id": "99", "state": None}) == {
        "message_id": "99",
        "state": None,
    }


def test_text_from_message_payload() -> None:
    receipt = receipt_from_fields(b"", {TlvTag.MESSAGE_PAYLOAD: SPEC.encode()})
    assert receipt == parse_receipt_text(SPEC)


@pytest.mark.parametrize(
    ("short_message", "tlvs"),
    [
        (b"", {}),
        (b"JA", {}),
        (b"", {TlvTag.NETWORK_ERROR_CODE: b"\x03\x00\x01"}),  # an error alone says nothing
    ],
)
def test_not_a_receipt_from_fields(short_message: bytes, tlvs: dict[int, bytes]) -> None:
    assert receipt_from_fields(short_message, tlvs) is None


# --- message ids -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [(" 00042 ", "42"), ("5f3a9c1b", "5F3A9C1B"), ("000", "0"), ("0", "0"), ("", ""), ("  ", "")],
)
def test_normalise_auto(raw: str, canonical: str) -> None:
    assert normalise_message_id(raw) == canonical


def test_normalise_with_known_bases_meets_in_hex() -> None:
    assert normalise_message_id("1598735387", base="dec") == "5F4AC41B"
    assert normalise_message_id("005f4ac41b", base="hex") == "5F4AC41B"


@pytest.mark.parametrize(
    ("raw", "base"), [("12G", "hex"), ("7B", "dec"), ("", "dec"), ("1_0", "dec")]
)
def test_normalise_rejects_a_number_in_the_wrong_base(raw: str, base: Any) -> None:
    with pytest.raises(ValueError, match="expected a"):
        normalise_message_id(raw, base=base)


@pytest.mark.parametrize(
    ("raw", "candidates"),
    [
        ("123", ("123", "7B", "291")),
        ("7b", ("7B", "123")),
        (" 00ff ", ("FF", "255")),
        ("0", ("0",)),
        ("", ()),
        ("c2b5e3d0-8c1a", ("C2B5E3D0-8C1A",)),
    ],
)
def test_candidates(raw: str, candidates: tuple[str, ...]) -> None:
    assert message_id_candidates(raw) == candidates


def test_candidates_match_hex_resp_to_decimal_receipt() -> None:
    """The Kannel msg-id-type / Jasmin dlr_msg_id_bases case."""
    resp_id = "5F4AC41B"
    receipt_id = str(int(resp_id, 16))
    assert set(message_id_candidates(resp_id)) & set(message_id_candidates(receipt_id))


# --- never raises on the peer's garbage ------------------------------------------------

_FRAGMENTS = st.sampled_from(
    ["id:", "ID:", "sub:", "dlvrd:", "submit date:", "done_date:", "stat:", "err:", "text:",
     "DELIVRD", "2313151230", "230115123045", "9" * 5000, " ", ":", "\x00", "\t", "é", "\u017ftat:"]
)  # fmt: skip


@given(st.one_of(st.text(), st.binary(), st.lists(_FRAGMENTS).map("".join)))
def test_parse_never_raises(raw: str | bytes) -> None:
    receipt = parse_receipt_text(raw)
    assert receipt is None or isinstance(receipt, Receipt)


@given(
    st.binary(),
    st.dictionaries(
        st.sampled_from(
            [
                TlvTag.RECEIPTED_MESSAGE_ID,
                TlvTag.MESSAGE_STATE,
                TlvTag.NETWORK_ERROR_CODE,
                TlvTag.MESSAGE_PAYLOAD,
                0x1234,
            ]
        ),
        st.binary(max_size=6),
    ),
)
def test_from_fields_never_raises(short_message: bytes, tlvs: dict[int, bytes]) -> None:
    receipt = receipt_from_fields(short_message, tlvs)
    assert receipt is None or receipt.state is None or receipt.state in MessageState


@given(st.one_of(st.text(), st.text("0123456789abcdefABCDEF \t", max_size=100)))
def test_id_functions_never_raise(raw: str) -> None:
    candidates = message_id_candidates(raw)
    assert not candidates or candidates[0] == normalise_message_id(raw)
    bases: tuple[Literal["hex", "dec"], ...] = ("hex", "dec")
    for base in bases:
        with contextlib.suppress(ValueError):
            normalise_message_id(raw, base=base)
