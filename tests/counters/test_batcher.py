"""The batcher: batches form under load, a lone call goes at once, errors reach their callers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis
import trio

from counters import (
    Batcher,
    Keys,
    Kind,
    Lane,
    OutboundMessage,
    Single,
    StoreConfig,
    StoreError,
    StoreUnavailable,
    make_client,
    open_store,
)
from counters.batcher import Command
from tests.redis_support import PrivateRedis, free_port

echo: Single[Command, object] = Single(lambda command: command, lambda reply: reply)


class Broken(Kind[int, int]):
    def commands(self, ops: Sequence[int]) -> list[Command]:
        raise RuntimeError("bug in a kind")


async def run_batcher(url: str, nursery: trio.Nursery, **kwargs: int) -> Batcher:
    client = make_client(url, StoreConfig())
    batcher = Batcher(client, **kwargs)  # type: ignore[arg-type]
    await nursery.start(batcher.run)
    return batcher


async def test_concurrent_calls_share_batches_and_a_lone_call_is_sent_at_once(
    redis_url: str,
) -> None:
    async with open_store(StoreConfig(url=redis_url, runners=1)) as store:
        batcher = store.batcher
        with trio.fail_after(5):
            assert await batcher.call(echo, ("PING",)) in (True, b"PONG")
        assert batcher.batches == 1
        results: list[object] = []

        async def ping(n: int) -> None:
            results.append(await batcher.call(echo, ("ECHO", str(n))))

        async with trio.open_nursery() as nursery:
            for n in range(500):
                nursery.start_soon(ping, n)
        assert sorted(results) == sorted(str(n).encode() for n in range(500))  # type: ignore[type-var]
        assert batcher.batches <= 3
        assert batcher.operations == 501


async def test_errors_reach_only_their_callers(redis_url: str) -> None:
    async with open_store(StoreConfig(url=redis_url)) as store:
        batcher = store.batcher

        async def bad() -> None:
            with pytest.raises(StoreError, match="unknown command"):
                await batcher.call(echo, ("NOSUCHCOMMAND",))
            with pytest.raises(RuntimeError, match="bug in a kind"):
                await batcher.call(Broken(), 1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(bad)
            assert await batcher.call(echo, ("ECHO", "ok")) == b"ok"
        assert await batcher.call_many(echo, [("ECHO", "a"), ("ECHO", "b")]) == [b"a", b"b"]
        with pytest.raises(StoreError):
            await batcher.call_many(echo, [("ECHO", "a"), ("NOSUCHCOMMAND",)])


async def test_a_reply_that_cannot_be_parsed_fails_its_batch_not_the_store(
    redis_url: str, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """redis-py parses XPENDING's extended reply with the summary's parser and fails."""
    async with open_store(StoreConfig(url=redis_url, namespace=keys.namespace)) as store:
        batcher = store.batcher
        key = store.keys.lane(Lane.BULK)
        await store.queues.ensure_groups()
        await store.queues.push(Lane.BULK, OutboundMessage(ref="r", to="+31600000001", text="x"))
        await store.queues.read(Lane.BULK, "engine-1")
        with pytest.raises(StoreError, match="batch failed"):
            await batcher.call(echo, ("XPENDING", key, "senders", "-", "+", 10))
        assert "a Redis batch failed" in caplog.text
        assert await batcher.call(echo, ("ECHO", "still here")) == b"still here"
        assert await store.queues.pending(Lane.BULK) == 1


async def test_a_cancelled_caller_leaves_the_batcher_working(redis_url: str) -> None:
    async with open_store(StoreConfig(url=redis_url)) as store:
        with trio.move_on_after(0):
            await store.batcher.call(echo, ("ECHO", "x"))
        for _ in range(3):
            with trio.move_on_after(0.0005):
                await store.batcher.call(echo, ("ECHO", "y"))
        assert await store.batcher.call(echo, ("ECHO", "z")) == b"z"


async def test_unreachable_redis_fails_fast_with_a_typed_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with trio.fail_after(3), pytest.raises(StoreUnavailable, match="does not answer"):
        async with open_store(StoreConfig(url=url)):
            pass  # pragma: no cover


def test_the_client_never_retries_on_its_own() -> None:
    client = make_client("redis://127.0.0.1:1/0", StoreConfig(socket_timeout=0.3))
    try:
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["retry"].get_retries() == 0
        assert kwargs["socket_timeout"] == 0.3
    finally:
        client.close()


@pytest.mark.slow
async def test_lost_scripts_are_reloaded_and_run_once(private_redis: PrivateRedis) -> None:
    async with open_store(StoreConfig(url=private_redis.url, namespace="s")) as store:
        assert (await store.appeals.sign(1, 1, text="JA", message_id="a")).count == 1
        client = redis.Redis.from_url(private_redis.url)
        try:
            client.script_flush()
            results = await store.appeals.sign_many([(1, 2, "JA", "b"), (1, 1, "JA", "c")])
            assert [(r.new, r.count) for r in results] == [(True, 2), (False, 2)]
            assert client.xlen(store.keys.appeal_signatures(1)) == 2
        finally:
            client.close()
