"""Everything each handset received and sent: append-only, compact, queryable, exportable.

Theory of operation
-------------------
One record per event, held column-wise in typed arrays: time (8 bytes), number (8), kind
(1), state (1), message serial (8), text id (4), acknowledged-at (8): 38 bytes, about 42
with the arrays' growth slack. Texts are interned: an appeal sent to a million handsets
stores its text once (the raw octets and data_coding, decoded only when read), so a text
costs memory once per distinct text. ``max_records`` bounds the whole; records past it are
counted in ``dropped`` and not kept.

* An MT record (kind ``mt``) is written when the message centre accepts a submit for a
  number; its state is the final MessageState the message will reach.
* An MO record (``ja``, ``duplicate``, ``stop``, ...) is written when the handset sends it;
  its state counts the deliver_sm attempts made for it, and ``acked_at`` is when the ESME
  accepted it (NaN until then).

Queries by number build an index on first use and extend it incrementally, so recording
stays a handful of appends.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path

import msgspec

from smpp.constants import MessageState
from smpp.segment import parse_udh
from smpp.text import decode_text

__all__ = ["UDHI_FLAG", "Kind", "Ledger", "Record", "number_key"]


class Kind(IntEnum):
    """What a ledger record is about. MT is message-centre-to-handset; the rest are MO."""

    MT = 0
    JA = 1
    DUPLICATE = 2
    STOP = 3
    HELP = 4
    UNRELATED = 5
    LONG = 6
    STRANGER = 7
    TV = 8
    CANCELLED = 9

    @property
    def is_mo(self) -> bool:
        return self not in (Kind.MT, Kind.CANCELLED)


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One ledger entry as read back."""

    t: float
    number: str
    kind: str
    direction: str
    text: str
    message_id: str | None
    state: str | None = None
    attempts: int | None = None
    acked_at: float | None = None


def number_key(address: str) -> int | None:
    """An address as an int key (digits, optional '+'), or None for anything else."""
    digits = address[1:] if address.startswith("+") else address
    if not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


UDHI_FLAG = 0x100
"""Set in an MT record's coding when esm_class had UDHI (the text starts with a UDH)."""
TextKey = tuple[bytes, int] | str


