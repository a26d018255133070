"""The seam between the inbound log and whatever acts on it.

Theory of operation. The inbox records every mobile-originated message in a Redis stream
before it answers the carrier. ``RouterLoop`` reads that stream through a consumer group in
batches and hands each batch to a ``Router`` (the campaigns layer, or ``LoggingRouter`` for a
bare gateway), then acknowledges it. The entries stay in the stream as the inbound log,
trimmed by length and age (``inbox.keep_messages``, ``inbox.keep_days``).

* **Batches.** A TV burst arrives as thousands of JA a second; a router gets them a batch at
  a time so that it can sign them with one Redis call per appeal, not one per JA.
* **Read again.** After a crash (or a Redis outage mid-batch) the same entries are read a
  second time, flagged ``again=True``. A router must make its effects idempotent per entry:
  the campaigns layer keys every reply by the inbound entry id (``RouterContext.send``) and
  schedules at most one thank-you per signer (``RouterContext.schedule``).
* **Contained failures.** Redis being unavailable pauses the loop (the entries stay pending
  and are read again). Any other exception is a bug or a poisoned message: the batch is
  retried entry by entry, and an entry that fails ``ATTEMPTS`` times goes to the dead-letter
  stream (``Deliveries.dead_letters``, ``ja_router_dead_letters_total``) and is acknowledged,
  so one bad message never stops the others nor crashes the engine on every restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import trio

from counters import InboundRecord, Lane, OutboundMessage, Store, StoreUnavailable
from engine.config import Config
from engine.masking import mask_number, printable
from engine.metrics import Metrics

__all__ = [
    "ATTEMPTS",
    "Batch",
    "LoggingRouter",
    "Router",
    "RouterContext",
    "RouterFactory",
    "RouterLoop",
]

log = logging.getLogger(__name__)

ATTEMPTS = 3
"""Times an inbound message is tried before it goes to the dead-letter stream."""
TRIM_EVERY = 60.0
Batch = Sequence[tuple[str, InboundRecord]]


class Router(Protocol):
    """Acts on recorded inbound messages (the campaigns layer: JA, STOP, START, HELP).

    ``again`` is True when these entries may have been handled before (read again after a
    crash or an outage): effects must not repeat.
    """

    async def route(self, batch: Batch, *, again: bool) -> None: ...


@dataclass
class RouterContext:
    """What a router may use, built by the engine once the store is open."""

    store: Store
    config: Config
    metrics: Metrics
    clock: Callable[[], float] = time.time
    """Wall-clock time (Unix seconds): due times and appeal windows are stored as such."""

    async def send(self, message: OutboundMessage, key: str) -> bool:
        """Queue a transactional reply at most once per ``key`` (e.g. the inbound entry id
        it answers). True if queued now, False if a reply with this key was queued before."""
        return (await self.send_many([(key, message)]))[0]

    async def send_many(self, items: Sequence[tuple[str, OutboundMessage]]) -> list[bool]:
        """`send` for many replies in one Redis call."""
        return await self.store.queues.reply_once(items, now=self.clock())

    async def schedule(
        self, due: float, message: OutboundMessage, *, appeal: int, kind: str
    ) -> bool:
        """Send ``message`` at ``due`` (Unix seconds) through the transactional lane, at most
        once per (appeal, kind, ``message.subscriber``)."""
        return (await self.schedule_many(appeal, kind, [(due, message)]))[0]

    async def schedule_many(
        self, appeal: int, kind: str, items: Sequence[tuple[float, OutboundMessage]]
    ) -> list[bool]:
        """`schedule` for many messages of one appeal and kind in one Redis call."""
        return await self.store.queues.schedule_once(
            appeal, kind, [(Lane.TRANSACTIONAL, m, due) for due, m in items]
        )


RouterFactory = Callable[[RouterContext], Router]


class LoggingRouter:
    """A bare gateway's router: logs each message (number masked) and keeps the last few."""

    def __init__(self, context: RouterContext | None = None) -> None:
        self.seen: list[InboundRecord] = []

    async def route(self, batch: Batch, *, again: bool) -> None:
        for _, record in batch:
            self.seen.append(record)
            log.info("inbound from %s via %s: %s", mask_number(record.source),
                     record.carrier, printable(record.text),
                     extra={"carrier": record.carrier})  # fmt: skip
        if len(self.seen) > 10_000:
            del self.seen[:5_000]


