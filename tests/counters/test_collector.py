"""The Prometheus collector reads Redis-held counts at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from counters import (
    AppealMeta,
    AppealStates,
    CountersCollector,
    InboundRecord,
    Keys,
    Lane,
    OutboundMessage,
    Store,
    StoreConfig,
    make_client,
)
from tests.redis_support import free_port


async def test_scrape_reads_counts_from_redis(store: Store) -> None:
    registry = CollectorRegistry()
    registry.register(store.collector())
    assert registry.get_sample_value("ja_store_up") == 1
    assert registry.get_sample_value("ja_queue_length", {"lane": "bulk"}) == 0
    now = time.time()
    await store.appeals.create(
        AppealMeta(id=3, title="t", text="x", opens_at=now, closes_at=now + 60)
    )
    await store.appeals.sign_many([(3, 1, "JA", "a"), (3, 2, "JA", "b"), (3, 1, "JA", "c")])
    await store.subscribers.subscribe("+31600000001", source="sms")
    await store.queues.ensure_groups()
    msg = OutboundMessage(ref="r", to="+31600000001", text="Thanks")
    await store.queues.push(Lane.TRANSACTIONAL, msg)
    await store.queues.push(Lane.TRANSACTIONAL, msg)
    await store.queues.read(Lane.TRANSACTIONAL, "e", count=1)
    await store.queues.schedule(Lane.TRANSACTIONAL, msg, due=now + 60)
    sample = registry.get_sample_value
    assert sample("ja_appeal_signatures_total", {"appeal": "3"}) == 2
    assert sample("ja_subscribers_active") == 1
    assert sample("ja_queue_length", {"lane": "tx"}) == 2
    assert sample("ja_queue_pending", {"lane": "tx"}) == 1
    age = sample("ja_queue_oldest_pending_age_seconds", {"lane": "tx"})
    assert age is not None
    assert 0 <= age < 60
    head = sample("ja_queue_oldest_age_seconds", {"lane": "tx"})
    assert head is not None
    assert 0 <= head < 60
    assert sample("ja_queue_oldest_age_seconds", {"lane": "bulk"}) == 0
    assert sample("ja_queue_scheduled") == 1
    assert sample("ja_inbound_dead_letters") == 0
    assert sample("ja_reach_participants", {"window": "day"}) == 2
    assert sample("ja_reach_participants", {"window": "all"}) == 2


def test_scrape_without_redis_reports_down() -> None:
    client = make_client(f"redis://127.0.0.1:{free_port()}/0", StoreConfig(connect_timeout=0.2))
    try:
        registry = CollectorRegistry()
        registry.register(CountersCollector(client, Keys("x")))  # registering touches no Redis
        assert registry.get_sample_value("ja_store_up") == 0
        assert registry.get_sample_value("ja_subscribers_active") is None
    finally:
        client.close()


class _Figures:
    """An `AppealGauges` that reports one gauge per appeal from its state."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict[str, str]]] = []

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("ja_test_status", "test", labels=["appeal"])

    def families(self, states: AppealStates, now: float) -> Iterator[Metric]:
        family = GaugeMetricFamily("ja_test_status", "test", labels=["appeal"])
        for appeal, state in states:
            self.seen.append((appeal, dict(state)))
            family.add_metric([str(appeal)], float(state.get("n", 0)))
        yield family


async def test_appeal_gauges_get_the_newest_appeals_states(store: Store) -> None:
    now = time.time()
    for appeal in (1, 2):
        await store.appeals.create(
            AppealMeta(id=appeal, title="t", text="x", opens_at=now + appeal, closes_at=now + 60)
        )
    await store.appeals.set_state(2, {"status": "sending", "n": 7})
    figures = _Figures()
    store.appeal_gauges["test"] = figures
    registry = CollectorRegistry()
    registry.register(store.collector())
    assert registry.get_sample_value("ja_test_status", {"appeal": "2"}) == 7
    assert registry.get_sample_value("ja_test_status", {"appeal": "1"}) == 0
    assert figures.seen[:2] == [(2, {"status": "sending", "n": "7"}), (1, {})]


async def test_dead_letters_are_counted_from_the_stream(store: Store) -> None:
    record = InboundRecord(source="+31600000001", destination="4777", text="x", carrier="sim",
                           bind="b", received_at=time.time())  # fmt: skip
    await store.deliveries.dead_letter("1-0", record, "boom")
    registry = CollectorRegistry()
    registry.register(store.collector())
    assert registry.get_sample_value("ja_inbound_dead_letters") == 1
