"""Fan-out progress gauges from an appeal's state hash (pure: no Redis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from counters import AppealStates
from engine.campaigns.progress import FanOutGauges, Running, running


def sending(**fields: object) -> dict[str, str]:
    state = {"status": "sending", "appeal_audience": "1000", "sent_at": "100"}
    return state | {k: str(v) for k, v in fields.items()}


def test_a_fanout_being_queued_counts_from_its_audience() -> None:
    state = sending(appeal_queued=400, appeal_sent=300, appeal_opted_out=50, appeal_skipped=50)
    assert running(state, "appeal", now=110.0) == Running(
        sent=300, recipients=1000, remaining=600, eta=600 * 10 / 350, paused=False
    )


def test_queued_in_full_counts_what_is_still_in_the_lanes() -> None:
    """20 opted out before their chunk came up: never queued, never "remaining"."""
    state = sending(status="sent", appeal_queued=980, appeal_sent=900, appeal_failed=30)
    figures = running(state, "appeal", now=120.0)
    assert figures is not None
    assert (figures.remaining, figures.recipients) == (50, 980)
    state |= {"appeal_sent": "950"}
    assert running(state, "appeal", now=130.0) is None


@pytest.mark.parametrize(
    "state",
    [
        {"status": "draft"},
        sending(cancelled=1),
        sending(appeal_sent=1000),
        {},
    ],
)
def test_not_running(state: dict[str, str]) -> None:
    assert running(state, "appeal", now=200.0) is None


def test_no_eta_before_anything_is_done_and_paused_is_flagged() -> None:
    figures = running(sending(paused=1), "appeal", now=100.0)
    assert figures == Running(sent=0, recipients=1000, remaining=1000, eta=None, paused=True)


def test_the_outcome_is_a_fanout_of_its_own() -> None:
    state = {"status": "sent", "outcome_status": "sending", "outcome_audience": "10",
             "outcome_sent_at": "50", "outcome_sent": "4"}  # fmt: skip
    assert running(state, "appeal", now=60.0) is None
    assert running(state, "outcome", now=60.0) == Running(4, 10, 6, 15.0, False)


class _Fixed(Collector):
    def __init__(self, states: AppealStates, now: float) -> None:
        self._states = states
        self._now = now
        self._gauges = FanOutGauges()

    def describe(self) -> Iterator[Metric]:
        return iter(self._gauges.describe())

    def collect(self) -> Iterator[Metric]:
        return iter(self._gauges.families(self._states, self._now))


def test_gauges_for_running_fanouts_only() -> None:
    states = [(7, sending(appeal_sent=250)), (6, {"status": "sent"})]
    registry = CollectorRegistry()
    registry.register(_Fixed(states, now=110.0))
    labels = {"appeal": "7", "kind": "appeal"}
    sample = registry.get_sample_value
    assert sample("ja_appeal_fanout_sent", labels) == 250
    assert sample("ja_appeal_fanout_recipients", labels) == 1000
    assert sample("ja_appeal_fanout_remaining", labels) == 750
    assert sample("ja_appeal_fanout_eta_seconds", labels) == 30
    assert sample("ja_appeal_fanout_paused", labels) == 0
    assert sample("ja_appeal_fanout_sent", {"appeal": "6", "kind": "appeal"}) is None
