"""A seeded population of handsets and the model that decides how each one answers.

Theory of operation
-------------------
Handset ``i`` has the number ``first_number + i``. Its whole state is two bytes (how many
messages it has received, saturating at 65535) and one bit (opted out), so a million
handsets cost about 2.1 MB.

Every decision about one message is drawn from a hash of (seed, handset, k), where k counts
the messages that handset received before this one: the same seed and the same messages to
a handset give the same outcome and the same replies, whatever order the handsets were
messaged in and however the engine interleaves them. The per-message draws (outcome,
delivery delay, reply or not) come from Python's hash of int tuples, which is fixed for a
given Python version and costs a tenth of a microsecond; only a message that gets a reply
pays for BLAKE2b, which gives 16 more independent uniforms. The decision uses:

* the receipt outcome (DELIVRD, UNDELIV, EXPIRED, REJECTD in the configured mix) and the
  delivery delay (``delay`` plus a uniform share of ``jitter``);
* for a delivered message to a handset that has not opted out, one reply category over
  the unit interval, in this order: JA (``reply_probability``), STOP, HELP, unrelated text,
  a long multi-part text; what is left is silence. If the probabilities add up to more
  than 1, the later categories get what remains (so ``--reply-probability 1`` means JA);
* the reply delay: ``delay_min`` plus a log-normal with median ``delay_median`` and shape
  ``delay_sigma``. With the defaults (5 s, 50 min, 1.5) a few replies come within the first
  minute, about 55% within the first hour and 1-2% after a day, the shape measured after
  real broadcasts (reference/campaign.md §2a);
* duplicates: with ``duplicate_probability`` the JA is sent again (and again, at most three
  extra), each some ``duplicate_gap`` later;
* with ``stranger_probability`` a number just above the population, never messaged, also
  sends a JA.

All delays are divided by the time compression factor.
"""

from __future__ import annotations

import hashlib
import math
import struct
from array import array
from bisect import bisect_right
from typing import Final, NamedTuple

from smpp.constants import MessageState
from smpp.simulator.config import HandsetConfig, ReceiptConfig
from smpp.simulator.ledger import Kind

__all__ = ["STRANGER_RANGE", "Decision", "Handsets", "Reply"]

STRANGER_RANGE: Final = 1_000_000
"""Strangers' numbers lie in [first + count, first + count + STRANGER_RANGE)."""

_KEY: Final = struct.Struct("<qqq")
_UNIFORMS: Final = struct.Struct("<16I")
_SCALE: Final = 1.0 / 4294967296.0
_STATES: Final = {
    "DELIVRD": MessageState.DELIVERED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTED,
}
_NO_REPLIES: tuple[Reply, ...] = ()
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)
_DELIVERED: Final = int(MessageState.DELIVERED)


class Reply(NamedTuple):
    """One mobile-originated message a handset will send, ``delay`` after the submit."""

    delay: float
    kind: Kind
    text: str
    number: int


class Decision(NamedTuple):
    """What happens to one submitted message."""

    outcome: int
    """MessageState value of the final state."""
    delivery_delay: float
    replies: tuple[Reply, ...]


def _cumulative(weights: dict[str, float]) -> tuple[list[float], list[str]]:
    total = sum(weights.values())
    bounds: list[float] = []
    running = 0.0
    for weight in weights.values():
        running += weight / total
        bounds.append(running)
    bounds[-1] = 1.0
    return bounds, list(weights)


def _pick(bounds: list[float], items: list[str], u: float) -> str:
    for bound, item in zip(bounds, items, strict=True):
        if u < bound:
            return item
    return items[-1]


