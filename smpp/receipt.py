"""Delivery receipts: the Appendix B text and the receipt TLVs -> one ``Receipt``.

Theory of operation
-------------------
SMPP 3.4 never standardised the receipt text. Appendix B shows one example layout::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DDDDDDD err:E Text: ...

and every SMSC varies it: key case, 12-digit dates, fields missing, reordered or added,
hex or decimal ids. So the parser does not match one layout. It finds each ``key:`` that
starts a word, takes the first word after every key it knows, and treats everything after
``text:`` as the message text, colons and all. Whatever it cannot read becomes ``None``,
never an exception: the input is the peer's, and one odd receipt must not stop the
inbound loop.

The TLVs receipted_message_id (§5.3.2.12), network_error_code (§5.3.2.31) and
message_state (§5.3.2.35, values §5.2.28) are typed, so where present they beat the text.

Dates carry no zone on the wire. They are returned UTC-aware; that is a label, not a
conversion (most SMSCs write their local time), so compare them with care.

Message ids and the hex/decimal pitfall
---------------------------------------
Some SMSCs answer submit_sm_resp with a hex message_id and put the decimal of the same
number in the receipt (or the reverse); Kannel has ``msg-id-type`` and Jasmin
``dlr_msg_id_bases`` for exactly this. ``normalise_message_id`` gives a canonical
spelling, and ``message_id_candidates`` every spelling a matcher should look up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

import msgspec

from smpp.constants import MessageState, TlvTag

__all__ = [
    "Receipt",
    "format_receipt_text",
    "message_id_candidates",
    "normalise_message_id",
    "parse_receipt_text",
    "receipt_from_fields",
]


class Receipt(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One delivery receipt, from the text, the TLVs, or both (TLVs win).

    ``message_id`` is as received; match it through ``message_id_candidates``.
    ``stat`` is the receipt's own word ("DELIVRD"); ``state`` is its meaning, and when the
    message_state TLV overrides the text, ``stat`` becomes that state's Appendix B word so
    the two never disagree. ``network_error`` is (network type, error code) (§5.3.2.31).
    """

    message_id: str
    submitted: int | None = None
    delivered: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str = ""
    state: MessageState | None = None
    err: str | None = None
    network_error: tuple[int, int] | None = None
    text: str = ""


