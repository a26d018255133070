"""Rate decisions as pure functions of ``now``: a token bucket and a sliding window.

Shared by the engine (its binds' send rate, ``engine.ratelimit``) and the simulator (an
account's accepted rate, ``smpp.simulator.throttle``): no clock inside, so both are driven by
Trio's clock in production and by a virtual one in tests.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SlidingWindow", "TokenBucket"]

_EPSILON = 1e-9
"""Float slack: after waiting exactly ``delay()``, the refill may land a hair below n."""


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``. One token = one PDU."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate=} {burst=}")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = now

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def delay(self, now: float, n: int = 1) -> float:
        """Seconds until ``n`` tokens are available (0.0 if they are now)."""
        self._refill(now)
        if self._tokens + _EPSILON >= n:
            return 0.0
        return (n - self._tokens) / self.rate

    def available(self, now: float) -> int:
        """Whole tokens available now."""
        self._refill(now)
        return int(self._tokens + _EPSILON)

    def take(self, now: float, n: int = 1) -> bool:
        """Take ``n`` tokens if available."""
        self._refill(now)
        if self._tokens + _EPSILON >= n:
            self._tokens = max(0.0, self._tokens - n)
            return True
        return False

    def set_rate(self, rate: float, now: float) -> None:
        """Change the rate; tokens already earned are kept (capped at the burst)."""
        self._refill(now)
        self.rate = rate

    def drain(self, now: float) -> None:
        """Forget the tokens saved up (after a throttle, don't burst straight back)."""
        self._refill(now)
        self._tokens = 0.0


class SlidingWindow:
    """At most ``limit`` PDUs in any interval of ``span`` seconds: the carrier's own measure.

    A token bucket alone lets ``rate + burst`` through in some one-second windows, which a
    strict carrier counts as going over. This hard cap closes that gap; the bucket still
    smooths the flow. ``span`` carries a small margin, because network jitter can bring two
    sends closer together on the carrier's clock than they were on ours.
    """

    def __init__(self, limit: int, span: float = 1.0) -> None:
        if limit < 1 or span <= 0:
            raise ValueError(f"limit must be >= 1 and span > 0, got {limit=} {span=}")
        self.limit = limit
        self.span = span
        self._times: deque[float] = deque(maxlen=limit)

    def available(self, now: float) -> int:
        """Sends that fit in the window now."""
        # With the slack ``delay`` allows: when it says "no wait", this must find the room,
        # or a sender told "no room, wait 0 s" spins (forever, on a virtual clock).
        times, horizon = self._times, now - self.span + _EPSILON
        while times and times[0] <= horizon:
            times.popleft()
        return self.limit - len(times)

    def delay(self, now: float, n: int = 1) -> float:
        """Seconds until ``n`` more sends fit in the window."""
        if n > self.limit:
            raise ValueError(f"{n} PDUs can never fit a window of {self.limit}")
        times = self._times
        excess = len(times) + n - self.limit
        if excess <= 0:
            return 0.0
        wait = times[excess - 1] + self.span - now
        return wait if wait > _EPSILON else 0.0

    def take(self, now: float, n: int = 1) -> bool:
        if self.delay(now, n) > 0.0:
            return False
        self._times.extend([now] * n)
        return True

    def record(self, now: float, n: int = 1) -> None:
        """Count ``n`` sends that happened at ``now``, whether or not the window had room
        (what went out must be counted, or the window under-counts from then on)."""
        self._times.extend([now] * n)
