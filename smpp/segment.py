"""Concatenated SMS: split outbound text into parts, put inbound parts back together.

Theory of operation. One SMS carries 140 octets of user data (TS 23.040 §9.2.3.16). A
concatenated part gives some of them to a User Data Header (§9.2.3.24) holding the
concatenation IE: 8-bit reference (IEI 0x00, §9.2.3.24.1) or 16-bit (IEI 0x08, §9.2.3.24.8).
What is left is counted in the alphabet's units, so every limit (160/153/152 septets,
140/134/133 octets, 70/67/66 UCS2 units) is derived by ``capacity`` rather than tabled.

Splitting works on the encoded octets and only ever moves a cut backwards: a GSM escape
pair (ESC + code) or a UTF-16 surrogate pair is never divided, so every part decodes alone.

Reassembly joins payload *octets*, not text, so a sender that did divide a pair still decodes
correctly. ``Reassembler`` serves both UDH parts and SAR TLVs (``ConcatInfo.from_sar``).
"""

from __future__ import annotations

from collections.abc import Hashable

import msgspec

from smpp.text import Alphabet, alphabet_of, choose_data_coding, encode_text

__all__ = [
    "ConcatInfo",
    "Expired",
    "Part",
    "Reassembler",
    "UdhError",
    "build_concat_udh",
    "capacity",
    "count_segments",
    "parse_udh",
    "split_message",
]

USER_DATA_OCTETS = 140
"""TP-UD of one SMS (TS 23.040 §9.2.3.16)."""

IEI_CONCAT_8 = 0x00
"""Concatenated short messages, 8-bit reference (TS 23.040 §9.2.3.24.1)."""

IEI_CONCAT_16 = 0x08
"""Concatenated short messages, 16-bit reference (TS 23.040 §9.2.3.24.8)."""

_ESC = 0x1B
_MAX_PARTS = 255  # the "maximum number" field is one octet


class UdhError(ValueError):
    """A User Data Header, or a part's concatenation numbers, cannot be right."""


class ConcatInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Where one part sits in its message, from a UDH IE or the SAR TLVs."""

    reference: int
    total: int
    seqnum: int
    ref_bits: int = 8

    @classmethod
    def from_sar(
        cls, sar_msg_ref_num: int, sar_total_segments: int, sar_segment_seqnum: int
    ) -> ConcatInfo:
        """From the SMPP 3.4 SAR TLVs (§5.3.2.22-24); sar_msg_ref_num is 16 bits."""
        return cls(
            reference=sar_msg_ref_num,
            total=sar_total_segments,
            seqnum=sar_segment_seqnum,
            ref_bits=16,
        )


class Part(msgspec.Struct, frozen=True, kw_only=True):
    """One submit_sm's worth: set esm_class UDHI when ``esm_class_udhi``."""

    short_message: bytes
    esm_class_udhi: bool
    data_coding: int
    part_number: int
    total_parts: int
    reference: int


def capacity(data_coding: int, udh_len: int = 0) -> int:
    """Units of text that fit beside a UDH of ``udh_len`` octets (UDHL included).

    For GSM 7-bit the UDH is padded to a septet boundary (TS 23.040 §9.2.3.24), hence the
    floor over bits.
    """
    free = USER_DATA_OCTETS - udh_len
    alphabet = alphabet_of(data_coding)
    if alphabet is Alphabet.GSM7:
        return free * 8 // 7
    return free // 2 if alphabet is Alphabet.UCS2 else free


def build_concat_udh(reference: int, total: int, seqnum: int, ref_bits: int = 8) -> bytes:
    """UDH with one concat IE: ``05 00 03 ref total seq`` / ``06 08 04 ref16 total seq``."""
    if ref_bits == 8:
        return bytes((5, IEI_CONCAT_8, 3, reference, total, seqnum))
    return bytes((6, IEI_CONCAT_16, 4, reference >> 8, reference & 0xFF, total, seqnum))


