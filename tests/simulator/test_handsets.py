"""The population and its behaviour model, as pure functions (no network, no clock)."""

from __future__ import annotations

import statistics

import pytest

from smpp.constants import MessageState
from smpp.simulator import HandsetConfig, Handsets, Kind, ReceiptConfig
from tests.simulator.helpers import FIRST, QUIET


def population(count: int = 10_000, seed: int = 7, **behaviour: float) -> Handsets:
    config = HandsetConfig(count=count, first_number=str(FIRST), **(QUIET | behaviour))
    receipts = ReceiptConfig(delay=2.0, jitter=0.0, outcomes={"DELIVRD": 1.0})
    return Handsets(config, receipts, seed=seed)


def test_numbers_map_to_indices() -> None:
    handsets = population(1000)
    assert handsets.index_of(FIRST) == 0
    assert handsets.index_of(FIRST + 999) == 999
    assert handsets.index_of(FIRST + 1000) == -1
    assert handsets.index_of(FIRST - 1) == -1
    assert handsets.number_of(5) == str(FIRST + 5)


def test_a_million_handsets_are_cheap() -> None:
    handsets = population(1_000_000)
    assert handsets.state_bytes() < 2.2e6
    handsets.opt_out(999_999)
    assert handsets.is_opted_out(999_999)
    assert not handsets.is_opted_out(999_998)
    assert handsets.opted_out_count() == 1


def test_decisions_depend_only_on_seed_handset_and_count() -> None:
    a, b = population(reply_probability=0.5), population(reply_probability=0.5)
    forward = [a.receive(i) for i in range(200)]
    backward = [b.receive(i) for i in reversed(range(200))][::-1]
    assert forward == backward
    assert a.receive(0) != forward[0] or a.received_count(0) == 2  # the 2nd message differs
    other_seed = population(seed=8, reply_probability=0.5)
    assert [other_seed.receive(i) for i in range(200)] != forward


@pytest.mark.slow
def test_reply_delays_look_like_real_replies() -> None:
    handsets = population(20_000, reply_probability=1.0)
    delays = []
    for i in range(20_000):
        decision = handsets.receive(i)
        assert decision.outcome == MessageState.DELIVERED
        (reply,) = decision.replies
        delays.append(reply.delay - decision.delivery_delay)
    config = handsets.config
    assert min(delays) >= config.delay_min
    first_minute = sum(d < 60 for d in delays) / len(delays)
    first_hour = sum(d < 3600 for d in delays) / len(delays)
    after_a_day = sum(d > 86400 for d in delays) / len(delays)
    assert 0.001 < first_minute < 0.02  # replies start within the first minute
    assert 0.45 < first_hour < 0.65  # about half within the first hour
    assert 0.005 < after_a_day < 0.04  # and a long tail
    assert statistics.median(delays) == pytest.approx(config.delay_median, rel=0.1)


def test_time_compression_scales_every_delay() -> None:
    config = HandsetConfig(
        count=100, first_number=str(FIRST), **(QUIET | {"reply_probability": 1.0})
    )
    receipts = ReceiptConfig(delay=10.0, jitter=0.0, outcomes={"DELIVRD": 1.0})
    real = Handsets(config, receipts, seed=1)
    fast = Handsets(config, receipts, seed=1, time_compression=100.0)
    for i in range(100):
        slow_d, fast_d = real.receive(i), fast.receive(i)
        assert fast_d.delivery_delay == pytest.approx(slow_d.delivery_delay / 100)
        assert fast_d.replies[0].delay == pytest.approx(slow_d.replies[0].delay / 100)


def test_categories_share_the_unit_interval_in_order() -> None:
    handsets = population(
        5000,
        reply_probability=0.5,
        stop_probability=0.2,
        help_probability=0.1,
        unrelated_probability=0.1,
        long_probability=0.1,
    )
    kinds = [r.kind for i in range(5000) for r in handsets.receive(i).replies]
    share = {k: kinds.count(k) / 5000 for k in (Kind.JA, Kind.STOP, Kind.HELP, Kind.LONG)}
    assert share[Kind.JA] == pytest.approx(0.5, abs=0.03)
    assert share[Kind.STOP] == pytest.approx(0.2, abs=0.03)
    assert share[Kind.HELP] == pytest.approx(0.1, abs=0.02)
    assert share[Kind.LONG] == pytest.approx(0.1, abs=0.02)
    # Over-full: JA takes its share first, the rest get what remains.
    greedy = population(1000, reply_probability=1.0, stop_probability=0.5)
    assert {r.kind for i in range(1000) for r in greedy.receive(i).replies} == {Kind.JA}


def test_duplicates_and_variants() -> None:
    handsets = population(5000, reply_probability=1.0, duplicate_probability=0.3)
    by_handset = [handsets.receive(i).replies for i in range(5000)]
    with_duplicates = [r for r in by_handset if len(r) > 1]
    assert 0.25 < len(with_duplicates) / 5000 < 0.35
    for replies in with_duplicates:
        assert {r.text for r in replies} == {replies[0].text}  # the same JA again
        assert [r.kind for r in replies[1:]] == [Kind.DUPLICATE] * (len(replies) - 1)
        assert [r.delay for r in replies] == sorted(r.delay for r in replies)
    texts = {r[0].text for r in by_handset}
    assert texts == set(handsets.config.variants)


def test_failed_messages_and_opted_out_handsets_get_no_reply() -> None:
    config = HandsetConfig(
        count=100, first_number=str(FIRST), **(QUIET | {"reply_probability": 1.0})
    )
    failing = ReceiptConfig(outcomes={"UNDELIV": 1.0})
    handsets = Handsets(config, failing, seed=1)
    decision = handsets.receive(1)
    assert (decision.outcome, decision.replies) == (MessageState.UNDELIVERABLE, ())
    ok = Handsets(config, ReceiptConfig(outcomes={"DELIVRD": 1.0}), seed=1)
    ok.opt_out(3)
    assert ok.receive(3).replies == ()
    assert ok.receive(4).replies != ()


def test_numbers_outside_the_population_get_an_outcome_only() -> None:
    handsets = population(100, reply_probability=1.0)
    decision = handsets.other(44_20_7946_0000, serial=1)
    assert decision.replies == ()
    assert decision == handsets.other(44_20_7946_0000, serial=1)
