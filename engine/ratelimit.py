"""Per-bind send rate as pure functions of ``now`` (no clock inside).

A carrier's messages-per-second limit is a contract: going over it gets ESME_RTHROTTLED at
best and a suspended account at worst. ``TokenBucket`` meters PDUs with a small burst.
``AdaptiveRate`` wraps it with closed-loop control: a throttle response halves the rate and
pauses the bind; the rate then climbs back step by step while the carrier stays quiet
(additive increase, multiplicative decrease, as TCP does). The gateways we studied use a
fixed pause and then resume at full speed, which turns one throttle into a storm of them.
"""

from __future__ import annotations

from collections import deque

__all__ = ["AdaptiveRate", "SlidingWindow", "TokenBucket"]

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

    def __init__(self, limit: int, span: float) -> None:
        if limit < 1 or span <= 0:
            raise ValueError(f"limit must be >= 1 and span > 0, got {limit=} {span=}")
        self.limit = limit
        self.span = span
        self._times: deque[float] = deque(maxlen=limit)

    def available(self, now: float) -> int:
        """Sends that fit in the window now."""
        times, horizon = self._times, now - self.span
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
        return max(0.0, times[excess - 1] + self.span - now)

    def take(self, now: float, n: int = 1) -> bool:
        if self.delay(now, n) > 0.0:
            return False
        self._times.extend([now] * n)
        return True


def _window_for(rate: float, margin: float) -> SlidingWindow:
    span = max(1.0, 1.0 / rate)
    return SlidingWindow(max(1, int(rate * span)), span * (1.0 + margin))


class AdaptiveRate:
    """A token bucket whose rate backs off on throttling and recovers step by step.

    Args:
        rate: the configured (contracted) rate; never exceeded.
        burst: the bucket's depth in PDUs.
        pause: how long a throttle stops the bind entirely.
        floor: the lowest fraction of ``rate`` a backoff may reach.
        recover_every: seconds without a throttle before each step up.
        recover_step: the fraction of ``rate`` added per step.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        now: float,
        *,
        pause: float = 1.0,
        floor: float = 0.05,
        recover_every: float = 2.0,
        recover_step: float = 0.1,
        margin: float = 0.03,
    ) -> None:
        self.configured = rate
        self.bucket = TokenBucket(rate, burst, now)
        self.window = _window_for(rate, margin)
        self.pause = pause
        self.floor = floor
        self.recover_every = recover_every
        self.recover_step = recover_step
        self.paused_until = now
        self._last_change = now
        self.throttles = 0

    @property
    def current(self) -> float:
        return self.bucket.rate

    def on_throttle(self, now: float) -> None:
        """The carrier said ESME_RTHROTTLED or ESME_RMSGQFUL: halve, drain, pause."""
        self.throttles += 1
        lowered = max(self.configured * self.floor, self.bucket.rate / 2)
        self.bucket.set_rate(lowered, now)
        self.bucket.drain(now)
        self.paused_until = max(self.paused_until, now + self.pause)
        self._last_change = now

    def _recover(self, now: float) -> None:
        while self.bucket.rate < self.configured and now - self._last_change >= self.recover_every:
            self._last_change += self.recover_every
            step = self.configured * self.recover_step
            self.bucket.set_rate(min(self.configured, self.bucket.rate + step), now)

    def delay(self, now: float, n: int = 1) -> float:
        """Seconds until ``n`` PDUs may go."""
        if now < self.paused_until:
            return self.paused_until - now
        self._recover(now)
        return max(self.bucket.delay(now, n), self.window.delay(now, n))

    def available(self, now: float) -> int:
        """PDUs the bind may send now (0 while paused)."""
        if now < self.paused_until:
            return 0
        self._recover(now)
        return min(self.bucket.available(now), self.window.available(now))

    def take(self, now: float, n: int = 1) -> bool:
        """Take ``n`` tokens if the bind may send them now."""
        if now < self.paused_until:
            return False
        self._recover(now)
        if self.window.delay(now, n) > 0.0 or not self.bucket.take(now, n):
            return False
        return self.window.take(now, n)
