"""Mutations of valid PDUs for the fuzzer (``bench.fuzz``), driven by a seeded PRNG.

A ``Seed`` is one valid PDU as the project's encoder wrote it, with the offsets a targeted
mutation needs (where the mandatory part ends, where sm_length sits). ``Mutator.pdu()``
takes a seed and applies one to three mutations, then usually rewrites command_length to
the new size, so that most defects reach the body parser instead of the framing check.
Speed matters more than cleverness: ten million of these should take a few minutes.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from smpp.codec import encode_body, encode_pdu
from smpp.constants import GENERIC_NACK_BIT, HEADER_SIZE, CommandId, CommandStatus
from smpp.pdu import Pdu
from smpp.tlv import TLV_TYPES

__all__ = ["MUTATIONS", "Mutator", "Seed", "seed_of"]

_U32: Final = struct.Struct(">I")
_TL: Final = struct.Struct(">HH")
_KNOWN_IDS: Final = [int(c) for c in CommandId]
_STATUSES: Final = [int(s) for s in CommandStatus]
_TAGS: Final = sorted(TLV_TYPES)
_INTERESTING: Final = (0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF)


class Seed(msgspec.Struct, frozen=True, gc=False):
    """One valid PDU: its bytes, its command_id, the end of its mandatory part and the
    offset of its sm_length octet (-1 when it has none)."""

    raw: bytes
    command_id: int
    mandatory_end: int
    sm_at: int = -1


def seed_of(pdu: Pdu, sequence_number: int, command_status: int = 0) -> Seed:
    """The seed for ``pdu`` encoded with the project's encoder (body always written)."""
    raw = encode_pdu(pdu, sequence_number, command_status)
    if len(raw) == HEADER_SIZE:  # a header-only error response: mutate the full form too
        raw = _U32.pack(HEADER_SIZE + len(encode_body(pdu))) + raw[4:] + encode_body(pdu)
    bare = msgspec.structs.replace(pdu, tlvs=()) if getattr(pdu, "tlvs", ()) else pdu
    mandatory_end = HEADER_SIZE + len(encode_body(bare))
    short_message = getattr(pdu, "short_message", None)
    sm_at = -1 if short_message is None else mandatory_end - len(short_message) - 1
    return Seed(raw, pdu.command_id, mandatory_end, sm_at)


Mutation = Callable[[random.Random, bytearray, Seed], bool]
"""Changes the buffer in place; True when it set command_length itself (keep the lie)."""


