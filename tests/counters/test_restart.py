"""A Redis restart in the middle of batches loses nothing that was reported done."""

from __future__ import annotations

import pytest
import redis
import trio

from counters import SignResult, StoreConfig, StoreUnavailable, open_store
from tests.redis_support import PrivateRedis, stream_ids


@pytest.mark.slow
async def test_kill_and_restart_mid_stream(private_redis: PrivateRedis) -> None:
    signers, tasks = 3000, 50
    done: dict[int, SignResult] = {}
    a_third_done = trio.Event()
    outage_seen = trio.Event()
    unavailable = 0
    config = StoreConfig(
        url=private_redis.url, namespace="r", socket_timeout=0.5, connect_timeout=0.5
    )
    with trio.fail_after(30):
        async with open_store(config) as store:

            async def replier(first: int) -> None:
                nonlocal unavailable
                for subscriber in range(first, signers + 1, tasks):
                    while True:  # the carrier retries until we confirm
                        try:
                            result = await store.appeals.sign(
                                1, subscriber, text="JA", message_id=str(subscriber)
                            )
                        except StoreUnavailable:
                            unavailable += 1
                            outage_seen.set()
                            await trio.sleep(0.01)  # the carrier retries a moment later
                            continue
                        done[subscriber] = result
                        if len(done) >= signers // 3:
                            a_third_done.set()
                        break

            async with trio.open_nursery() as nursery:
                for first in range(1, tasks + 1):
                    nursery.start_soon(replier, first)
                await a_third_done.wait()
                private_redis.kill()  # SIGKILL while batches are in flight
                confirmed_before = dict(done)
                await outage_seen.wait()  # the batches in flight failed: now bring it back
                await trio.to_thread.run_sync(private_redis.start)
            assert store.batcher.is_up

    assert unavailable > 0
    client = redis.Redis.from_url(private_redis.url)
    try:
        keys = store.keys
        stored = stream_ids(client, keys.appeal_signatures(1))
        assert set(confirmed_before) <= set(stored)  # nothing reported done was lost
        assert sorted(stored) == list(range(1, signers + 1))  # and nothing was stored twice
        assert int(client.get(keys.appeal_count(1)) or 0) == signers
        assert client.bitcount(keys.appeal_signed(1)) == signers
        # a JA applied just before the crash but not confirmed comes back as a duplicate
        assert sum(r.new for r in done.values()) <= signers
    finally:
        client.close()
