"""The public counter of an appeal, served from a cache that Redis sees once a second.

Theory of operation: a website under load (a TV appeal's landing page, a studio screen, the
live page's event streams) may ask for the same appeal's counter thousands of times a second.
Each appeal has one cache entry. A request finds the entry fresh (younger than ``ttl``) and
returns it, or stale: then the first such request refreshes it (one round trip: metadata,
count, the last hour's per-minute series, when it was sent) while every other request
returns the stale snapshot at once, or, when there is none yet, waits for that same read
(single flight). So Redis sees at most one read per appeal per ``ttl``, however many clients.

The read is shielded from the requesting client's disconnect (others may be waiting on it)
and bounded by ``READ_TIMEOUT``. When Redis fails, the last snapshot keeps being served (its
``updated_at`` says how old it is) and the next try waits ``ttl``. Unknown, draft and
non-public appeals are cached too, as "not found": the same answer for all three, so the
counter never tells whether an appeal exists.

Ids that are not appeals at all cost no read of their own: the ids of every appeal (the
appeal index) are read at most once per ``ttl``, single flight too, and an id not among them
is "not found" at once. So a client asking for random ids makes at most one read a second,
and cannot push the real appeals out of the cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec
import trio

from counters import AppealFigures, StoreError, StoreUnavailable

__all__ = [
    "MAX_ENTRIES",
    "TTL",
    "WINDOW",
    "CounterUnavailable",
    "PublicCounter",
    "PublicCounters",
    "Snapshot",
]

TTL = 1.0
"""Seconds a snapshot is served before the next read (the ``Cache-Control: max-age``)."""
WINDOW = 60
"""Minutes in ``per_minute``: the last hour, the current minute last."""
MAX_ENTRIES = 1024
"""Appeals cached at once; the least recently asked is dropped first."""
MAX_KNOWN = 100_000
"""Appeal ids read from the index (the newest)."""
READ_TIMEOUT = 5.0


class CounterUnavailable(Exception):
    """Redis did not answer and there is no earlier snapshot to serve."""


class _Figures(Protocol):
    """What the cache needs of the store (`counters.Appeals`)."""

    async def figures(self, appeal: int, minutes: Sequence[int]) -> AppealFigures | None: ...

    async def ids(self, *, newest: int) -> list[int]: ...


class PublicCounter(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body of ``GET /api/v1/public/appeals/{appeal}/counter``."""

    appeal: int
    title: str
    count: int
    per_minute: list[int]
    """New signatures in each of the last 60 minutes, oldest first (the last is the current,
    unfinished minute)."""
    sent_at: str | None
    opened_at: str | None
    updated_at: str
    """When these figures were read from Redis (ISO 8601, UTC)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One appeal's answer as encoded once per refresh; ``body`` None means "not found"."""

    body: bytes | None
    etag: str
    counter: PublicCounter | None


_NOT_FOUND = Snapshot(None, "", None)
_encode = msgspec.json.Encoder().encode


class _Entry:
    __slots__ = ("fetched_at", "refreshing", "snapshot")

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.fetched_at = -float("inf")
        self.refreshing: trio.Event | None = None