class RouterLoop:
    """Feeds recorded inbound messages to the router, acknowledging each once handled."""

    def __init__(
        self,
        store: Store,
        router: Router,
        metrics: Metrics,
        *,
        consumer: str,
        reclaim_idle: float = 60.0,
        keep_messages: int = 1_000_000,
        keep_seconds: float = 30 * 86400.0,
    ) -> None:
        self.store = store
        self.router = router
        self.metrics = metrics
        self.consumer = consumer
        self.reclaim_idle = reclaim_idle
        self.keep_messages = keep_messages
        self.keep_seconds = keep_seconds
        self.routed = 0
        """Entries acknowledged (for tests and the demo: a positive signal to wait for)."""
        self.changed = trio.lowlevel.ParkingLot()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Route new messages; first what this consumer read before a restart and never
        acknowledged, and now and then what a dead router left pending."""
        deliveries = self.store.deliveries
        await deliveries.ensure_inbound_group()
        task_status.started()
        pending_first = True
        now = trio.current_time()
        next_reclaim = now + self.reclaim_idle
        next_trim = now
        idle = 0.001
        while True:
            again = False
            try:
                now = trio.current_time()
                if pending_first:
                    batch = await deliveries.read_inbound(self.consumer, pending=True)
                    pending_first = again = bool(batch)
                elif now >= next_reclaim:
                    next_reclaim = now + self.reclaim_idle
                    batch = await deliveries.reclaim_inbound(
                        self.consumer, min_idle=self.reclaim_idle
                    )
                    again = True
                else:
                    batch = await deliveries.read_inbound(self.consumer, count=256)
                if batch:
                    await self._route(batch, again=again)
                if now >= next_trim:
                    next_trim = now + TRIM_EVERY
                    await deliveries.trim_inbound(
                        keep=self.keep_messages, max_age=self.keep_seconds
                    )
            except StoreUnavailable:
                # What was read and not acknowledged is pending to us: read it again first
                # (the claim takes only other routers' entries).
                self.metrics.child("store_errors", "router").inc()
                pending_first = True
                await trio.sleep(0.5)
                continue
            if batch:
                idle = 0.001
            else:
                await trio.sleep(idle)
                idle = min(idle * 2, 0.05)

    async def _route(self, batch: Batch, *, again: bool) -> None:
        if not getattr(self.router, "remembers_routes", False):
            await self._remember_routes([record for _, record in batch])
        try:
            await self.router.route(batch, again=again)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("router failed on a batch of %d: trying each message alone", len(batch))
            for entry in batch:
                await self._route_alone(entry)
        await self.store.deliveries.ack_inbound([entry_id for entry_id, _ in batch])
        self.routed += len(batch)
        if self.changed:
            self.changed.unpark_all()

    async def _route_alone(self, entry: tuple[str, InboundRecord]) -> None:
        """Try one message up to ``ATTEMPTS`` times (it may have been handled in part: it is
        routed as read again); then keep it in the dead-letter stream."""
        error = ""
        for _ in range(ATTEMPTS):
            try:
                await self.router.route([entry], again=True)
                return
            except StoreUnavailable:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        entry_id, record = entry
        log.error("inbound %s from %s dead-lettered: %s", entry_id, mask_number(record.source),
                  printable(error, 200),
                  extra={"inbound_id": entry_id, "carrier": record.carrier})  # fmt: skip
        await self.store.deliveries.dead_letter(entry_id, record, error)
        self.metrics.dead_letters.inc()

    async def wait_routed(self, count: int) -> None:
        """Wait until ``count`` entries have been routed and acknowledged (tests, demo)."""
        while self.routed < count:
            await self.changed.park()

    async def _remember_routes(self, records: list[InboundRecord]) -> None:
        """Known subscribers: note the carrier/bind they wrote in on, so replies go back the
        same way (free-to-end-user replies usually must, and numbers port between carriers)."""
        numbers = [r.source for r in records if r.source.startswith("+")]
        if not numbers:
            return
        ids = await self.store.subscribers.ids(numbers, create=False)
        by_number = dict(zip(numbers, ids, strict=True))
        routes = [
            (by_number[r.source], f"{r.carrier}/{r.bind}")
            for r in records
            if by_number.get(r.source)
        ]
        await self.store.subscribers.set_routes(routes)