def _chunks(payload: bytes, data_coding: int, ref_bits: int) -> list[bytes]:
    """Cut encoded text into part payloads, never dividing an escape or surrogate pair."""
    alphabet = alphabet_of(data_coding)
    unit = 2 if alphabet is Alphabet.UCS2 else 1
    if len(payload) <= capacity(data_coding) * unit:
        return [payload]
    size = capacity(data_coding, 6 if ref_bits == 8 else 7) * unit
    chunks: list[bytes] = []
    start = 0
    while len(payload) - start > size:
        end = start + size
        if alphabet is Alphabet.GSM7 and payload[end - 1] == _ESC:
            end -= 1  # ESC belongs with the code after it (TS 23.038 §6.2.1.1)
        elif alphabet is Alphabet.UCS2 and 0xD8 <= payload[end - 2] <= 0xDB:
            end -= 2  # a high surrogate stays with its low surrogate
        chunks.append(payload[start:end])
        start = end
    chunks.append(payload[start:])
    return chunks


def _check_ref_bits(ref_bits: int) -> None:
    if ref_bits not in (8, 16):
        raise ValueError(f"ref_bits must be 8 or 16, got {ref_bits}")


def count_segments(text: str, data_coding: int | None = None, *, ref_bits: int = 8) -> int:
    """How many submit_sm ``text`` needs (the coding from ``choose_data_coding`` if None)."""
    _check_ref_bits(ref_bits)
    coding = choose_data_coding(text) if data_coding is None else data_coding
    return len(_chunks(encode_text(text, coding), coding, ref_bits))


def split_message(
    text: str,
    *,
    reference: int,
    ref_bits: int = 8,
    data_coding: int | None = None,
    max_parts: int = _MAX_PARTS,
) -> list[Part]:
    """Encode ``text`` and split it into parts; one part with no UDH when it fits.

    Raises:
        ValueError: bad ref_bits or reference, or more parts than max_parts.
        TextEncodingError: ``text`` does not fit the given data_coding.
    """
    _check_ref_bits(ref_bits)
    if not 0 <= reference < 1 << ref_bits:
        raise ValueError(f"reference {reference} does not fit in {ref_bits} bits")
    if not 1 <= max_parts <= _MAX_PARTS:
        raise ValueError(f"max_parts must be 1..{_MAX_PARTS}, got {max_parts}")
    coding = int(choose_data_coding(text) if data_coding is None else data_coding)
    chunks = _chunks(encode_text(text, coding), coding, ref_bits)
    total = len(chunks)
    if total > max_parts:
        raise ValueError(f"message needs {total} parts, max_parts is {max_parts}")
    return [
        Part(
            short_message=(build_concat_udh(reference, total, n, ref_bits) if total > 1 else b"")
            + chunk,
            esm_class_udhi=total > 1,
            data_coding=coding,
            part_number=n,
            total_parts=total,
            reference=reference,
        )
        for n, chunk in enumerate(chunks, 1)
    ]


def parse_udh(short_message: bytes) -> tuple[ConcatInfo | None, bytes]:
    """Walk the UDH of a message whose esm_class has UDHI set.

    Returns the concatenation info (None if absent or, per §9.2.3.24.1, a total or seqnum of
    0 or seqnum > total: the IE is then ignored) and the payload after the UDH. When an IE
    repeats, the last one counts (§9.2.3.24).

    Raises:
        UdhError: the UDH overruns the message or an IE overruns the UDH.
    """
    if not short_message:
        raise UdhError("UDHI set but short_message is empty")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise UdhError(f"UDHL {end - 1} exceeds the {len(short_message) - 1} octets after it")
    info: ConcatInfo | None = None
    pos = 1
    while pos < end:
        if pos + 2 > end:
            raise UdhError(f"IE header at offset {pos} overruns the UDH ({end} octets)")
        iei, body, pos = short_message[pos], pos + 2, pos + 2 + short_message[pos + 1]
        if pos > end:
            raise UdhError(f"IE 0x{iei:02X} ends at offset {pos}, beyond the UDH ({end} octets)")
        if iei in (IEI_CONCAT_8, IEI_CONCAT_16):
            info = _concat_ie(iei, short_message[body:pos])
    return info, short_message[end:]


