"""Fan-out progress as Prometheus gauges, computed at scrape time from the appeals' state.

Each appeal's state hash in Redis holds its fan-out counts (queued, sent, refused, failed,
skipped) and when sending began. The counters package's collector reads the state hashes of
the newest appeals in its scrape pipeline and hands them to `FanOutGauges`, which turns the
running fan-outs into ``ja_appeal_fanout_*{appeal, kind}`` gauges: nothing is mirrored in the
process, every engine reports the same figures (take ``max`` across them), and an appeal
whose fan-out is done (or cancelled) drops out, so the series stay as few as the fan-outs
running.

A fan-out runs while its status is "sending" (being queued, chunk by chunk) or "sent"
(queued in full, still in the lanes). While sending, what is left is its audience less what
is done; once queued in full, what is left is what was queued and not yet sent, refused or
failed (people who opted out before their chunk came up were never queued, so counting from
the audience would leave them "remaining" for ever).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric

from counters import AppealStates
from engine.campaigns.appeals import fanout_progress
from engine.campaigns.model import AppealStatus

__all__ = ["FanOutGauges", "Running", "running"]

KINDS = ("appeal", "outcome")
_STATUS = {"appeal": "status", "outcome": "outcome_status"}
_STARTED = {"appeal": "sent_at", "outcome": "outcome_sent_at"}
_RUNNING = frozenset({AppealStatus.SENDING.value, AppealStatus.SENT.value})


class Running(NamedTuple):
    """A fan-out still sending."""

    sent: int
    recipients: int
    """Everyone it is for: done (sent, refused, failed, skipped) plus remaining."""
    remaining: int
    eta: float | None
    """Seconds until the rest is out at the average rate since sending began (None before
    the first message is done)."""
    paused: bool


def running(state: Mapping[str, str], kind: str, now: float) -> Running | None:
    """The progress of one fan-out of an appeal, or None if it is not running."""
    status = state.get(_STATUS[kind], "")
    if status not in _RUNNING or state.get("cancelled"):
        return None
    progress = fanout_progress(dict(state), kind, status)
    handled = progress.sent + progress.refused + progress.failed
    if status == AppealStatus.SENT.value:
        remaining = max(0, progress.queued - handled)
    else:
        remaining = progress.remaining
    if not remaining:
        return None
    elapsed = now - float(state.get(_STARTED[kind]) or now)
    eta = remaining * elapsed / handled if handled and elapsed > 0 else None
    return Running(
        sent=progress.sent,
        recipients=handled + progress.skipped + remaining,
        remaining=remaining,
        eta=eta,
        paused=bool(state.get("paused")),
    )


class FanOutGauges:
    """``ja_appeal_fanout_{sent, recipients, remaining, eta_seconds, paused}{appeal, kind}``
    (a `counters.AppealGauges`)."""

    def describe(self) -> Iterator[Metric]:
        return iter(_families())

    def families(self, states: AppealStates, now: float) -> Iterator[Metric]:
        sent, recipients, remaining, eta, paused = families = _families()
        for appeal, state in states:
            for kind in KINDS:
                figures = running(state, kind, now)
                if figures is None:
                    continue
                labels = [str(appeal), kind]
                sent.add_metric(labels, figures.sent)
                recipients.add_metric(labels, figures.recipients)
                remaining.add_metric(labels, figures.remaining)
                paused.add_metric(labels, int(figures.paused))
                if figures.eta is not None:
                    eta.add_metric(labels, figures.eta)
        return iter(families)


def _families() -> list[GaugeMetricFamily]:
    labels = ["appeal", "kind"]
    return [
        GaugeMetricFamily("ja_appeal_fanout_sent", "Messages the carriers took", labels=labels),
        GaugeMetricFamily(
            "ja_appeal_fanout_recipients", "Recipients of a running fan-out", labels=labels
        ),
        GaugeMetricFamily(
            "ja_appeal_fanout_remaining", "Recipients not yet sent to", labels=labels
        ),
        GaugeMetricFamily(
            "ja_appeal_fanout_eta_seconds",
            "Time left at the average rate since sending began",
            labels=labels,
        ),
        GaugeMetricFamily(
            "ja_appeal_fanout_paused", "1 while paused by an operator", labels=labels
        ),
    ]
