"""Waiting for a positive signal, within a deadline, instead of sleeping.

A test that sleeps and then asserts passes when the thing it checks had merely not happened
*yet*, and fails when a loaded machine is slow. ``wait_for`` waits for the condition itself:
it is checked again each time the code under test unparks a ``ParkingLot`` where that state
changes (the simulator's ``centre.changed``, the outbox's ``writeback.written``, the router's
``changed``, the inbox's ``changed``, the fan-out's ``stepped``, a carrier queue's ``lot``).
``poll_for`` is the one place that looks every 10 ms, for state no signal can reach this
process from (another process: an engine under ``ja-engine run``, a Redis server coming
back). Either fails the test with an ``AssertionError`` naming what it waited for once
``timeout`` seconds pass.

A condition may be a plain predicate or a coroutine function (to read Redis). A change the
signal announces while an asynchronous condition is being read is not lost: a watcher task
parks in the lot for the whole wait and flags every unpark.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence

import trio
from trio.lowlevel import ParkingLot

__all__ = ["Condition", "poll_for", "wait_for"]

Condition = Callable[[], bool | Awaitable[bool]]
POLL_INTERVAL = 0.01


async def wait_for(
    condition: Condition,
    *,
    on: ParkingLot | Sequence[ParkingLot],
    timeout: float = 10.0,
    what: str = "",
) -> None:
    """Return once ``condition()`` holds, checking it now and after each unpark of ``on`` (or
    of any of several lots, for state that more than one part of the system changes).

    Raises:
        AssertionError: it did not hold within ``timeout`` seconds.
    """
    lots = [on] if isinstance(on, ParkingLot) else on
    with trio.move_on_after(timeout):
        async with trio.open_nursery() as nursery:
            flag = _Flag()
            for lot in lots:
                await nursery.start(_watch, lot, flag)
            while not await _holds(condition):
                await flag.wait()
            nursery.cancel_scope.cancel()
        return
    raise AssertionError(f"not {what or 'true'} within {timeout} s")


async def poll_for(condition: Condition, *, timeout: float = 10.0, what: str = "") -> None:
    """Return once ``condition()`` holds, checking it every 10 ms: only for state that
    changes in another process, where no signal can reach this one.

    Raises:
        AssertionError: it did not hold within ``timeout`` seconds.
    """
    with trio.move_on_after(timeout):
        while not await _holds(condition):
            await trio.sleep(POLL_INTERVAL)
        return
    raise AssertionError(f"not {what or 'true'} within {timeout} s")


async def _holds(condition: Condition) -> bool:
    result = condition()
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


class _Flag:
    """Set by the watcher on every unpark; ``wait`` returns at once if set since the last
    ``wait``, so nothing that changed during a check goes unseen."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


async def _watch(lot: ParkingLot, flag: _Flag, *, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()  # parked below before the waiter runs again: no unpark is missed
    while True:
        await lot.park()
        flag.set()