def _concat_ie(iei: int, data: bytes) -> ConcatInfo | None:
    expected = 3 if iei == IEI_CONCAT_8 else 4
    if len(data) != expected:
        raise UdhError(f"IE 0x{iei:02X} length: expected {expected}, got {len(data)}")
    reference = int.from_bytes(data[:-2], "big")
    total, seqnum = data[-2], data[-1]
    if total == 0 or not 1 <= seqnum <= total:
        return None
    return ConcatInfo(reference=reference, total=total, seqnum=seqnum, ref_bits=8 * len(data[:-2]))


class Expired(msgspec.Struct, frozen=True, kw_only=True):
    """An incomplete message dropped by ``Reassembler.expire``."""

    key: Hashable
    reference: int
    total: int
    received: int
    first_seen: float


class _Pending:
    __slots__ = ("first_seen", "parts", "size", "total")

    def __init__(self, total: int, first_seen: float) -> None:
        self.total = total
        self.first_seen = first_seen
        self.parts: dict[int, bytes] = {}
        self.size = 0


class Reassembler:
    """Holds inbound parts until each message is whole; sans-IO, the caller passes ``now``.

    Messages are held per (key, reference), so a key of (source_addr, destination_addr) is
    enough. Memory is bounded by ``max_pending`` messages and ``max_bytes`` of payload; past
    either the oldest message is dropped and counted in ``evictions``. ``now`` must not go
    backwards (Trio's clock does not): held messages stay in first-seen order.
    """

    def __init__(
        self, max_pending: int = 10_000, timeout: float = 600.0, max_bytes: int = 16 << 20
    ) -> None:
        if max_pending < 1 or max_bytes < 1 or timeout <= 0:
            raise ValueError("max_pending, max_bytes and timeout must be positive")
        self.max_pending = max_pending
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.held_bytes = 0
        self.evictions = 0
        self._pending: dict[tuple[Hashable, int], _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: Hashable, info: ConcatInfo, payload: bytes, now: float) -> bytes | None:
        """Store one part; return the joined payload once every part is in, else None.

        A repeated part is ignored. Raises UdhError on total 0, seqnum 0 or > total, or a
        total that differs from the one already held for this key and reference.
        """
        if info.total < 1 or not 1 <= info.seqnum <= info.total:
            raise UdhError(f"part {info.seqnum} of {info.total} is impossible")
        if info.total == 1:
            return payload
        slot = (key, info.reference)
        entry = self._pending.get(slot)
        if entry is None:
            while len(self._pending) >= self.max_pending:
                self._evict_oldest()
            entry = self._pending[slot] = _Pending(info.total, now)
        elif entry.total != info.total:
            raise UdhError(f"reference {info.reference}: total {info.total}, held {entry.total}")
        if info.seqnum in entry.parts:
            return None
        entry.parts[info.seqnum] = payload
        entry.size += len(payload)
        self.held_bytes += len(payload)
        if len(entry.parts) == entry.total:
            self._drop(slot)
            return b"".join(entry.parts[n] for n in range(1, entry.total + 1))
        while self.held_bytes > self.max_bytes:
            self._evict_oldest()
        return None

    def expire(self, now: float) -> list[Expired]:
        """Drop and describe the incomplete messages first seen ``timeout`` or more ago."""
        expired: list[Expired] = []
        for (key, reference), entry in list(self._pending.items()):
            if now - entry.first_seen < self.timeout:
                break
            self._drop((key, reference))
            expired.append(
                Expired(
                    key=key,
                    reference=reference,
                    total=entry.total,
                    received=len(entry.parts),
                    first_seen=entry.first_seen,
                )
            )
        return expired

    def discard(self, key: Hashable, reference: int) -> bool:
        """Forget a message (say, its reference is being reused); True if one was held."""
        return self._drop((key, reference)) is not None

    def _evict_oldest(self) -> None:
        self._drop(next(iter(self._pending)))
        self.evictions += 1

    def _drop(self, slot: tuple[Hashable, int]) -> _Pending | None:
        entry = self._pending.pop(slot, None)
        if entry is not None:
            self.held_bytes -= entry.size
        return entry
