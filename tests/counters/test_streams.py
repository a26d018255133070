"""Outbound lanes: consumer group, acknowledge, reclaim, exactly-once fan-out, the schedule."""

from __future__ import annotations

from counters import Keys, Lane, OutboundMessage, Store, StoreConfig, open_store
from counters.streams import GROUP


def message(n: int, kind: str = "appeal") -> OutboundMessage:
    return OutboundMessage(ref=f"r{n}", to=f"+316{n:08d}", text="Act now", kind=kind, subscriber=n)


async def test_read_ack_and_pending(store: Store) -> None:
    queues = store.queues
    await queues.ensure_groups()
    await queues.ensure_groups()  # idempotent
    for n in range(3):
        await queues.push(Lane.TRANSACTIONAL, message(n, "thanks"))
    got = await queues.read(Lane.TRANSACTIONAL, "engine-1", count=2)
    assert [m.message for m in got] == [message(0, "thanks"), message(1, "thanks")]
    assert await queues.pending(Lane.TRANSACTIONAL) == 2
    assert await queues.ack(Lane.TRANSACTIONAL, [m.entry_id for m in got]) == 2
    assert await queues.pending(Lane.TRANSACTIONAL) == 0
    assert await queues.length(Lane.TRANSACTIONAL) == 1  # acknowledged entries are deleted
    assert await queues.read(Lane.BULK, "engine-1") == []
    assert await queues.ack(Lane.BULK, []) == 0


async def test_reclaim_what_a_dead_consumer_left_pending(store: Store) -> None:
    queues = store.queues
    await queues.ensure_groups()
    for n in range(5):
        await queues.push(Lane.BULK, message(n))
    taken = await queues.read(Lane.BULK, "engine-dead", count=5)
    assert len(taken) == 5  # ... and engine-dead never acknowledges: it crashed
    assert await queues.reclaim(Lane.BULK, "engine-2", min_idle=3600) == []
    first = await queues.reclaim(Lane.BULK, "engine-2", min_idle=0, count=3)
    assert len(first) == 3
    reclaimed = first + await queues.reclaim(Lane.BULK, "engine-2", min_idle=0, count=10)
    assert sorted(m.entry_id for m in reclaimed) == sorted(m.entry_id for m in taken)
    assert [m.message for m in reclaimed] == [m.message for m in taken]
    assert await queues.read(Lane.BULK, "engine-2") == []
    assert await queues.ack(Lane.BULK, [m.entry_id for m in reclaimed]) == 5
    assert await queues.pending(Lane.BULK) == 0


async def test_fan_out_never_enqueues_anyone_twice(store: Store) -> None:
    queues = store.queues
    first = await queues.enqueue_appeal(8, [message(n) for n in range(1, 6)])
    assert first == [True] * 5
    # a restarted fan-out goes over the same recipients and some new ones
    again = await queues.enqueue_appeal(8, [message(n) for n in range(1, 9)])
    assert again == [False] * 5 + [True] * 3
    assert await queues.length(Lane.BULK) == 8
    assert await queues.enqueue_appeal(9, [message(1)], lane=Lane.TRANSACTIONAL) == [True]
    assert await queues.length(Lane.TRANSACTIONAL) == 1


async def test_delayed_messages_move_when_due(store: Store) -> None:
    queues = store.queues
    await queues.ensure_groups()
    assert await queues.next_due() is None
    await queues.schedule(Lane.TRANSACTIONAL, message(1, "thanks"), due=1000.0)
    await queues.schedule(Lane.BULK, message(2, "outcome"), due=1001.0)
    await queues.schedule(Lane.TRANSACTIONAL, message(3, "thanks"), due=2000.0)
    assert await queues.scheduled() == 3
    assert await queues.next_due() == 1000.0
    assert await queues.promote(now=999.0) == 0
    assert await queues.promote(now=1500.0) == 2
    assert await queues.promote(now=1500.0) == 0
    assert await queues.scheduled() == 1
    tx = await queues.read(Lane.TRANSACTIONAL, "e")
    bulk = await queues.read(Lane.BULK, "e")
    assert [m.message for m in tx] == [message(1, "thanks")]
    assert [m.message for m in bulk] == [message(2, "outcome")]
    assert await queues.next_due() == 2000.0


async def test_reads_and_reclaims_speak_resp2_as_well(redis_url: str, keys: Keys) -> None:
    """redis-py talks RESP3 by default; a ``?protocol=2`` URL gets the older reply shapes."""
    url = redis_url + ("&" if "?" in redis_url else "?") + "protocol=2"
    async with open_store(StoreConfig(url=url, namespace=keys.namespace)) as store:
        queues = store.queues
        await queues.ensure_groups()
        for n in range(3):
            await queues.push(Lane.BULK, message(n))
        got = await queues.read(Lane.BULK, "engine-1", count=2)
        assert [m.message for m in got] == [message(0), message(1)]
        reclaimed = await queues.reclaim(Lane.BULK, "engine-2", min_idle=0)
        assert [m.message for m in reclaimed] == [message(0), message(1)]


async def age(store: Store, consumer: str, ids: list[str], seconds: float) -> None:
    """Make the pending ``ids`` of ``consumer`` look idle for ``seconds`` on Redis's own clock
    (``XCLAIM ... IDLE``, to the consumer that has them): no waiting, and a margin of a
    minute either side of ``min_idle`` that no slow machine eats up."""
    script = """
    local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ARGV, 4)}
    table.insert(args, 'IDLE')
    table.insert(args, ARGV[3])
    table.insert(args, 'JUSTID')
    return redis.call(unpack(args))
    """
    key = store.keys.lane(Lane.BULK)
    idle = int(seconds * 1000)
    await store.batcher.execute(("EVAL", script, 1, key, GROUP, consumer, idle, *ids))


async def test_held_entries_are_not_reclaimed_and_taken_ones_stay_taken(store: Store) -> None:
    queues = store.queues
    await queues.ensure_groups()
    for n in range(4):
        await queues.push(Lane.BULK, message(n))
    held = await queues.read(Lane.BULK, "engine-1", count=4)
    ids = [m.entry_id for m in held]
    await age(store, "engine-1", ids, 120)
    taken = await queues.reclaim(Lane.BULK, "engine-2", min_idle=60, count=1)
    assert [m.entry_id for m in taken] == ids[:1]  # engine-1 looked dead: one is taken over
    assert await queues.hold(Lane.BULK, "engine-1", ids) == ids[:1]  # the taken one stays taken
    assert await queues.reclaim(Lane.BULK, "engine-2", min_idle=60) == []  # held: not idle
    await age(store, "engine-1", ids[1:], 120)
    await age(store, "engine-2", ids[:1], 120)
    again = await queues.reclaim(Lane.BULK, "engine-2", min_idle=60)  # never its own
    assert sorted(m.entry_id for m in again) == sorted(ids[1:])
    assert await queues.hold(Lane.BULK, "engine-1", ids) == ids
    assert await queues.hold(Lane.BULK, "engine-1", []) == []
