"""A TV call to action: a burst of MO (JA or a join keyword) from numbers nobody messaged.

The profile is a list of (seconds, messages per second) points, linear in between; after
the last point its rate holds (end a burst with a 0), and a rate of ``inf`` means "as fast
as the account's receiver binds take them" (the outbox is kept topped up). Finite stretches
emit exactly the integral of the profile, whatever the tick length, so a test can assert
"60 s ramping to 1,000/s emitted 30,000". Numbers come from ``first_number`` upward in a
seeded permutation of ``numbers``; with ``duplicate_probability`` a sender repeats the
previous sender's message (the same person texting twice). Profile times are real seconds:
time compression does not apply.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import TYPE_CHECKING

import trio

from smpp.simulator.config import TvConfig
from smpp.simulator.handsets import Reply, _cumulative, _pick
from smpp.simulator.ledger import Kind

if TYPE_CHECKING:
    from smpp.simulator.centre import MessageCentre

__all__ = ["CallToAction", "profile_count"]

TICK = 0.005
"""Seconds between emissions: at 1,000/s that is 5 messages a tick."""
MAX_MODE_DEPTH = 4096
"""deliver_sm kept queued per account when the profile says ``inf``."""

_PRIMES = (1_000_003, 999_983, 7_919, 104_729)


def _rate(profile: list[tuple[float, float]], t: float) -> float:
    if t >= profile[-1][0]:
        return profile[-1][1]
    for (t0, r0), (t1, r1) in itertools.pairwise(profile):
        if t0 <= t < t1:
            if math.isinf(r0) or math.isinf(r1):
                return math.inf
            return r0 + (r1 - r0) * (t - t0) / (t1 - t0)
    return profile[0][1]


def profile_count(profile: list[tuple[float, float]], t: float) -> float:
    """Messages the finite parts of ``profile`` emit between 0 and ``t`` (its integral)."""
    total = 0.0
    points = [*profile, (math.inf, profile[-1][1])]
    for (t0, r0), (t1, r1) in itertools.pairwise(points):
        if t <= t0:
            break
        if math.isinf(r0) or (math.isinf(r1) and t1 != math.inf) or t1 <= t0:
            continue  # an "as fast as it goes" stretch, or a step (two points, one time)
        end = min(t, t1)
        r_end = r0 if t1 == math.inf else r0 + (r1 - r0) * (end - t0) / (t1 - t0)
        total += (r0 + r_end) / 2 * (end - t0)
    return total


class CallToAction:
    """One burst; ``run`` emits it (start it in a nursery). ``emitted`` counts messages."""

    def __init__(self, centre: MessageCentre, config: TvConfig, *, seed: int) -> None:
        self.centre = centre
        self.config = config
        self.account = centre.accounts[config.account] if config.account else centre.accounts.at(0)
        self._rng = random.Random(seed ^ 0x7F7F)
        self._keywords = _cumulative(config.keywords)
        self._first = int(config.first_number)
        self._step = next(p for p in _PRIMES if config.numbers % p)
        self._offset = self._rng.randrange(config.numbers)
        self._last: Reply | None = None
        self.emitted = 0

    def _emit(self, now: float) -> None:
        config = self.config
        last = self._last
        if last is not None and self._rng.random() < config.duplicate_probability:
            reply = last
        else:
            index = (self.emitted * self._step + self._offset) % config.numbers
            text = _pick(*self._keywords, self._rng.random())
            reply = Reply(0.0, Kind.TV, text, self._first + index)
        self._last = reply
        self.emitted += 1
        self.centre.send_mo(self.account, reply, config.short_code, (0, 0), now)

    async def run(self) -> None:
        config = self.config
        profile = config.profile
        start = trio.current_time() + config.start_after
        await trio.sleep_until(start)
        counted = 0
        tick = start
        while True:
            tick += TICK
            await trio.sleep_until(tick)
            now = trio.current_time()
            t = now - start
            if math.isinf(_rate(profile, t)):
                n = MAX_MODE_DEPTH - len(self.account.outbox)
            else:
                due = int(profile_count(profile, t))
                n, counted = due - counted, due
            for _ in range(max(n, 0)):
                self._emit(now)
            if t >= profile[-1][0] and profile[-1][1] == 0:
                return
