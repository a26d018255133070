"""Several engine processes on one Redis: the lanes' consumer group shares the queue, and an
engine never takes over what a live one still holds (only what a dead one left)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from counters import Lane, OutboundMessage, QueuedMessage, Store
from counters.records import encode
from engine.app import Engine, open_engine
from engine.config import Config, parse_config
from engine.metrics import Metrics
from engine.outbox import READ_AHEAD
from smpp.simulator.server import open_simulator
from tests.engine.support import (
    Rig,
    engine_config,
    finished,
    mark_binds,
    wait_until_delivered,
)
from tests.engine.test_outbound import quiet_sim
from tests.redis_support import free_port
from tests.waiting import wait_for


def message_for(n: int) -> OutboundMessage:
    return OutboundMessage(ref=f"m{n}", to=f"+{31600000000 + n}", text=f"msg {n}")


OUTBOX = '[outbox]\nconsumer = "{name}"\nreclaim_idle = {reclaim_idle}\n'


def named(
    port: int,
    store: Store,
    name: str,
    *,
    rate: float = 5000.0,
    burst: int = 50,
    reclaim_idle: float = 1.2,
) -> Config:
    """An engine called ``name`` (its consumer name) on the test's namespace, taking over
    other engines' entries idle for ``reclaim_idle`` seconds."""
    return engine_config(
        port, store.keys.namespace, rate=rate, burst=burst, response_timeout=0.5,
        extra=OUTBOX.format(name=name, reclaim_idle=reclaim_idle),
    )  # fmt: skip


async def wait_backlog(engine: Engine, count: int) -> None:
    """Until ``engine`` holds ``count`` messages in carrier "sim"'s queue (read, waiting)."""
    outbox = engine.outbox
    await wait_for(
        lambda: outbox.backlog_size() >= count,
        on=outbox.queues["sim"].lot,
        what=f"{count} messages waiting in the engine",
    )


