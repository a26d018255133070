"""One live engine per consumer name (``engine.lease``)."""

from __future__ import annotations

import socket

import pytest
import trio

from counters import Store
from engine.groups import sole
from engine.lease import ConsumerLease, ConsumerTaken, _here


async def test_a_second_engine_under_one_name_is_refused_until_the_first_lets_go(
    store: Store,
) -> None:
    first, second = ConsumerLease(store, "box", ttl=0.3), ConsumerLease(store, "box", ttl=0.3)
    await first.acquire()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first.keep)
        started = trio.current_time()
        with pytest.raises(ConsumerTaken, match=r"outbox\.consumer"):
            await second.acquire()
        assert trio.current_time() - started >= 0.3  # it waited for a lease that never ran out
        nursery.cancel_scope.cancel()
    await first.release()
    with trio.fail_after(0.2):
        await second.acquire()  # released: taken at once


async def test_a_crashed_engines_lease_runs_out(store: Store) -> None:
    crashed = ConsumerLease(store, "box", ttl=0.3)
    await crashed.acquire()  # ... and never renews it
    with trio.fail_after(1.0):
        await ConsumerLease(store, "box", ttl=0.3).acquire()


async def test_the_lease_of_a_process_gone_from_this_host_is_taken_at_once(store: Store) -> None:
    gone = f"{_here()}:4194303:dead"  # above any pid_max: no such process
    assert await store.queues.lease_consumer("box", gone, 60.0) is None
    with trio.fail_after(0.5):
        await ConsumerLease(store, "box", ttl=60.0).acquire()


async def test_a_process_of_another_pid_namespace_is_never_judged_dead(store: Store) -> None:
    """Containers may share a host name without seeing each other's pids."""
    other = f"{socket.gethostname()}/1:4194303:other"
    assert await store.queues.lease_consumer("box", other, 60.0) is None
    with pytest.raises(ConsumerTaken):
        await ConsumerLease(store, "box", ttl=0.2).acquire()


async def test_an_engine_whose_name_was_taken_stops(store: Store) -> None:
    lease = ConsumerLease(store, "box", ttl=0.3)
    await lease.acquire()
    await store.batcher.execute(("SET", store.keys.consumer("box"), "elsewhere:1:x"))
    with trio.fail_after(1.0), pytest.raises(ConsumerTaken, match="elsewhere"):
        await lease.keep()


def test_the_cli_recognises_the_error_inside_exception_groups() -> None:
    taken = ConsumerTaken("x")
    assert sole(taken, (ConsumerTaken,)) is taken
    assert sole(ExceptionGroup("g", [ExceptionGroup("h", [taken])]), (ConsumerTaken,)) is taken
    assert sole(ExceptionGroup("g", [taken, ValueError()]), (ConsumerTaken,)) is None
    assert sole(ValueError(), (ConsumerTaken,)) is None
