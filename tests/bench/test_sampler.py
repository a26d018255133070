"""Throughput over time from the simulator's counters: parsing a scrape, rates per interval,
the clock's end, stalls."""

from __future__ import annotations

import pytest

from bench._sampler import Sample, parse, receipts_while_sending, series, stalled_seconds

SCRAPE = """\
# HELP ja_sim_submits_accepted_total Submits accepted
# TYPE ja_sim_submits_accepted_total counter
ja_sim_submits_accepted_total{account="ja"} 1500.0
ja_sim_submits_accepted_total{account="other"} 500.0
ja_sim_queue_full_total{account="ja"} 7.0
ja_sim_deliveries_total{result="ok"} 900.0
ja_sim_deliveries_total{result="retried"} 3.0
ja_sim_held_messages{account="ja"} 42.0
ja_sim_held_dropped_total{account="ja"} 0.0
ja_sim_messages_total 2000.0
"""


def sample(t: float, submitted: float, receipts: float = 0.0, queue_full: float = 0.0) -> Sample:
    return Sample(
        t=t, submitted=submitted, queue_full=queue_full, receipts=receipts, held=0.0, dropped=0.0
    )


def test_a_scrape_is_summed_over_accounts() -> None:
    got = parse(SCRAPE, 5.0)
    assert got == Sample(
        t=5.0, submitted=2000.0, queue_full=7.0, receipts=900.0, held=42.0, dropped=0.0
    )


def test_rates_start_at_the_first_submit_and_stop_with_the_clock() -> None:
    samples = [sample(10.0, 0), sample(10.5, 0), sample(11.0, 500), sample(11.5, 1500)]
    samples += [sample(12.0, 2000, receipts=100), sample(12.5, 2000, receipts=400)]
    whole = series(samples)
    assert whole["t"] == [0.5, 1.0, 1.5, 2.0]  # from the last sample before any submit
    assert whole["msg_per_s"] == [1000.0, 2000.0, 1000.0, 0.0]
    assert whole["receipts_per_s"] == [0.0, 0.0, 200.0, 600.0]
    assert whole["totals"]["submitted"] == 2000
    # A clock of 0.8 s (from the first sample that saw a submit, at 11.0) ends the series
    # with the first sample at or after 11.8: every submit is in it, the later receipts not.
    clocked = series(samples, duration=0.8)
    assert clocked["t"] == [0.5, 1.0, 1.5]
    assert clocked["totals"]["submitted"] == 2000
    assert clocked["totals"]["receipts"] == 100


def test_stalls_and_receipts_while_sending() -> None:
    samples = [sample(0.0, 0)]
    counts = [(1000, 0), (2000, 100), (2000, 600), (2000, 1100), (3000, 1300), (3000, 1500)]
    samples += [sample(float(t), n, r) for t, (n, r) in enumerate(counts, start=1)]
    one = series(samples)
    assert one["msg_per_s"] == [1000.0, 1000.0, 0.0, 0.0, 1000.0, 0.0]
    assert stalled_seconds(one) == 2.0  # the trailing second after the last submit is no stall
    # while sending, past 1.5 s (before it no receipt is due): the intervals ending at 2 and 5
    assert receipts_while_sending(one, due=1.5) == pytest.approx(150.0)
    assert receipts_while_sending(series([]), due=0.0) is None