# Appendix B's seven-letter words, plus the full spellings some SMSCs send instead.
_WORDS: dict[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
_STATE_VALUES = frozenset(state.value for state in MessageState)
_STATES: dict[str, MessageState] = {word: state for state, word in _WORDS.items()} | {
    state.name: state for state in MessageState
}

# A key starts a word (start of text or after whitespace); "submit date" has a space in
# it, and "submit_date" is seen in the wild, so the two date keys are spelled out first.
_KEY = re.compile(
    r"(?<!\S)(submit[\s_]*date|done[\s_]*date|[a-z_][a-z0-9_]*)[ \t]*:",
    re.IGNORECASE | re.ASCII,
)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_HEX = re.compile(r"[0-9A-F]+", re.ASCII)
_MAX_ID_LEN = 64  # message_id is C-Octet(65) (§5.2.23); longer is not an id to convert.


def parse_receipt_text(text: str | bytes) -> Receipt | None:
    """Read the Appendix B receipt text, as real SMSCs vary it.

    Args:
        text: short_message (or message_payload) of a receipt deliver_sm; bytes that are
            not UTF-8 are read as Latin-1.

    Returns:
        A ``Receipt``, or None when there is neither an ``id`` nor a ``stat`` key. Never
        raises; check esm_class (§5.2.12) first, since a user's SMS may look like this.
    """
    if isinstance(text, bytes):
        text = _decode(text)
    fields = _split_fields(text.rstrip("\x00"))
    if "id" not in fields and "stat" not in fields:
        return None
    stat = _first_word(fields.get("stat", ""))
    return Receipt(
        message_id=_first_word(fields.get("id", "")),
        submitted=_to_int(fields.get("sub")),
        delivered=_to_int(fields.get("dlvrd")),
        submit_date=_to_datetime(fields.get("submit date")),
        done_date=_to_datetime(fields.get("done date")),
        stat=stat,
        state=_STATES.get(stat.upper()),
        err=_first_word(fields.get("err", "")) or None,
        text=fields.get("text", "").strip(),
    )


def receipt_from_fields(short_message: bytes, tlvs: Mapping[int, bytes]) -> Receipt | None:
    """Combine a receipt's text with its TLVs; the TLVs win where both give a value.

    Args:
        short_message: the deliver_sm/data_sm text; if empty, message_payload
            (§5.3.2.32) is read instead. May be empty with the TLVs alone.
        tlvs: raw TLV values by tag. A TLV with a bad length or value is ignored.

    Returns:
        A ``Receipt``, or None if neither the text nor receipted_message_id /
        message_state says this is a receipt. Never raises.
    """
    body = short_message or tlvs.get(TlvTag.MESSAGE_PAYLOAD, b"")
    parsed = parse_receipt_text(body) if body else None
    message_id = _c_octet(tlvs.get(TlvTag.RECEIPTED_MESSAGE_ID))
    state = _message_state(tlvs.get(TlvTag.MESSAGE_STATE))
    if parsed is None and message_id is None and state is None:
        return None
    receipt = parsed or Receipt(message_id="")
    if message_id is not None:
        receipt = msgspec.structs.replace(receipt, message_id=message_id)
    if state is not None and state != receipt.state:
        receipt = msgspec.structs.replace(receipt, state=state, stat=_WORDS[state])
    network_error = _network_error(tlvs.get(TlvTag.NETWORK_ERROR_CODE))
    if network_error is not None:
        receipt = msgspec.structs.replace(receipt, network_error=network_error)
    return receipt


def normalise_message_id(raw: str, *, base: Literal["auto", "hex", "dec"] = "auto") -> str:
    """The canonical spelling of a message id, for matching a receipt to its submit.

    Strips whitespace, uppercases, drops leading zeros ("0" stays "0"). ``base`` says how
    ``raw`` is written when the carrier's configuration knows it: "hex" and "dec" both
    yield uppercase hex, so a hex submit_sm_resp id and its decimal twin in the receipt
    compare equal. "auto" cannot tell ("123" is valid in both), so it only tidies the
    text; use ``message_id_candidates`` to try both readings.

    Raises:
        ValueError: ``base`` is "hex" or "dec" and ``raw`` is not a number in that base.
    """
    tidy = raw.strip().upper().lstrip("0") or ("0" if raw.strip() else "")
    if base == "auto":
        return tidy
    pattern = _HEX if base == "hex" else _DIGITS
    if not pattern.fullmatch(tidy) or len(tidy) > _MAX_ID_LEN:
        raise ValueError(f"message id {raw!r}: expected a {base} number")
    return format(int(tidy, 16 if base == "hex" else 10), "X")


def message_id_candidates(raw: str) -> tuple[str, ...]:
    """Every spelling under which a matcher should look this id up.

    The tidy form first, then, if it is all decimal, its hex spelling, and, if it is all
    hex (decimal digits are hex too), its decimal spelling; duplicates dropped, so "0"
    gives ("0",) and "" gives (). See the module docstring for why.
    """
    tidy = normalise_message_id(raw)
    if not tidy:
        return ()
    found = [tidy]
    if len(tidy) <= _MAX_ID_LEN:
        if _DIGITS.fullmatch(tidy):
            found.append(format(int(tidy), "X"))
        if _HEX.fullmatch(tidy):
            found.append(str(int(tidy, 16)))
    return tuple(dict.fromkeys(found))


def format_receipt_text(
    *,
    message_id: str,
    submitted: int = 1,
    delivered: int | None = None,
    submit_date: datetime,
    done_date: datetime,
    stat: str,
    err: str = "000",
    text: str = "",
) -> str:
    """Write a receipt in the Appendix B layout, with 10-digit (YYMMDDhhmm) dates.

    ``delivered`` defaults to 1 for "DELIVRD" and 0 otherwise. Aware dates are written in
    UTC, naive ones as they are. ``text`` is cut to its first 20 characters, as in
    Appendix B.
    """
    if delivered is None:
        delivered = 1 if stat == "DELIVRD" else 0
    return (
        f"id:{message_id} sub:{submitted:03d} dlvrd:{delivered:03d}"
        f" submit date:{_format_date(submit_date)} done date:{_format_date(done_date)}"
        f" stat:{stat} err:{err} Text:{text[:20]}"
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _split_fields(text: str) -> dict[str, str]:
    """Map each lowercased key to the raw text up to the next key; "text" takes the rest.

    The first occurrence of a key wins.
    """
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for i, match in enumerate(matches):
        key = re.sub(r"[\s_]+", " ", match[1].lower())
        if key == "text":
            fields.setdefault(key, text[match.end() :])
            break
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields.setdefault(key, text[match.end() : end])
    return fields


def _first_word(value: str) -> str:
    words = value.split(None, 1)
    return words[0] if words else ""


def _to_int(value: str | None) -> int | None:
    word = _first_word(value or "")
    # The length cap keeps int() clear of its 4300-digit limit on hostile input.
    return int(word) if _DIGITS.fullmatch(word) and len(word) <= 18 else None


def _to_datetime(value: str | None) -> datetime | None:
    """YYMMDDhhmm (Appendix B) or YYMMDDhhmmss (common); anything else or impossible: None."""
    word = _first_word(value or "")
    if len(word) not in (10, 12) or not _DIGITS.fullmatch(word):
        return None
    parts = [int(word[i : i + 2]) for i in range(0, len(word), 2)]
    year, month, day, hour, minute = parts[:5]
    second = parts[5] if len(parts) == 6 else 0
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _format_date(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%y%m%d%H%M")


def _c_octet(value: bytes | None) -> str | None:
    """receipted_message_id is a C-Octet String: cut at the NUL (tolerate a missing one)."""
    if value is None:
        return None
    text = value.split(b"\x00", 1)[0].decode("latin-1").strip()
    return text or None


def _message_state(value: bytes | None) -> MessageState | None:
    if value is None or len(value) != 1 or value[0] not in _STATE_VALUES:
        return None
    return MessageState(value[0])


def _network_error(value: bytes | None) -> tuple[int, int] | None:
    """3 octets: network type (u8), then error code (u16, big-endian) (§5.3.2.31)."""
    if value is None or len(value) != 3:
        return None
    return value[0], int.from_bytes(value[1:], "big")