class Ledger:
    """The append-only ledger. ``record_*`` are the hot path; the rest read it."""

    def __init__(self, max_records: int = 5_000_000, *, clock_offset: float = 0.0) -> None:
        self.max_records = max_records
        self.clock_offset = clock_offset
        """Added to record times on export: Trio's clock -> Unix time."""
        self.dropped = 0
        self._t = array("d")
        self._number = array("q")
        self._kind = bytearray()
        self._state = bytearray()
        self._serial = array("Q")
        self._text = array("I")
        self._acked = array("d")
        self._text_ids: dict[TextKey, int] = {}
        self._texts: list[TextKey] = []
        self._others: dict[str, int] = {}
        self._other_names: list[str] = []
        self._index: dict[int, list[int]] = {}
        self._indexed = 0

    def __len__(self) -> int:
        return len(self._t)

    # --- recording ---------------------------------------------------------------------------

    def number_id(self, address: str) -> int:
        """The stored key of an address: its digits, or a negative id for anything else."""
        key = number_key(address)
        if key is not None:
            return key
        other = self._others.get(address)
        if other is None:
            other = self._others[address] = -1 - len(self._other_names)
            self._other_names.append(address)
        return other

    def _intern(self, key: TextKey) -> int:
        tid = self._text_ids.get(key)
        if tid is None:
            tid = self._text_ids[key] = len(self._texts)
            self._texts.append(key)
        return tid

    def record(
        self, t: float, number: int, kind: int, state: int, serial: int, text: TextKey
    ) -> int:
        """Append one record; returns its index, or -1 when the ledger is full."""
        n = len(self._t)
        if n >= self.max_records:
            self.dropped += 1
            return -1
        self._t.append(t)
        self._number.append(number)
        self._kind.append(kind)
        self._state.append(state)
        self._serial.append(serial)
        self._text.append(self._intern(text))
        self._acked.append(math.nan)
        return n

    def record_mt(
        self, t: float, number: int, outcome: int, serial: int, raw: bytes, coding: int
    ) -> int:
        """A submit accepted for ``number``; ``coding`` is data_coding | (UDHI << 8)."""
        return self.record(t, number, Kind.MT, outcome, serial, (raw, coding))

    def attempted(self, index: int) -> None:
        """One more deliver_sm attempt for MO record ``index``."""
        if index >= 0 and self._state[index] < 255:
            self._state[index] += 1

    def acked(self, index: int, t: float) -> None:
        """The ESME accepted (a part of) MO record ``index`` at ``t``."""
        if index >= 0:
            self._acked[index] = t

    # --- reading -----------------------------------------------------------------------------

    def _number_text(self, key: int) -> str:
        return str(key) if key >= 0 else self._other_names[-1 - key]

    def _text_of(self, tid: int) -> str:
        key = self._texts[tid]
        if isinstance(key, str):
            return key
        raw, coding = key
        if coding & UDHI_FLAG:
            try:
                raw = parse_udh(raw)[1]
            except ValueError:
                pass
        return decode_text(raw, coding & 0xFF)

    def get(self, i: int) -> Record:
        kind = Kind(self._kind[i])
        acked = self._acked[i]
        mo = kind.is_mo
        serial = self._serial[i]
        return Record(
            t=self._t[i],
            number=self._number_text(self._number[i]),
            kind=kind.name.lower(),
            direction="mo" if mo else "mt",
            text=self._text_of(self._text[i]),
            message_id=format(serial, "x") if serial else None,
            state=None if mo else MessageState(self._state[i]).name,
            attempts=self._state[i] if mo else None,
            acked_at=None if math.isnan(acked) else acked,
        )

    def __iter__(self) -> Iterator[Record]:
        for i in range(len(self._t)):
            yield self.get(i)

    def _indices(self, number: str | int) -> list[int]:
        key = number if isinstance(number, int) else self.number_id(number)
        index = self._index
        numbers = self._number
        for i in range(self._indexed, len(numbers)):
            index.setdefault(numbers[i], []).append(i)
        self._indexed = len(numbers)
        return index.get(key, [])

    def for_number(self, number: str | int) -> list[Record]:
        """Every record of one number, in order."""
        return [self.get(i) for i in self._indices(number)]

    def received(self, number: str | int) -> list[Record]:
        """What the message centre accepted for this number (MT records)."""
        return [r for r in self.for_number(number) if r.direction == "mt"]

    def sent(self, number: str | int) -> list[Record]:
        """What this number sent (MO records)."""
        return [r for r in self.for_number(number) if r.direction == "mo"]

    def count(self, kind: Kind | None = None) -> int:
        if kind is None:
            return len(self._t)
        return self._kind.count(bytes((kind,)))

    def mt_counts(self) -> Counter[int]:
        """How many messages the message centre accepted for each number (MT records), by
        number key (``number_key``; other addresses have negative ids): missed and
        duplicated deliveries of a million-message fan-out without building a Record each."""
        mt = Kind.MT
        return Counter(n for n, k in zip(self._number, self._kind, strict=True) if k == mt)

    def received_after_opt_out(self) -> list[Record]:
        """MT records for a number at or after the ESME acknowledged that number's STOP."""
        stopped: dict[int, float] = {}
        for i in range(len(self._t)):
            if self._kind[i] == Kind.STOP and not math.isnan(self._acked[i]):
                number = self._number[i]
                stopped[number] = min(stopped.get(number, math.inf), self._acked[i])
        return [
            self.get(i)
            for i in range(len(self._t))
            if self._kind[i] == Kind.MT and self._t[i] >= stopped.get(self._number[i], math.inf)
        ]

    def export_jsonl(self, path: str | Path) -> int:
        """Write every record as one JSON object per line; returns the number written.

        Times (``t``, ``acked_at``) are written as Unix time.
        """
        encoder = msgspec.json.Encoder()
        offset = self.clock_offset
        n = 0
        with Path(path).open("wb") as out:
            for record in self:
                acked = record.acked_at
                record = msgspec.structs.replace(
                    record,
                    t=round(record.t + offset, 3),
                    acked_at=None if acked is None else round(acked + offset, 3),
                )
                out.write(encoder.encode(record))
                out.write(b"\n")
                n += 1
        return n

    def summary(self) -> dict[str, int]:
        """Records per kind (and how many were dropped)."""
        out = {kind.name.lower(): self.count(kind) for kind in Kind}
        out["dropped"] = self.dropped
        return out
