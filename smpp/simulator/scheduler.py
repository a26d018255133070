"""One task that runs every timed job of the simulator: receipts, replies, retries.

A heap of (due, sequence, job) drained by a single Trio task, so a million pending replies
cost a million small tuples and no tasks. The task sleeps until the earliest due time;
scheduling an earlier job moves that deadline. Time is Trio's, so ``autojump_clock`` runs
a day of replies in milliseconds.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from typing import Protocol

import trio

log = logging.getLogger(__name__)

__all__ = ["Job", "Scheduler"]

_BATCH = 2048
"""Jobs run per turn before the scheduler yields to the other tasks."""


class Job(Protocol):
    def fire(self, now: float) -> None:
        """Do the job; must not block."""


class Scheduler:
    """A heap of jobs drained by ``run`` (start it once, in the simulator's nursery)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._scope: trio.CancelScope | None = None
        self._wake_at = math.inf
        self.fired = 0
        self.failed = 0

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, due: float, job: Job) -> None:
        """Run ``job`` at ``due`` (Trio time), or on the next turn if that has passed."""
        heapq.heappush(self._heap, (due, next(self._seq), job))
        if due < self._wake_at:
            self._wake_at = due
            if self._scope is not None:
                self._scope.deadline = due

    def next_due(self) -> float:
        return self._heap[0][0] if self._heap else math.inf

    async def run(self) -> None:
        heap = self._heap
        pop = heapq.heappop
        while True:
            now = trio.current_time()
            n = 0
            while heap and heap[0][0] <= now:
                job = pop(heap)[2]
                try:
                    job.fire(now)
                except Exception:  # one bad job must not stop every receipt and reply
                    self.failed += 1
                    log.exception("scheduled job %r failed", job)
                n += 1
                if n >= _BATCH:
                    self.fired += n
                    n = 0
                    await trio.lowlevel.checkpoint()
                    now = trio.current_time()
            self.fired += n
            self._wake_at = heap[0][0] if heap else math.inf
            with trio.move_on_at(self._wake_at) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