class Handsets:
    """The population and its behaviour model.

    Args:
        config: the [handsets] table.
        receipts: the [receipts] table (outcome mix and delivery delay).
        seed: the simulator's seed.
        time_compression: every delay is divided by this.
    """

    def __init__(
        self,
        config: HandsetConfig,
        receipts: ReceiptConfig,
        *,
        seed: int,
        time_compression: float = 1.0,
    ) -> None:
        self.config = config
        self.first = int(config.first_number)
        self.count = config.count
        self.seed = seed
        self._received = array("H", bytes(2 * config.count))
        self._opted_out = bytearray((config.count + 7) // 8)
        self._scale = 1.0 / time_compression
        self._delay = receipts.delay
        self._jitter = receipts.jitter
        bounds, words = _cumulative(receipts.outcomes)
        self._bounds = bounds[:-1]  # bisect_right over the inner bounds: index of the outcome
        self._states = [int(_STATES[w]) for w in words]
        self._variants = _cumulative(config.variants)
        c = config
        running, categories = 0.0, []
        for kind, p in (
            (Kind.JA, c.reply_probability),
            (Kind.STOP, c.stop_probability),
            (Kind.HELP, c.help_probability),
            (Kind.UNRELATED, c.unrelated_probability),
            (Kind.LONG, c.long_probability),
        ):
            running = min(1.0, running + p)
            categories.append((running, kind))
        self._categories = categories
        self._any_reply = running
        self._mu = math.log(c.delay_median)

    # --- numbers and state -------------------------------------------------------------------

    def index_of(self, number: int) -> int:
        """The handset index of ``number``, or -1 when it is not one of ours."""
        index = number - self.first
        return index if 0 <= index < self.count else -1

    def number_of(self, index: int) -> str:
        return str(self.first + index)

    def is_opted_out(self, index: int) -> bool:
        return bool(self._opted_out[index >> 3] & (1 << (index & 7)))

    def opt_out(self, index: int) -> None:
        self._opted_out[index >> 3] |= 1 << (index & 7)

    def opted_out_count(self) -> int:
        return sum(bin(b).count("1") for b in self._opted_out)

    def received_count(self, index: int) -> int:
        return self._received[index]

    def state_bytes(self) -> int:
        """Memory held per population (the arrays), in bytes."""
        return self._received.itemsize * len(self._received) + len(self._opted_out)

    # --- decisions ---------------------------------------------------------------------------

    def _uniforms(self, a: int, b: int) -> tuple[int, ...]:
        digest = hashlib.blake2b(_KEY.pack(self.seed, a, b), digest_size=64).digest()
        return _UNIFORMS.unpack(digest)

    def receive(self, index: int) -> Decision:
        """Handset ``index`` is sent a message: its outcome and the replies it triggers."""
        k = self._received[index]
        if k < 0xFFFF:
            self._received[index] = k + 1
        h = hash((self.seed, index, k))
        outcome = self._states[bisect_right(self._bounds, ((h >> 32) & 0xFFFFFFFF) * _SCALE)]
        delay = self._delay
        if self._jitter:
            delay += self._jitter * ((hash((h, 1)) >> 32) & 0xFFFFFFFF) * _SCALE
        delay *= self._scale
        if outcome != _DELIVERED or self._opted_out[index >> 3] & (1 << (index & 7)):
            return _new(Decision, (outcome, delay, _NO_REPLIES))
        u = ((hash((h, 2)) >> 32) & 0xFFFFFFFF) * _SCALE
        if u >= self._any_reply:
            return _new(Decision, (outcome, delay, _NO_REPLIES))
        kind = next(kind for bound, kind in self._categories if u < bound)
        return Decision(outcome, delay, self._replies(index, k, kind, delay))

    def other(self, number: int, serial: int) -> Decision:
        """A message to a number outside the population: an outcome, never a reply."""
        h = hash((self.seed, -1 - number, serial))
        delay = self._delay
        if self._jitter:
            delay += self._jitter * ((hash((h, 1)) >> 32) & 0xFFFFFFFF) * _SCALE
        outcome = self._states[bisect_right(self._bounds, ((h >> 32) & 0xFFFFFFFF) * _SCALE)]
        return _new(Decision, (outcome, delay * self._scale, _NO_REPLIES))

    def _replies(self, index: int, k: int, kind: Kind, delivered: float) -> tuple[Reply, ...]:
        x = self._uniforms(index, k)
        c = self.config
        number = self.first + index
        at = delivered + self._reply_delay(x[3], x[4])
        choice = x[5] * _SCALE
        if kind is not Kind.JA:
            texts = {
                Kind.STOP: c.opt_out_words,
                Kind.HELP: c.help_words,
                Kind.UNRELATED: c.unrelated_texts,
                Kind.LONG: c.long_texts,
            }[kind]
            return (Reply(at, kind, texts[int(choice * len(texts))], number),)
        text = _pick(*self._variants, choice)
        replies = [Reply(at, Kind.JA, text, number)]
        p = x[6] * _SCALE
        gap = c.duplicate_gap * self._scale
        while p < c.duplicate_probability and len(replies) < 4:
            p /= c.duplicate_probability  # uniform again on [0, 1): the next coin
            at += gap * (0.2 + 1.6 * x[6 + len(replies)] * _SCALE)
            replies.append(Reply(at, Kind.DUPLICATE, text, number))
        if x[11] * _SCALE < c.stranger_probability:
            stranger = self.first + self.count + x[12] % STRANGER_RANGE
            later = delivered + self._reply_delay(x[13], x[14])
            replies.append(
                Reply(later, Kind.STRANGER, _pick(*self._variants, x[15] * _SCALE), stranger)
            )
        return tuple(replies)

    def _reply_delay(self, a: int, b: int) -> float:
        """delay_min + log-normal(median, sigma), compressed (Box-Muller from two uniforms)."""
        u1 = (a + 1) * _SCALE
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * b * _SCALE)
        c = self.config
        return (c.delay_min + math.exp(self._mu + c.delay_sigma * z)) * self._scale
