"""A Prometheus collector that reads Redis-held counts at scrape time (never mirrored).

It runs in the exporter's thread with the store's (thread-safe) redis-py client: one pipeline
for the appeal index, one for everything else. If Redis does not answer, it reports
``ja_store_up 0`` instead of failing the whole scrape.

Figures whose meaning belongs to the engine (fan-out progress, from each appeal's state
hash) come from `AppealGauges` the engine adds to ``Store.appeal_gauges``: this collector
reads the state hashes of the newest appeals in its pipeline and hands them over, so every
Redis read of a scrape stays in this one collector (which the HTTP server runs off the
event loop).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .keys import Keys, Lane
from .streams import GROUP

__all__ = ["AppealGauges", "AppealStates", "CountersCollector"]

log = logging.getLogger(__name__)

AppealStates = Sequence[tuple[int, Mapping[str, str]]]
"""The newest appeals' state hashes, newest first: (appeal id, field -> value)."""


class AppealGauges(Protocol):
    """Metric families computed from the appeals' state at scrape time."""

    def describe(self) -> Iterable[Metric]:
        """The families, without samples (registering must not touch Redis)."""
        ...

    def families(self, states: AppealStates, now: float) -> Iterable[Metric]:
        """The families with their samples; ``now`` is Unix time."""
        ...


class CountersCollector(Collector):
    """Signatures per appeal (the newest ``max_appeals``), queue depths and ages, reach,
    subscribers, dead letters, and the ``appeal_gauges`` of those appeals."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        max_appeals: int = 20,
        appeal_gauges: Sequence[AppealGauges] = (),
    ) -> None:
        self._client = client
        self._keys = keys
        self._max_appeals = max_appeals
        self._appeal_gauges = tuple(appeal_gauges)

    def describe(self) -> Iterator[Metric]:
        # Registering must not touch Redis: name the families without samples.
        yield from _Families().all()
        for gauges in self._appeal_gauges:
            yield from gauges.describe()

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        try:
            states = self._fill(families)
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            families.up.add_metric([], 0)
            yield families.up
            return
        families.up.add_metric([], 1)
        yield from families.all()
        now = time.time()
        for gauges in self._appeal_gauges:
            yield from gauges.families(states, now)

    def _fill(self, f: _Families) -> AppealStates:
        k = self._keys
        index: list[bytes] = self._client.zrange(
            k.appeal_index, 0, self._max_appeals - 1, desc=True
        )  # type: ignore[assignment]
        appeals = [int(x) for x in index]
        today = dt.datetime.now(dt.UTC).date()
        with self._client.pipeline(transaction=False) as pipe:
            for appeal in appeals:
                pipe.get(k.appeal_count(appeal))
                pipe.hgetall(k.appeal_state(appeal))
            pipe.bitcount(k.sub_active)
            for lane in Lane:
                pipe.xlen(k.lane(lane))
                pipe.xpending(k.lane(lane), GROUP)
                pipe.xrange(k.lane(lane), count=1)
            pipe.zcard(k.queue_delayed)
            pipe.xlen(k.inbound_dead)
            pipe.pfcount(k.reach_day(today))
            pipe.pfcount(k.reach_month(today))
            pipe.pfcount(k.reach_all)
            replies = iter(pipe.execute(raise_on_error=False))
        states: list[tuple[int, Mapping[str, str]]] = []
        for appeal in appeals:
            f.signatures.add_metric([str(appeal)], int(next(replies) or 0))
            raw = next(replies)
            state = raw if isinstance(raw, dict) else {}
            states.append((appeal, {a.decode(): b.decode() for a, b in state.items()}))
        f.active.add_metric([], next(replies))
        now_ms = time.time() * 1000
        for lane in Lane:
            f.length.add_metric([lane.value], next(replies))
            summary = next(replies)
            ok = isinstance(summary, dict)  # NOGROUP before the lanes exist
            f.pending.add_metric([lane.value], summary["pending"] if ok else 0)
            first = summary["min"] if ok and summary["min"] else None
            f.oldest_pending.add_metric([lane.value], _age(first, now_ms))
            head = next(replies)
            f.oldest.add_metric([lane.value], _age(head[0][0] if head else None, now_ms))
        f.scheduled.add_metric([], next(replies))
        f.dead.add_metric([], next(replies))
        for window in ("day", "month", "all"):
            f.reach.add_metric([window], next(replies))
        return states


def _age(entry_id: bytes | None, now_ms: float) -> float:
    """Seconds since a stream entry was added (its id starts with the time in ms)."""
    if not entry_id:
        return 0.0
    return max(0.0, now_ms - int(entry_id.split(b"-")[0])) / 1000


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
        self.oldest_pending = GaugeMetricFamily(
            "ja_queue_oldest_pending_age_seconds",
            "Age of the oldest unacknowledged entry",
            labels=["lane"],
        )
        self.oldest = GaugeMetricFamily(
            "ja_queue_oldest_age_seconds",
            "Age of the oldest entry in the lane, read or not (finished entries are deleted)",
            labels=["lane"],
        )
        self.scheduled = GaugeMetricFamily(
            "ja_queue_scheduled", "Delayed messages not yet moved to a lane"
        )
        self.dead = GaugeMetricFamily(
            "ja_inbound_dead_letters", "Inbound messages kept in the dead-letter stream"
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
            self.oldest_pending,
            self.oldest,
            self.scheduled,
            self.dead,
            self.reach,
        ]