def _flip(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    for _ in range(rng.randint(1, 4)):
        if buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return False


def _byte(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    if buf:
        value = rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256)
        buf[rng.randrange(len(buf))] = value
    return False


def _filler(rng: random.Random, size: int) -> bytes:
    kind = rng.randrange(3)
    if kind == 0:
        return rng.randbytes(size)
    return (b"\0" if kind == 1 else b"9") * size


def _insert(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    size = rng.randint(1, 16) if rng.random() < 0.9 else rng.randint(17, 300)
    at = rng.randint(min(HEADER_SIZE, len(buf)), len(buf))
    buf[at:at] = _filler(rng, size)
    return False


def _delete(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    if buf:
        at = rng.randrange(len(buf))
        del buf[at : at + rng.randint(1, 16)]
    return False


def _truncate(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    del buf[rng.randint(0, len(buf)) :]
    return False


def _extend(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    buf += _filler(rng, rng.randint(1, 32))
    return False


def _length(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    if len(buf) < 4:
        return False
    pick = rng.randrange(6)
    if pick == 0:
        value = rng.randrange(HEADER_SIZE)
    elif pick == 1:
        value = max(0, len(buf) + rng.choice((-1, 1)) * rng.randint(1, 8))
    elif pick == 2:
        value = rng.randint(HEADER_SIZE, 70_000)
    elif pick == 3:
        value = rng.choice((0x10000, 0x10001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF))
    else:
        value = rng.getrandbits(32)
    buf[0:4] = _U32.pack(value)
    return True


def _command_id(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    if len(buf) < 8:
        return False
    pick = rng.randrange(6)
    if pick == 0:
        value = rng.choice(_KNOWN_IDS)
    elif pick == 1:
        value = rng.choice(_KNOWN_IDS) | GENERIC_NACK_BIT
    elif pick == 2:
        value = rng.choice(_KNOWN_IDS) & ~GENERIC_NACK_BIT
    elif pick == 3:
        value = rng.randrange(0x200)
    elif pick == 4:
        value = GENERIC_NACK_BIT | rng.randrange(0x200)
    else:
        value = rng.getrandbits(32)
    buf[4:8] = _U32.pack(value)
    return False


def _status(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    if len(buf) >= 12:
        value = rng.choice(_STATUSES) if rng.random() < 0.7 else rng.getrandbits(32)
        buf[8:12] = _U32.pack(value)
    return False


def _sequence(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    if len(buf) >= HEADER_SIZE:
        value = rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, rng.getrandbits(32)))
        buf[12:16] = _U32.pack(value)
    return False


def _tlv(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    """A TLV at the end: a standard tag or any, its length right, wrong for the tag, or
    past the end of the body; or only part of a TLV header."""
    if rng.random() < 0.1:
        buf += rng.randbytes(rng.randint(1, 3))
        return False
    tag = rng.choice(_TAGS) if rng.random() < 0.7 else rng.getrandbits(16)
    low, high = TLV_TYPES.get(tag, ("octets", 0, 64))[1:]
    pick = rng.randrange(4)
    if pick == 0:
        size = rng.randint(low, min(high, 64))
    elif pick == 1:
        size = max(0, min(rng.choice((low - 1, high + 1)), 300))
    else:
        size = rng.randint(0, 300)
    declared = size if rng.random() < 0.75 else min(0xFFFF, size + rng.randint(1, 40))
    buf += _TL.pack(tag, declared) + rng.randbytes(size)
    return False


def _no_nul(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    """A C-octet string loses its terminator (any NUL of the mandatory part)."""
    end = min(seed.mandatory_end, len(buf))
    nuls = [i for i in range(HEADER_SIZE, end) if not buf[i]]
    if nuls:
        buf[rng.choice(nuls)] = rng.randint(1, 255)
    return False


def _long_cstr(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    """A C-octet string grows past its maximum size (up to 80 octets before its NUL)."""
    end = min(seed.mandatory_end, len(buf))
    nuls = [i for i in range(HEADER_SIZE, end) if not buf[i]]
    if nuls:
        at = rng.choice(nuls)
        buf[at:at] = b"7" * rng.randint(1, 80)
    return False


def _sm_length(rng: random.Random, buf: bytearray, seed: Seed) -> bool:
    """sm_length lies (or says 255 and has 255 octets behind it)."""
    at = seed.sm_at
    if not 0 <= at < len(buf):
        return False
    if rng.random() < 0.25:
        buf[at] = 255
        buf[at + 1 :] = rng.randbytes(255)
    else:
        buf[at] = rng.choice((255, 254, buf[at] + 1 & 0xFF, rng.randrange(256)))
    return False


MUTATIONS: Final[dict[str, tuple[Mutation, int]]] = {
    "bit_flip": (_flip, 6),
    "byte_set": (_byte, 4),
    "insert": (_insert, 4),
    "delete": (_delete, 4),
    "truncate": (_truncate, 3),
    "extend": (_extend, 2),
    "length_lie": (_length, 3),
    "command_id": (_command_id, 4),
    "command_status": (_status, 1),
    "sequence": (_sequence, 1),
    "tlv": (_tlv, 5),
    "no_nul": (_no_nul, 4),
    "long_c_octet": (_long_cstr, 4),
    "sm_length": (_sm_length, 3),
}
"""Name -> (mutation, weight). ``Mutator`` adds "splice" (weight 2): a second PDU in the
same read, or the header of one on the body of another."""

_SPLICE_WEIGHT: Final = 2


class Mutator:
    """Seeded source of mutated PDUs.

    Args:
        corpus: valid PDUs to start from.
        rng: the PRNG; the same seed gives the same PDUs.
        valid_share: the share of PDUs passed on unchanged.
    """

    def __init__(
        self, corpus: Sequence[Seed], rng: random.Random, valid_share: float = 0.1
    ) -> None:
        if not corpus:
            raise ValueError("empty corpus")
        self.rng = rng
        self.valid_share = valid_share
        self._corpus = list(corpus)
        self._by_id: dict[int, list[Seed]] = {}
        for seed in corpus:
            self._by_id.setdefault(seed.command_id, []).append(seed)
        self._names = [*MUTATIONS, "splice"]
        weights = [weight for _, weight in MUTATIONS.values()] + [_SPLICE_WEIGHT]
        self._cum_weights = list(itertools.accumulate(weights))

    def pdu(self, command_id: int | None = None) -> tuple[bytes, tuple[str, ...]]:
        """A PDU (mutated, or valid as it is) and the names of the mutations applied.

        Args:
            command_id: start from a seed of this command, if the corpus has one.
        """
        rng = self.rng
        pool = self._by_id.get(command_id, self._corpus) if command_id else self._corpus
        seed = rng.choice(pool)
        if rng.random() < self.valid_share:
            return seed.raw, ()
        buf = bytearray(seed.raw)
        count = 1 if rng.random() < 0.6 else rng.randint(2, 3)
        names = tuple(rng.choices(self._names, cum_weights=self._cum_weights, k=count))
        length_set = False
        for name in names:
            if name == "splice":
                self._splice(buf)
            else:
                length_set |= MUTATIONS[name][0](rng, buf, seed)
        if not length_set and len(buf) >= 4 and rng.random() < 0.8:
            buf[0:4] = _U32.pack(len(buf))
        return bytes(buf), names

    def _splice(self, buf: bytearray) -> None:
        other = self.rng.choice(self._corpus).raw
        if self.rng.random() < 0.5:
            buf += other
        else:
            buf[HEADER_SIZE:] = other[HEADER_SIZE:]