async def test_a_live_engines_slow_backlog_is_not_taken_over(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine "slow" holds 40 messages behind a 25/s bind for 1.6 s (as it would after its
    carrier slowed it down), longer than the 1.2 s after which engine "fast" takes over idle
    entries: "slow" keeps them (it holds them every 0.4 s), so every handset gets its
    message once."""
    monkeypatch.setattr("engine.outbox.READ_AHEAD", 4.0)  # 100 messages: all 40 at once
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        slow_config = named(port, store, "slow", rate=25.0, burst=1)
        fast_config = named(port, store, "fast")
        slow_metrics, fast_metrics = Metrics(), Metrics()
        async with open_engine(slow_config, metrics=slow_metrics, store=store) as slow:
            rig = Rig(sim, slow, store, slow_metrics)
            await rig.push(40)
            await wait_backlog(slow, 30)  # read into memory, waiting for tokens
            async with open_engine(fast_config, metrics=fast_metrics, store=store) as fast:
                # "slow" sends and finishes every one of them itself: an entry "fast" had
                # taken over would have been dropped from "slow"'s queue at its next hold.
                await rig.wait_finished(40)
            # "fast" has stopped: what it took it has sent (and was answered) or still holds.
            assert not fast.outbox.held
            await mark_binds(slow)  # everything "slow" sent is in the ledger
        assert rig.received(0, 40) == [1] * 40
        assert await store.queues.length(Lane.BULK) == 0
        assert finished(fast_metrics) == 0  # "fast" sent nothing: there was nothing to take


async def test_engines_share_a_slow_carriers_queue(store: Store) -> None:
    """Each engine reads about half a second of what its binds may send: the first one up
    does not hoard the lane while the second sits idle."""
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        metrics = {name: Metrics() for name in ("a", "b")}
        configs = {name: named(port, store, name, rate=50.0, burst=1) for name in metrics}
        async with open_engine(configs["a"], metrics=metrics["a"], store=store) as a:
            rig = Rig(sim, a, store, metrics["a"])
            await rig.push(100)
            async with open_engine(configs["b"], metrics=metrics["b"], store=store) as b:
                with trio.fail_after(10):
                    await b.wait_bound()
                # "a" keeps half a second of its sending in memory, not the whole lane ...
                read_ahead = int(50 * READ_AHEAD)
                assert a.outbox.backlog_size() <= read_ahead
                # ... so what it has neither sent nor read is left in the lane for both.
                unread = 100 - sim.ledger.count() - len(a.outbox.held)
                await rig.wait_delivered(100, timeout=10)
        # Both stopped: every send answered and written back.
        sent = {name: finished(m) for name, m in metrics.items()}
        assert sent["a"] + sent["b"] == 100
        # At 50/s each they take turns at what was left, "a" ahead by at most its read-ahead.
        assert sent["b"] >= unread / 2 - read_ahead, (sent, unread)
        assert rig.received(0, 100) == [1] * 100


async def test_an_engine_without_a_bind_up_leaves_the_queue_to_the_others(store: Store) -> None:
    """Its carrier refuses it: it reads nothing, so the engine that is bound sends it all at
    once (instead of after ``reclaim_idle``, or never with one engine)."""
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        # Taking over another engine's entries waits longer than this test may run: "up" can
        # send all of them only if "down" has read none.
        down = named(free_port(), store, "down", reclaim_idle=600.0)
        up = named(port, store, "up", reclaim_idle=600.0)
        async with open_engine(down, metrics=Metrics(), store=store) as lonely:
            rig = Rig(sim, lonely, store, Metrics())
            await rig.push(50, lane=Lane.BULK)
            await rig.push(5, lane=Lane.TRANSACTIONAL, first=50)
            assert lonely.outbox._room() == (0, 0)  # no bind up: nothing to read
            async with open_engine(up, metrics=Metrics(), store=store):
                await rig.wait_delivered(55, timeout=10)
            assert lonely.outbox.backlog_size() == 0
            assert not lonely.outbox.held
        assert rig.received(0, 55) == [1] * 55


async def test_entries_taken_over_while_queued_are_not_sent_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another consumer took entries over (this engine looked dead): at its next hold this
    engine drops them from its queue instead of sending what the other now owns."""
    monkeypatch.setattr("engine.outbox.READ_AHEAD", 4.0)
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        config = named(port, store, "slow", rate=10.0, burst=1)
        metrics = Metrics()
        async with open_engine(config, metrics=metrics, store=store) as slow:
            rig = Rig(sim, slow, store, metrics)
            await rig.push(30)
            await wait_backlog(slow, 25)  # read, waiting for tokens
            waiting = list(slow.outbox.queues["sim"].bulk)[-10:]  # the last to go out
            ids = [item.entry_id for item in waiting]
            key = store.keys.lane(Lane.BULK)
            steal = "return redis.call('XCLAIM', KEYS[1], 'senders', 'thief', 0, unpack(ARGV))"
            await store.batcher.execute(("EVAL", steal, 1, key, *ids))

            async def thief_is_alive() -> None:  # ... and keeps what it took, as a live
                while True:  # engine does (else "slow" would take them back in time)
                    await store.queues.hold(Lane.BULK, "thief", ids)
                    await trio.sleep(0.2)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(thief_is_alive)
                await slow.outbox._hold_backlog()  # its next hold (the reclaimer's, run now)
                assert not any(entry_id in slow.outbox.held for entry_id in ids)
                await rig.settle(20)  # the others sent and written back, then a marker
                assert slow.outbox.backlog_size() == 0  # nothing left to send
                assert not slow.outbox.held
                nursery.cancel_scope.cancel()
        taken = {int(item.message.ref[1:]) for item in waiting}
        assert all(rig.received(n, 1) == [0] for n in taken)  # "slow" sent none of them
        assert sum(rig.received(0, 30)) == 20


LOST_READ = """
local ids = {}
for i = 1, #ARGV do ids[i] = redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]) end
redis.call('XREADGROUP', 'GROUP', 'senders', 'e1', 'COUNT', #ARGV, 'STREAMS', KEYS[1], '>')
return ids
"""
"""Queue messages and read them as "e1" at once, so the engine's own reads cannot come in
between: Redis holds them pending to "e1", the engine never saw them (a lost reply)."""


async def lose_a_read(store: Store, numbers: range) -> list[str]:
    """`LOST_READ` for ``message_for(n)`` of each of ``numbers``; their entry ids."""
    payloads = [encode(message_for(n)) for n in numbers]
    key = store.keys.lane(Lane.BULK)
    ids = await store.batcher.execute(("EVAL", LOST_READ, 1, key, *payloads))
    return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


@asynccontextmanager
async def engine_e1(store: Store) -> AsyncIterator[Rig]:
    """The simulator and an engine whose consumer is "e1"."""
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        metrics = Metrics()
        async with open_engine(named(port, store, "e1"), metrics=metrics, store=store) as engine:
            yield Rig(sim, engine, store, metrics)


async def test_a_read_whose_reply_was_lost_is_read_again(store: Store) -> None:
    """Redis handed entries to this engine's consumer but the reply never came back (a
    timeout): after the failure the reader reads its own pending entries again."""
    async with engine_e1(store) as rig:
        await lose_a_read(store, range(5))
        await store.queues.push(Lane.BULK, message_for(5))  # a marker after them
        await rig.wait_delivered(1)
        # The engine has read past them: pending to "e1", they are unknown to it.
        assert rig.received(0, 6) == [0] * 5 + [1]
        rig.engine.outbox._lost_reads = True  # what a failed read sets
        await rig.wait_delivered(6)
    assert rig.received(0, 6) == [1] * 6


async def test_an_entry_finished_while_pending_entries_are_read_is_not_sent_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply to a read of pending entries can be older than a finish confirmed while it
    was on its way (both in one Redis batch): what was acknowledged meanwhile is skipped."""
    async with engine_e1(store) as rig:
        (entry_id,) = await lose_a_read(store, range(1))
        real = store.queues.read_pending

        async def stale_read(lane: Lane, consumer: str) -> list[QueuedMessage]:
            entries = await real(lane, consumer)
            if lane is Lane.BULK:  # confirmed finished while this reply was coming back
                rig.engine.outbox._finished_ids([entry_id])
            return entries

        monkeypatch.setattr(store.queues, "read_pending", stale_read)
        rig.engine.outbox._lost_reads = True
        await store.queues.push(Lane.BULK, message_for(1))  # read after the recovery
        await rig.wait_delivered(1)
    assert rig.received(0, 2) == [0, 1]


TWO_CARRIERS = """
short_code = "4777"
[redis]
namespace = "{namespace}"
[outbox]
consumer = "two"
[carriers.up]
prefixes = ["+3160"]
[[carriers.up.binds]]
name = "up-1"
port = {port}
system_id = "ja"
password = "pw"
[carriers.down]
prefixes = ["+3162"]
[[carriers.down.binds]]
name = "down-1"
port = {closed}
system_id = "ja"
password = "pw"
reconnect_initial = 0.05
reconnect_max = 0.5
"""


async def test_a_carrier_that_is_down_does_not_stop_the_others(store: Store) -> None:
    """Three hundred messages for a carrier that is down, then fifty for one that is up, with
    room in memory for a hundred: the down carrier's messages go back to Redis (the delayed
    schedule) so that reading goes on, and the carrier that is up gets all of its own."""
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        text = TWO_CARRIERS.format(namespace=store.keys.namespace, port=port, closed=free_port())
        async with open_engine(parse_config(text), metrics=Metrics(), store=store) as engine:
            engine.outbox.backlog = 100  # a small memory bound, so the lane must hold the rest
            for n in range(300):  # 300 for the carrier that is down, then 50 for the other
                await store.queues.push(Lane.BULK, OutboundMessage(
                    ref=f"d{n}", to=f"+3162{n:07d}", text="appeal"))  # fmt: skip
            for n in range(50):
                await store.queues.push(Lane.BULK, message_for(n))  # +3160...: carrier "up"
            await wait_until_delivered(sim, 50)
            assert len(engine.outbox.queues["down"]) <= 100
            await engine.outbox.flush()
            waiting = await store.queues.length(Lane.BULK) + await store.queues.scheduled()
            assert waiting >= 300  # nothing lost: in the lane, or parked in the schedule
            assert await store.queues.scheduled() > 0  # some were parked to read past them
        assert sim.ledger.count() == 50