class PublicCounters:
    """Snapshots of public appeals' counters, at most one Redis read per appeal per ``ttl``.

    ``reads`` counts the reads made (tests and the benchmark check the cache with it).
    """

    def __init__(
        self,
        appeals: _Figures,
        *,
        ttl: float = TTL,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._appeals = appeals
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[int, _Entry] = {}
        self._known: frozenset[int] = frozenset()
        self._known_at = -float("inf")
        self._knowing: trio.Event | None = None
        self._known_ever = False
        self.reads = 0
        """Reads of an appeal's figures."""
        self.index_reads = 0
        """Reads of the appeal index."""

    @property
    def ttl(self) -> float:
        return self._ttl

    async def get(self, appeal: int) -> Snapshot:
        """The appeal's latest snapshot (read from Redis if it is older than ``ttl``).

        Raises:
            CounterUnavailable: Redis failed and nothing was read before.
        """
        if appeal not in self._known and appeal not in self._entries:
            await self._learn_ids()
            if appeal not in self._known:
                return _NOT_FOUND
        entry = self._entry(appeal)
        if trio.current_time() - entry.fetched_at < self._ttl:
            return self._served(entry)
        if entry.refreshing is None:
            await self._refresh(appeal, entry)
        elif entry.snapshot is None:
            await entry.refreshing.wait()
        return self._served(entry)

    async def _learn_ids(self) -> None:
        """Read the appeal index, unless it was read less than ``ttl`` ago (then, or when
        another request is reading it, wait for that read).

        Raises:
            CounterUnavailable: Redis failed and the index was never read.
        """
        if self._knowing is not None:
            await self._knowing.wait()
        elif trio.current_time() - self._known_at >= self._ttl:
            done = self._knowing = trio.Event()
            try:
                with trio.CancelScope(shield=True), trio.move_on_after(READ_TIMEOUT):
                    self.index_reads += 1
                    self._known = frozenset(await self._appeals.ids(newest=MAX_KNOWN))
                    self._known_ever = True
            except (StoreUnavailable, StoreError):
                pass  # the ids known so far stay; the next try waits ``ttl``
            finally:
                self._known_at = trio.current_time()
                self._knowing = None
                done.set()
        if not self._known_ever:
            raise CounterUnavailable("the appeal index could not be read from Redis")

    def _served(self, entry: _Entry) -> Snapshot:
        if entry.snapshot is None:
            raise CounterUnavailable("the counter could not be read from Redis")
        return entry.snapshot

    def _entry(self, appeal: int) -> _Entry:
        entry = self._entries.pop(appeal, None) or _Entry()
        self._entries[appeal] = entry  # re-inserted: the dict's order is least recent first
        if len(self._entries) > self._max_entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest].refreshing is None:
                del self._entries[oldest]
        return entry

    async def _refresh(self, appeal: int, entry: _Entry) -> None:
        done = entry.refreshing = trio.Event()
        try:
            # Shielded: other requests may wait on this read; a client that leaves must not
            # cancel it for them. Bounded, like every wait.
            with trio.CancelScope(shield=True), trio.move_on_after(READ_TIMEOUT):
                self.reads += 1
                now = self._clock()
                current = int(now // 60)
                minutes = range(current - WINDOW + 1, current + 1)
                figures = await self._appeals.figures(appeal, minutes)
                entry.snapshot = snapshot(figures, now)
        except (StoreUnavailable, StoreError):
            pass  # the last snapshot (if any) stays; the next try waits ``ttl``
        finally:
            entry.fetched_at = trio.current_time()
            entry.refreshing = None
            done.set()


def snapshot(figures: AppealFigures | None, now: float) -> Snapshot:
    """The answer for ``figures`` read at ``now``: not found unless the appeal is public and
    was sent (a draft's title is not yet for the public)."""
    if figures is None or not figures.meta.public or figures.meta.opens_at <= 0:
        return _NOT_FOUND
    meta = figures.meta
    counter = PublicCounter(
        appeal=meta.id,
        title=meta.title,
        count=figures.count,
        per_minute=list(figures.per_minute),
        sent_at=_iso(figures.sent_at),
        opened_at=_iso(meta.opens_at),
        updated_at=_iso(now) or "",
    )
    # The ETag ignores ``updated_at``: unchanged figures give a 304 (and no SSE event).
    same = _encode(msgspec.structs.replace(counter, updated_at=""))
    etag = f'"{hashlib.blake2b(same, digest_size=8).hexdigest()}"'
    return Snapshot(_encode(counter), etag, counter)


def _iso(unix: float) -> str | None:
    if unix <= 0:
        return None
    moment = dt.datetime.fromtimestamp(unix, dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
