"""Throughput over time, read from outside: the simulator's counters, scraped every interval.

Every fan-out contender, ours and the peers alike, sends to a simulator process of its own
that serves its Prometheus metrics (``metrics_port = 0``). A ``Sampler`` thread in the
benchmark's process scrapes them every ``interval`` seconds while the contender runs, so the
same instrument times every contender and none of them is slowed by its own bookkeeping.
What it reads (sums over the simulator's accounts):

* ``ja_sim_submits_accepted_total``: submit_sm answered ESME_ROK, the throughput;
* ``ja_sim_queue_full_total``: requests answered ESME_RMSGQFUL (window or receipt queue full);
* ``ja_sim_deliveries_total{result="ok"}``: deliver_sm (receipts here) the client acknowledged;
* ``ja_sim_held_messages``: deliver_sm queued in the simulator, waiting for a window slot;
* ``ja_sim_held_dropped_total``: deliver_sm dropped because that queue was full.

``series`` turns the cumulative samples into per-interval rates from the first accepted
submit to the end of the contender's clock: the JSON and the charts read those.
"""

from __future__ import annotations

import itertools
import re
import statistics
import threading
import time
import urllib.request
from typing import Final, Literal, TypedDict

__all__ = [
    "Sample",
    "Sampler",
    "Series",
    "Totals",
    "empty_series",
    "receipts_while_sending",
    "series",
    "stalled_seconds",
]

_LINE = re.compile(r"^(?P<name>ja_sim_[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_WANTED: Final[dict[str, Literal["submitted", "queue_full", "held", "dropped"]]] = {
    "ja_sim_submits_accepted_total": "submitted",
    "ja_sim_queue_full_total": "queue_full",
    "ja_sim_held_messages": "held",
    "ja_sim_held_dropped_total": "dropped",
}


class Sample(TypedDict):
    t: float
    submitted: float
    queue_full: float
    receipts: float
    held: float
    dropped: float


class Totals(TypedDict):
    """Counts over the sampled run."""

    submitted: float
    receipts: float
    """deliver_sm acknowledged by the client."""
    rmsgqful: float
    dropped: float
    """deliver_sm the simulator dropped (held for an account with no receiver bound, past
    its hold limit: a client that has just unbound, in the interval after its clock)."""


class Series(TypedDict):
    """Per-interval figures; ``t[i]`` ends interval i, in seconds since the first submit."""

    t: list[float]
    msg_per_s: list[float]
    rmsgqful_per_s: list[float]
    receipts_per_s: list[float]
    held: list[float]
    totals: Totals


def parse(text: str, t: float) -> Sample:
    """The figures of one scrape taken at ``t`` (see the module's docstring), summed over
    accounts."""
    out = Sample(t=t, submitted=0.0, queue_full=0.0, receipts=0.0, held=0.0, dropped=0.0)
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        name, labels = m["name"], m["labels"] or ""
        if name in _WANTED:
            out[_WANTED[name]] += float(m["value"])
        elif name == "ja_sim_deliveries_total" and 'result="ok"' in labels:
            out["receipts"] += float(m["value"])
    return out


class Sampler(threading.Thread):
    """Scrapes ``url`` every ``interval`` seconds until ``stop``; a failed scrape is skipped."""

    def __init__(self, url: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.samples: list[Sample] = []
        self._done = threading.Event()

    def _scrape(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as response:
                text: str = response.read().decode()
        except OSError:
            return False  # the simulator is busy: this interval is merged into the next
        self.samples.append(parse(text, time.monotonic()))
        return True

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._done.is_set():
            self._scrape()
            next_at += self.interval
            self._done.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> list[Sample]:
        """Take a last sample, stop, and return every sample (``series`` reads them)."""
        self._done.set()
        self.join()
        for _ in range(3):  # the last sample holds the run's totals: insist a little
            if self._scrape(timeout=5.0):
                break
        return self.samples


def empty_series() -> Series:
    totals = Totals(submitted=0.0, receipts=0.0, rmsgqful=0.0, dropped=0.0)
    return Series(t=[], msg_per_s=[], rmsgqful_per_s=[], receipts_per_s=[], held=[], totals=totals)


def series(samples: list[Sample], duration: float | None = None) -> Series:
    """Rates per interval from the last sample before the first accepted submit, for
    ``duration`` seconds (the contender's clock; None: to the last sample) and the interval
    that ends after it."""
    first = next((i for i, s in enumerate(samples) if s["submitted"] > 0), len(samples))
    kept = samples[max(0, first - 1) :]
    if duration is not None and first < len(samples):
        # From the first sample that saw a submit, which is after the clock started: the
        # sample kept last is taken after the clock stopped, so it has counted every submit.
        end = samples[first]["t"] + duration
        stop = next((i for i, s in enumerate(kept) if s["t"] >= end), len(kept) - 1)
        kept = kept[: stop + 1]
    out = empty_series()
    totals = out["totals"]
    if len(kept) < 2:
        return out
    start = kept[0]["t"]
    for before, now in itertools.pairwise(kept):
        dt = now["t"] - before["t"]
        if dt <= 0:
            continue
        out["t"].append(round(now["t"] - start, 3))
        out["msg_per_s"].append(round((now["submitted"] - before["submitted"]) / dt, 1))
        out["rmsgqful_per_s"].append(round((now["queue_full"] - before["queue_full"]) / dt, 1))
        out["receipts_per_s"].append(round((now["receipts"] - before["receipts"]) / dt, 1))
        out["held"].append(now["held"])
    first_kept, last = kept[0], kept[-1]
    totals["submitted"] = last["submitted"] - first_kept["submitted"]
    totals["receipts"] = last["receipts"] - first_kept["receipts"]
    totals["rmsgqful"] = last["queue_full"] - first_kept["queue_full"]
    totals["dropped"] = last["dropped"] - first_kept["dropped"]
    return out


def stalled_seconds(one: Series) -> float:
    """Seconds in which no submit was accepted, between the first and the last that was."""
    sending = [i for i, rate in enumerate(one["msg_per_s"]) if rate > 0]
    if not sending:
        return 0.0
    t = one["t"]
    gaps = (t[i] - (t[i - 1] if i else 0.0) for i in range(sending[0], sending[-1] + 1))
    idle = (one["msg_per_s"][i] == 0 for i in range(sending[0], sending[-1] + 1))
    return round(sum(dt for dt, stalled in zip(gaps, idle, strict=True) if stalled), 1)


def receipts_while_sending(one: Series, due: float) -> float | None:
    """The median receipts taken per second in the intervals that also sent, from ``due``
    seconds on (before that no receipt is due yet); None without such an interval."""
    rates = [
        r
        for t, sent, r in zip(one["t"], one["msg_per_s"], one["receipts_per_s"], strict=True)
        if sent > 0 and t > due
    ]
    return statistics.median(rates) if rates else None
