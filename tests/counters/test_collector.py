"""The Prometheus collector reads Redis-held counts at scrape time."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from counters import (
    AppealMeta,
    CountersCollector,
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
    assert sample("ja_queue_scheduled") == 1
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
