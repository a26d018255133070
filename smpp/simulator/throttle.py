"""An account's submit rate limit, as decisions of ``now`` (no clock inside).

Two policies, both answering "may this submit through at ``now``?":

* ``TokenBucket``: ``rate`` tokens a second, at most ``burst`` saved up. This is what most
  carriers run: short bursts pass, a sustained excess is throttled.
* ``SlidingWindow`` (strict mode): at most ``limit`` submits in any interval of one second.
  A client that respects its rate never trips it; one that sends ``limit + 1`` within any
  second does, so engine tests can prove they never exceed the contract.

``SecondCounts`` keeps how many submits were accepted and throttled in each whole second,
for assertions and the operator's eye.
"""

from __future__ import annotations

from smpp.ratelimit import SlidingWindow, TokenBucket

__all__ = ["SecondCounts", "SlidingWindow", "TokenBucket"]


class SecondCounts:
    """Counts per whole second of the caller's clock (bounded by the seconds seen)."""

    __slots__ = ("_n", "_second", "counts")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self._second: int | None = None
        self._n = 0

    def add(self, now: float) -> None:
        second = int(now)
        if second != self._second:
            self.flush()
            self._second = second
            self._n = self.counts.get(second, 0)
        self._n += 1

    def flush(self) -> None:
        if self._second is not None:
            self.counts[self._second] = self._n

    def snapshot(self) -> dict[int, int]:
        """{second: count} so far."""
        self.flush()
        return dict(self.counts)
