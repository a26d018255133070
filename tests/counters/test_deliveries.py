"""Attempt records, message-id mapping and exactly-once inbound recording, on a real Redis."""

from __future__ import annotations

import time

from counters import Attempt, InboundRecord, Lane, OutboundMessage, SentRecord, Store


async def test_attempts_survive_until_finished(store: Store) -> None:
    await store.queues.ensure_groups()
    refs = [
        await store.queues.push(
            Lane.BULK, OutboundMessage(ref=f"r{i}", to="+31600000001", text="x")
        )
        for i in range(3)
    ]
    read = await store.queues.read(Lane.BULK, "c1", count=10)
    ids = [m.entry_id for m in read]
    assert ids == refs
    await store.deliveries.mark_attempts(
        [(ids[0], Attempt("kpn-1", 100.0)), (ids[1], Attempt("kpn-2", 101.0, 2))]
    )
    assert await store.deliveries.attempts(ids) == [
        Attempt("kpn-1", 100.0),
        Attempt("kpn-2", 101.0, 2),
        None,
    ]
    assert await store.deliveries.in_flight() == 2
    await store.deliveries.finish(Lane.BULK, ids[:2])
    assert await store.deliveries.in_flight() == 0
    assert await store.queues.pending(Lane.BULK) == 1
    assert await store.queues.length(Lane.BULK) == 1


async def test_sent_records_found_by_any_candidate(store: Store) -> None:
    record = SentRecord(ref="r1", to="+31600000001", lane="bulk", bind="kpn-1", appeal=7)
    await store.deliveries.record_sent([("7B", record)])
    assert await store.deliveries.find_sent(["123", "7B"]) == ("7B", record)
    assert await store.deliveries.find_sent(["999"]) is None
    await store.deliveries.record_status("7B", "DELIVERED", "000")
    assert await store.deliveries.status("7B") == ("DELIVERED", "000")


async def test_sent_records_and_statuses_are_kept_a_week_in_day_hashes(store: Store) -> None:
    day = 86400.0
    now = 1_790_000_000.0
    old = SentRecord(ref="old", to="+31600000001", lane="bulk", bind="b")
    recent = SentRecord(ref="recent", to="+31600000002", lane="bulk", bind="b")
    await store.deliveries.record_sent([("A1", old)], now=now - 8 * day)
    await store.deliveries.record_sent([("B2", recent)], now=now - 6 * day)
    await store.deliveries.record_status("B2", "DELIVERED", now=now - 6 * day)
    await store.deliveries.record_status("B2", "EXPIRED", "x", now=now - day)  # the latest wins
    assert await store.deliveries.find_sent(["B2"], now=now) == ("B2", recent)
    assert await store.deliveries.find_sent(["A1"], now=now) is None  # 8 days: gone
    assert await store.deliveries.find_sent(["A1"], now=now - 2 * day) == ("A1", old)
    assert await store.deliveries.status("B2", now=now) == ("EXPIRED", "x")
    key = store.keys.sent_day(time.strftime("%Y%m%d", time.gmtime(now - 6 * day)))
    ttl = await store.batcher.execute(("TTL", key))
    assert 7 * day < ttl <= 8 * day  # the hash goes whole, a week after its last write


async def test_inbound_recorded_once_per_redelivery_key(store: Store) -> None:
    await store.deliveries.ensure_inbound_group()
    record = InboundRecord(
        source="+31600000001",
        destination="4777",
        text="JA",
        carrier="kpn",
        bind="kpn-1",
        received_at=1.0,
    )
    assert await store.deliveries.record_inbound(record, "k1", window=60)
    assert not await store.deliveries.record_inbound(record, "k1", window=60)
    assert await store.deliveries.record_inbound(record, "k2", window=60)
    got = await store.deliveries.read_inbound("router-1")
    assert [r for _, r in got] == [record, record]
    await store.deliveries.ack_inbound([entry for entry, _ in got])
    assert await store.deliveries.read_inbound("router-1") == []


async def test_undeliverable_numbers_are_kept(store: Store) -> None:
    await store.deliveries.mark_undeliverable("+31600000009", "UNDELIV err:001")
    assert await store.deliveries.undeliverable("+31600000009") == "UNDELIV err:001"
    assert await store.deliveries.undeliverable("+31600000008") is None


async def test_unacknowledged_inbound_is_read_again_after_a_restart(store: Store) -> None:
    await store.deliveries.ensure_inbound_group()
    record = InboundRecord(
        source="+31600000002", destination="4777", text="JA", carrier="kpn", bind="kpn-1",
        received_at=1.0,
    )  # fmt: skip
    assert await store.deliveries.record_inbound(record, "k3", window=60)
    assert len(await store.deliveries.read_inbound("router-1")) == 1
    # "router-1" crashed before acknowledging: restarted under the same name, it gets it back.
    again = await store.deliveries.read_inbound("router-1", pending=True)
    assert [r for _, r in again] == [record]
    claimed = await store.deliveries.reclaim_inbound("router-2", min_idle=0.0)
    assert [r for _, r in claimed] == [record]


async def test_inbound_log_is_trimmed_by_length_and_age_but_never_unacknowledged(
    store: Store,
) -> None:
    deliveries = store.deliveries
    await deliveries.ensure_inbound_group()
    for i in range(6):
        record = InboundRecord(source=f"+3161234567{i}", destination="4777", text=f"m{i}",
                               carrier="c", bind="b", received_at=0.0)  # fmt: skip
        assert await deliveries.record_inbound(record, f"trim{i}", window=60)
    read = await deliveries.read_inbound("router-1", count=4)
    await deliveries.ack_inbound([entry_id for entry_id, _ in read[:2]])
    # Keep 1: only the two acknowledged may go; m2 and m3 are read, not acknowledged.
    assert await deliveries.trim_inbound(keep=1, max_age=3600) == 2
    assert [r.text for _, r in await deliveries.inbound_log()] == ["m5", "m4", "m3", "m2"]
    await deliveries.ack_inbound([entry_id for entry_id, _ in read[2:]])
    assert await deliveries.trim_inbound(keep=3, max_age=3600) == 1
    assert [r.text for _, r in await deliveries.inbound_log()] == ["m5", "m4", "m3"]
    # By age everything is old an hour from now, but m4 and m5 have not been read yet.
    assert await deliveries.trim_inbound(keep=1000, max_age=1, now=time.time() + 3600) == 1
    assert [r.text for _, r in await deliveries.inbound_log()] == ["m5", "m4"]
