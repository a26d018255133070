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

from collections import deque

__all__ = ["SecondCounts", "SlidingWindow", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; one token per submit."""

    __slots__ = ("_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate=} {burst=}")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = now

    def take(self, now: float) -> bool:
        """Take a token if one is available at ``now``."""
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class SlidingWindow:
    """At most ``limit`` admissions in any half-open interval of ``span`` seconds."""

    __slots__ = ("_times", "limit", "span")

    def __init__(self, limit: int, span: float = 1.0) -> None:
        if limit < 1 or span <= 0:
            raise ValueError(f"limit must be >= 1 and span > 0, got {limit=} {span=}")
        self.limit = limit
        self.span = span
        self._times: deque[float] = deque(maxlen=limit)

    def take(self, now: float) -> bool:
        """Admit at ``now`` unless ``limit`` admissions already fall within ``span``."""
        times = self._times
        if len(times) == self.limit and now - times[0] < self.span:
            return False
        times.append(now)
        return True


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
