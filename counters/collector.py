"""A Prometheus collector that reads Redis-held counts at scrape time (never mirrored).

It runs in the exporter's thread with the store's (thread-safe) redis-py client: one pipeline
for the appeal index, one for everything else. If Redis does not answer, it reports
``ja_store_up 0`` instead of failing the whole scrape.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .keys import Keys, Lane
from .streams import GROUP

__all__ = ["CountersCollector"]

log = logging.getLogger(__name__)


class CountersCollector(Collector):
    """Signatures per appeal (the newest ``max_appeals``), queue depths, reach, subscribers."""

    def __init__(self, client: redis.Redis, keys: Keys, *, max_appeals: int = 20) -> None:
        self._client = client
        self._keys = keys
        self._max_appeals = max_appeals

    def describe(self) -> Iterator[Metric]:
        # Registering must not touch Redis: name the families without samples.
        yield from _Families().all()

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        try:
            self._fill(families)
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            families.up.add_metric([], 0)
            yield families.up
            return
        families.up.add_metric([], 1)
        yield from families.all()

    def _fill(self, f: _Families) -> None:
        k = self._keys
        index: list[bytes] = self._client.zrange(
            k.appeal_index, 0, self._max_appeals - 1, desc=True
        )  # type: ignore[assignment]
        appeals = [int(x) for x in index]
        today = dt.datetime.now(dt.UTC).date()
        with self._client.pipeline(transaction=False) as pipe:
            for appeal in appeals:
                pipe.get(k.appeal_count(appeal))
            pipe.bitcount(k.sub_active)
            for lane in Lane:
                pipe.xlen(k.lane(lane))
                pipe.xpending(k.lane(lane), GROUP)
            pipe.zcard(k.queue_delayed)
            pipe.pfcount(k.reach_day(today))
            pipe.pfcount(k.reach_month(today))
            pipe.pfcount(k.reach_all)
            replies = iter(pipe.execute(raise_on_error=False))
        for appeal in appeals:
            f.signatures.add_metric([str(appeal)], int(next(replies) or 0))
        f.active.add_metric([], next(replies))
        now_ms = time.time() * 1000
        for lane in Lane:
            f.length.add_metric([lane.value], next(replies))
            summary = next(replies)
            ok = isinstance(summary, dict)  # NOGROUP before the lanes exist
            f.pending.add_metric([lane.value], summary["pending"] if ok else 0)
            first = summary["min"] if ok and summary["min"] else None
            age = max(0.0, now_ms - int(first.split(b"-")[0])) / 1000 if first else 0.0
            f.oldest.add_metric([lane.value], age)
        f.scheduled.add_metric([], next(replies))
        for window in ("day", "month", "all"):
            f.reach.add_metric([window], next(replies))


class _Families:
    def __init__(self) -> None:
        self.up = GaugeMetricFamily("ja_store_up", "1 if Redis answered this scrape")
        self.signatures = CounterMetricFamily(
            "ja_appeal_signatures", "Exact signatures per appeal", labels=["appeal"]
        )
        self.active = GaugeMetricFamily("ja_subscribers_active", "Active subscribers")
        self.length = GaugeMetricFamily(
            "ja_queue_length", "Entries in an outbound lane", labels=["lane"]
        )
        self.pending = GaugeMetricFamily(
            "ja_queue_pending", "Entries read and not yet acknowledged", labels=["lane"]
        )
        self.oldest = GaugeMetricFamily(
            "ja_queue_oldest_pending_age_seconds",
            "Age of the oldest unacknowledged entry",
            labels=["lane"],
        )
        self.scheduled = GaugeMetricFamily(
            "ja_queue_scheduled", "Delayed messages not yet moved to a lane"
        )
        self.reach = GaugeMetricFamily(
            "ja_reach_participants", "Approximate unique participants", labels=["window"]
        )

    def all(self) -> list[Metric]:
        return [
            self.up,
            self.signatures,
            self.active,
            self.length,
            self.pending,
            self.oldest,
            self.scheduled,
            self.reach,
        ]
