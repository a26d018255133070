"""Per-bind send rate as pure functions of ``now`` (no clock inside).

A carrier's messages-per-second limit is a contract: going over it gets ESME_RTHROTTLED at
best and a suspended account at worst. ``TokenBucket`` meters PDUs with a small burst.
``AdaptiveRate`` wraps it with closed-loop control: a throttle response halves the rate and
pauses the bind; the rate then climbs back step by step while the carrier stays quiet
(additive increase, multiplicative decrease, as TCP does). The gateways we studied use a
fixed pause and then resume at full speed, which turns one throttle into a storm of them.
"""

from __future__ import annotations

from smpp.ratelimit import SlidingWindow, TokenBucket

__all__ = ["AdaptiveRate", "SlidingWindow", "TokenBucket"]


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
        """Admit ``n`` PDUs: take tokens from the bucket (the window is charged on the wire)."""
        if now < self.paused_until:
            return False
        self._recover(now)
        if self.window.delay(now, n) > 0.0:
            return False
        return self.bucket.take(now, n)

    def wire_delay(self, now: float, n: int = 1) -> float:
        """Seconds until ``n`` PDUs may go on the wire without breaking the one-second window.

        The window is charged when PDUs are written, not when they are admitted: admitted
        messages wait for their attempt records in Redis, and a slow round trip would
        otherwise release many admissions onto the wire at once.
        """
        return self.window.delay(now, n)

    def on_wire(self, now: float, n: int = 1) -> None:
        """``n`` PDUs are being written now."""
        self.window.record(now, n)
