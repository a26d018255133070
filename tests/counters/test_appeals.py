"""Exact dedupe, atomic counts and the signatures stream, against a real Redis."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter

import pytest
import redis
import trio

from counters import AppealMeta, Keys, SignResult, Store
from tests.redis_support import stream_ids


async def test_first_reply_counts_and_repeat_is_duplicate(store: Store) -> None:
    appeals = store.appeals
    assert await appeals.sign(1, 10, text="Ja!", message_id="m1") == SignResult(True, 1)
    assert await appeals.sign(1, 11, text="JA", message_id="m2") == SignResult(True, 2)
    assert await appeals.sign(1, 10, text="ja", message_id="m3") == SignResult(False, 2)
    assert await appeals.count(1) == await appeals.signers(1) == 2
    assert await appeals.has_signed(1, 10)
    assert not await appeals.has_signed(1, 12)
    signatures = await appeals.signatures(1)
    assert [(s.subscriber, s.text, s.message_id) for s in signatures] == [
        (10, "Ja!", "m1"),
        (11, "JA", "m2"),
    ]
    assert abs(signatures[0].at - time.time()) < 60
    assert await appeals.signatures(1, after=signatures[0].entry_id) == signatures[1:]


async def test_dedupe_is_per_appeal(store: Store) -> None:
    results = await store.appeals.sign_many(
        [(1, 5, "JA", "a"), (2, 5, "JA", "b"), (1, 5, "JA", "c")]
    )
    assert results == [SignResult(True, 1), SignResult(True, 1), SignResult(False, 1)]


async def test_public_appeal_gives_an_id_without_subscribing(store: Store) -> None:
    subscriber = await store.subscribers.id("+31611111111")
    assert subscriber > 0
    assert not await store.subscribers.is_active(subscriber)
    assert await store.subscribers.id("+31611111111") == subscriber
    assert (await store.appeals.sign(3, subscriber, text="JA", message_id="tv")).new


async def test_bare_ja_finds_latest_open_appeal_received(store: Store) -> None:
    now = 1_800_000_000.0
    appeals = store.appeals
    await appeals.create(
        AppealMeta(id=1, title="a", text="A", opens_at=now - 99, closes_at=now + 99)
    )
    await appeals.create(AppealMeta(id=2, title="b", text="B", opens_at=now - 9, closes_at=now + 9))
    assert await appeals.meta(2) == AppealMeta(
        id=2, title="b", text="B", opens_at=now - 9, closes_at=now + 9
    )
    assert await appeals.meta(3) is None
    assert await appeals.ids() == [2, 1]
    await appeals.mark_received([7, 8], 1)
    await appeals.mark_received([7], 2)
    assert await appeals.last_received(7) == 2
    assert await appeals.last_received(9) == 0
    latest = await appeals.latest_open(7, now)
    assert latest is not None
    assert latest.id == 2
    assert await appeals.latest_open(7, now + 10) is None  # appeal 2 closed
    assert await appeals.latest_open(9, now) is None


async def test_reach_by_day_month_and_all_time(store: Store) -> None:
    day1 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    await store.appeals.sign_many([(1, s, "JA", "m") for s in range(1, 101)], at=day1)
    await store.appeals.sign_many([(2, s, "JA", "m") for s in range(51, 151)], at=day1 + 86400)
    reach = store.reach
    assert await reach.day(dt.date(2026, 12, 1)) == pytest.approx(100, rel=0.02)
    assert await reach.day(dt.date(2026, 12, 2)) == pytest.approx(100, rel=0.02)
    assert await reach.day(dt.date(2026, 12, 3)) == 0
    assert await reach.month(dt.date(2026, 12, 31)) == pytest.approx(150, rel=0.02)
    assert await reach.month(dt.date(2026, 11, 30)) == 0
    assert await reach.all_time() == pytest.approx(150, rel=0.02)
    await reach.add([151, 152], day1)
    assert await reach.all_time() == pytest.approx(152, rel=0.02)


async def test_keys_share_one_slot_per_appeal(keys: Keys) -> None:
    appeal = (keys.appeal_signed(42), keys.appeal_count(42), keys.appeal_signatures(42))
    assert keys.appeal_signed(42) == f"{{{keys.namespace}:ua:42}}:signed"
    assert len({redis.crc.key_slot(k.encode()) for k in (*appeal, keys.appeal_meta(42))}) == 1


@pytest.mark.slow
async def test_exact_at_scale_with_concurrent_duplicates(
    store: Store, redis_client: redis.Redis
) -> None:
    """200,000 signers plus 50,000 repeat replies, interleaved across 500 tasks."""
    signers, repeats, tasks = 200_000, 50_000, 500
    rng = random.Random(4)
    replies = [(s, f"m{s}") for s in range(1, signers + 1)]
    replies += [(s, f"r{s}") for s in rng.sample(range(1, signers + 1), repeats)]
    rng.shuffle(replies)
    outcomes: dict[int, list[SignResult]] = {}
    sign = store.appeals.sign

    async def replier(share: list[tuple[int, str]]) -> None:
        for subscriber, message_id in share:
            result = await sign(9, subscriber, text="JA", message_id=message_id)
            outcomes.setdefault(subscriber, []).append(result)

    async with trio.open_nursery() as nursery:
        for t in range(tasks):
            nursery.start_soon(replier, replies[t::tasks])

    new = [r for results in outcomes.values() for r in results if r.new]
    duplicates = [r for results in outcomes.values() for r in results if not r.new]
    assert len(new) == signers
    assert len(duplicates) == repeats
    assert all(sum(r.new for r in results) == 1 for results in outcomes.values())
    assert sorted(r.count for r in new) == list(range(1, signers + 1))  # each count given once
    keys = store.keys
    assert await store.appeals.count(9) == signers
    assert redis_client.xlen(keys.appeal_signatures(9)) == signers
    assert redis_client.bitcount(keys.appeal_signed(9)) == signers
    stored = Counter(stream_ids(redis_client, keys.appeal_signatures(9)))
    assert len(stored) == signers
    assert max(stored.values()) == 1
    for estimate in (await store.reach.all_time(), redis_client.pfcount(keys.reach_all)):
        assert abs(estimate - signers) / signers < 0.02


async def test_signatures_per_minute_agree_with_the_stream(store: Store) -> None:
    """The per-minute series counts new signers only, in the minute of their stream entry."""
    appeals = store.appeals
    await appeals.create(AppealMeta(id=5, title="X", text="JA", opens_at=1.0, closes_at=2.0))
    await appeals.sign_many([(5, s, "JA", f"m{s}") for s in range(1, 31)])
    await appeals.sign_many([(5, s, "JA", f"r{s}") for s in range(1, 11)])  # repeats
    await appeals.sign(5, 31, text="JA", message_id="m31")
    minutes = Counter(int(s.at // 60) for s in await appeals.signatures(5))
    asked = [*sorted(minutes), min(minutes) - 1]
    figures = await appeals.figures(5, asked)
    assert figures is not None
    assert figures.count == 31
    assert figures.per_minute == (*(minutes[m] for m in sorted(minutes)), 0)
    assert sum(figures.per_minute) == figures.count
    assert (figures.meta.title, figures.sent_at) == ("X", 0.0)
    assert await appeals.figures(6, asked) is None
