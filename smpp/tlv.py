"""Optional parameters (TLVs): kept raw on the wire, typed on request.

Every TLV is held as its tag and its raw value octets, so a TLV we do not know (a vendor's,
or one from a later version) is written back byte for byte. The spec's type for each
standard tag (§5.3.2) is in ``TLV_TYPES``; ``Tlv.typed()`` and ``Tlv.of()`` convert.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from smpp.constants import CommandStatus, TlvTag
from smpp.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "TLV_TYPES",
    "Tlv",
    "TlvValue",
    "decode_tlvs",
    "encode_tlvs",
    "find_tlv",
]

TlvValue = int | str | bytes | None

# Kinds: "u8"/"u16"/"u32" integers, "cstr" a NUL-terminated string, "octets" raw,
# "flag" a zero-length presence marker. Sizes are (min, max) value octets (§5.3.2).
_INT_SIZES: Final = {"u8": 1, "u16": 2, "u32": 4}

TLV_TYPES: Final[dict[int, tuple[str, int, int]]] = {
    TlvTag.DEST_ADDR_SUBUNIT: ("u8", 1, 1),
    TlvTag.DEST_NETWORK_TYPE: ("u8", 1, 1),
    TlvTag.DEST_BEARER_TYPE: ("u8", 1, 1),
    TlvTag.DEST_TELEMATICS_ID: ("u16", 2, 2),
    TlvTag.SOURCE_ADDR_SUBUNIT: ("u8", 1, 1),
    TlvTag.SOURCE_NETWORK_TYPE: ("u8", 1, 1),
    TlvTag.SOURCE_BEARER_TYPE: ("u8", 1, 1),
    TlvTag.SOURCE_TELEMATICS_ID: ("u8", 1, 1),
    TlvTag.QOS_TIME_TO_LIVE: ("u32", 4, 4),
    TlvTag.PAYLOAD_TYPE: ("u8", 1, 1),
    TlvTag.ADDITIONAL_STATUS_INFO_TEXT: ("cstr", 1, 256),
    TlvTag.RECEIPTED_MESSAGE_ID: ("cstr", 1, 65),
    TlvTag.MS_MSG_WAIT_FACILITIES: ("u8", 1, 1),
    TlvTag.PRIVACY_INDICATOR: ("u8", 1, 1),
    TlvTag.SOURCE_SUBADDRESS: ("octets", 2, 23),
    TlvTag.DEST_SUBADDRESS: ("octets", 2, 23),
    TlvTag.USER_MESSAGE_REFERENCE: ("u16", 2, 2),
    TlvTag.USER_RESPONSE_CODE: ("u8", 1, 1),
    TlvTag.SOURCE_PORT: ("u16", 2, 2),
    TlvTag.DESTINATION_PORT: ("u16", 2, 2),
    TlvTag.SAR_MSG_REF_NUM: ("u16", 2, 2),
    TlvTag.LANGUAGE_INDICATOR: ("u8", 1, 1),
    TlvTag.SAR_TOTAL_SEGMENTS: ("u8", 1, 1),
    TlvTag.SAR_SEGMENT_SEQNUM: ("u8", 1, 1),
    TlvTag.SC_INTERFACE_VERSION: ("u8", 1, 1),
    TlvTag.CALLBACK_NUM_PRES_IND: ("u8", 1, 1),
    TlvTag.CALLBACK_NUM_ATAG: ("octets", 0, 65),
    TlvTag.NUMBER_OF_MESSAGES: ("u8", 1, 1),
    TlvTag.CALLBACK_NUM: ("octets", 4, 19),
    TlvTag.DPF_RESULT: ("u8", 1, 1),
    TlvTag.SET_DPF: ("u8", 1, 1),
    TlvTag.MS_AVAILABILITY_STATUS: ("u8", 1, 1),
    TlvTag.NETWORK_ERROR_CODE: ("octets", 3, 3),
    TlvTag.MESSAGE_PAYLOAD: ("octets", 0, 65535),
    TlvTag.DELIVERY_FAILURE_REASON: ("u8", 1, 1),
    TlvTag.MORE_MESSAGES_TO_SEND: ("u8", 1, 1),
    TlvTag.MESSAGE_STATE: ("u8", 1, 1),
    TlvTag.USSD_SERVICE_OP: ("octets", 1, 1),
    TlvTag.DISPLAY_TIME: ("u8", 1, 1),
    TlvTag.SMS_SIGNAL: ("u16", 2, 2),
    TlvTag.MS_VALIDITY: ("u8", 1, 1),
    TlvTag.ALERT_ON_MESSAGE_DELIVERY: ("flag", 0, 0),
    TlvTag.ITS_REPLY_TYPE: ("u8", 1, 1),
    TlvTag.ITS_SESSION_INFO: ("octets", 2, 2),
}

_TL = struct.Struct(">HH")


class Tlv(msgspec.Struct, frozen=True, gc=False):
    """One optional parameter: its tag and its value octets, exactly as on the wire."""

    tag: int
    value: bytes = b""

    def typed(self) -> TlvValue:
        """The value in the spec's type: int, str (C-octet string), bytes, or None (flag).

        Raises:
            RemoteProtocolError: ESME_RINVPARLEN when the length does not fit the tag's type.
        """
        spec = TLV_TYPES.get(self.tag)
        if spec is None:
            return self.value
        kind, low, high = spec
        n = len(self.value)
        if not low <= n <= high:
            raise RemoteProtocolError(
                f"TLV 0x{self.tag:04X}: value length {n} outside {low}..{high}",
                CommandStatus.ESME_RINVPARLEN,
            )
        if kind in _INT_SIZES:
            return int.from_bytes(self.value, "big")
        if kind == "cstr":
            return self.value.rstrip(b"\0").decode("latin-1")
        if kind == "flag":
            return None
        return self.value

    @classmethod
    def of(cls, tag: int, value: TlvValue) -> Tlv:
        """Build a TLV from a typed value (an int for integer tags, a str for strings)."""
        kind = TLV_TYPES.get(tag, ("octets", 0, 65535))[0]
        try:
            if kind in _INT_SIZES:
                if not isinstance(value, int):
                    raise TypeError(f"expected int, got {type(value).__name__}")
                raw = value.to_bytes(_INT_SIZES[kind], "big")
            elif kind == "cstr":
                text = value if isinstance(value, str) else bytes(value or b"").decode("latin-1")
                if "\0" in text:
                    raise TypeError("a C-octet string cannot contain NUL")
                raw = text.encode("latin-1") + b"\0"
            elif kind == "flag":
                raw = b""
            elif isinstance(value, bytes):
                raw = value
            else:
                raise TypeError(f"expected bytes, got {type(value).__name__}")
        except (TypeError, OverflowError, UnicodeEncodeError) as exc:
            raise LocalProtocolError(f"TLV 0x{tag:04X}: {exc}") from exc
        spec = TLV_TYPES.get(tag)
        if spec is not None and not spec[1] <= len(raw) <= spec[2]:
            raise LocalProtocolError(
                f"TLV 0x{tag:04X}: value length {len(raw)} outside {spec[1]}..{spec[2]}"
            )
        return cls(tag, raw)


def decode_tlvs(
    data: bytes, pos: int, end: int, _unpack: Any = _TL.unpack_from, _tlv: type[Tlv] = Tlv
) -> tuple[Tlv, ...]:
    """Parse the TLV stream in ``data[pos:end]``; it must end exactly at ``end``.

    Raises:
        RemoteProtocolError: ESME_RINVOPTPARSTREAM for a truncated header or value.
    """
    out: list[Tlv] = []
    append = out.append
    while pos < end:
        if pos + 4 > end:
            raise RemoteProtocolError(
                f"TLV header truncated: {end - pos} octets left, need 4",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tag, length = _unpack(data, pos)
        pos += 4
        nxt = pos + length
        if nxt > end:
            raise RemoteProtocolError(
                f"TLV 0x{tag:04X} length {length} exceeds the {end - pos} octets left",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        append(_tlv(tag, data[pos:nxt]))
        pos = nxt
    return tuple(out)


def encode_tlvs(tlvs: Iterable[Tlv]) -> bytes:
    """The wire form of ``tlvs``, in order."""
    pack = _TL.pack
    parts: list[bytes] = []
    for tlv in tlvs:
        if len(tlv.value) > 0xFFFF:
            raise LocalProtocolError(f"TLV 0x{tlv.tag:04X}: value over 65535 octets")
        parts.append(pack(tlv.tag, len(tlv.value)))
        parts.append(tlv.value)
    return b"".join(parts)


def find_tlv(tlvs: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first TLV with ``tag``, or None."""
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv
    return None
