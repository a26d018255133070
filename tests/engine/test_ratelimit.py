"""Token bucket and adaptive rate as pure functions of now."""

from __future__ import annotations

import pytest

from engine.ratelimit import AdaptiveRate, SlidingWindow, TokenBucket


def test_bucket_allows_burst_then_meters() -> None:
    bucket = TokenBucket(rate=100, burst=5, now=0.0)
    assert all(bucket.take(0.0) for _ in range(5))
    assert not bucket.take(0.0)
    assert bucket.delay(0.0) == pytest.approx(0.01)
    assert bucket.take(0.01)


def test_bucket_never_exceeds_rate_over_a_long_run() -> None:
    bucket = TokenBucket(rate=100, burst=10, now=0.0)
    now, sent = 0.0, 0
    for _ in range(100_000):
        if now >= 10.0:
            break
        if bucket.take(now):
            sent += 1
        else:
            now += bucket.delay(now)
    assert sent <= 100 * 10 + 10
    assert sent >= 100 * 10


def test_multi_part_message_is_admitted_whole() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert bucket.take(0.0, 3)
    assert bucket.delay(0.0, 3) == pytest.approx(0.3)
    assert not bucket.take(0.2, 3)
    assert bucket.take(0.3, 3)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate must be"):
        TokenBucket(rate=0, burst=1, now=0.0)


def test_throttle_halves_pauses_and_recovers_step_by_step() -> None:
    rate = AdaptiveRate(100, 10, 0.0, pause=1.0, recover_every=2.0, recover_step=0.1)
    rate.on_throttle(5.0)
    assert rate.current == 50
    assert not rate.take(5.5)
    assert rate.delay(5.5) == pytest.approx(0.5)
    rate.delay(7.0)
    assert rate.current == 60
    rate.delay(11.0)
    assert rate.current == 80
    rate.delay(100.0)
    assert rate.current == 100


def test_repeated_throttles_stop_at_the_floor() -> None:
    rate = AdaptiveRate(100, 10, 0.0, floor=0.05)
    for i in range(20):
        rate.on_throttle(float(i))
    assert rate.current == 5
    assert rate.throttles == 20


def test_adaptive_rate_never_exceeds_configured() -> None:
    rate = AdaptiveRate(50, 5, 0.0)
    now, sent = 0.0, 0
    for _ in range(100_000):
        if now >= 20.0:
            break
        if rate.take(now):
            sent += 1
        else:
            now += max(rate.delay(now), 1e-6)
    assert sent <= 50 * 20 + 5


def test_sliding_window_caps_any_one_second() -> None:
    window = SlidingWindow(limit=3, span=1.0)
    assert all(window.take(0.0) for _ in range(3))
    assert not window.take(0.5)
    assert window.delay(0.5) == pytest.approx(0.5)
    assert window.take(1.0)
    assert window.delay(1.0, 3) == pytest.approx(1.0)


def test_adaptive_rate_holds_the_carriers_one_second_count() -> None:
    """rate 100 with burst 20: never more than 100 in any one-second window on the wire
    (admission takes tokens; the window is charged when the PDU is written)."""
    rate = AdaptiveRate(100, 20, 0.0)
    now, sends = 0.0, []
    for _ in range(100_000):
        if now >= 5.0:
            break
        if rate.take(now):
            while (wait := rate.wire_delay(now)) > 0.0:
                now += wait
            rate.on_wire(now)
            sends.append(now)
        else:
            now += max(rate.delay(now), 1e-6)
    for i, start in enumerate(sends):
        in_window = sum(1 for t in sends[i : i + 200] if t - start < 1.0)
        assert in_window <= 100
    assert len(sends) >= 100 * 5 * 0.95


def test_sliding_window_room_and_delay_agree_at_the_edge() -> None:
    """When ``delay`` says a send may go now, ``available`` finds the room: a sender told
    "no room, no wait" would spin (forever, on a virtual clock). 1.031 - 1.03 lands a hair
    below 0.001 in floating point."""
    window = SlidingWindow(limit=1, span=1.03)
    window.record(0.001)
    assert window.delay(1.031) == 0.0
    assert window.available(1.031) == 1
