"""The outbound path: Redis lanes -> carrier binds -> acknowledged entries.

Theory of operation.

* The **reader** pulls entries from the transactional lane before the bulk lane, and bulk only
  while the in-memory backlog is small, so a million-message appeal never delays a thank-you:
  the thank-you is read on the reader's next turn and goes to the front of its carrier's queue.
* One **sender** per carrier takes a batch of messages, picks a bind for each whole message
  (window room and tokens, ``CarrierPool.pick``), records the attempts in Redis in one call,
  then puts the parts on the wire. Recording first means that after a crash or a dropped bind,
  a message with an attempt and no response is known to be "outcome unknown".
* Responses arrive as callbacks. OK: the entry is finished (acknowledged and deleted) and the
  carrier's message id stored so receipts find it. Throttled: the message goes back to the
  front of its queue (the bind has already slowed down). Temporary error: retried with
  back-off through the delayed schedule, up to ``max_attempts``. Permanent error: final.
  Outcome unknown (bind dropped, no response): the lane's policy decides; resends are counted
  as possible duplicates.
* A **completer** writes finished entries back to Redis in batches; the **scheduler** promotes
  due retries and thank-yous; the **reclaimer** takes over what a dead consumer left pending.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from counters import (
    Attempt,
    Lane,
    OutboundMessage,
    QueuedMessage,
    SentRecord,
    Store,
    StoreUnavailable,
)
from engine.bind import THROTTLE_STATUSES, CarrierBind
from engine.config import Config
from engine.metrics import Metrics
from engine.pool import CarrierPool
from engine.routing import Routing, smpp_destination
from smpp.constants import CommandStatus, EsmClass, RegisteredDelivery, status_name
from smpp.pdu import SubmitSM, SubmitSMResp
from smpp.receipt import normalise_message_id
from smpp.segment import split_message
from smpp.transport import Outcome

__all__ = ["PERMANENT_STATUSES", "Outbox", "classify"]

log = logging.getLogger(__name__)

PERMANENT_STATUSES = frozenset(
    {
        CommandStatus.ESME_RINVDSTADR,
        CommandStatus.ESME_RINVDSTTON,
        CommandStatus.ESME_RINVDSTNPI,
        CommandStatus.ESME_RINVSRCADR,
        CommandStatus.ESME_RINVSRCTON,
        CommandStatus.ESME_RINVSRCNPI,
        CommandStatus.ESME_RINVMSGLEN,
        CommandStatus.ESME_RINVESMCLASS,
        CommandStatus.ESME_RINVREGDLVFLG,
        CommandStatus.ESME_RX_P_APPN,
        CommandStatus.ESME_RX_R_APPN,
    }
)
"""Errors that no retry can fix: the number, the sender or the message is refused."""

READ_BATCH = 256
SENDS_IN_FLIGHT = 8
_RECORDED = frozenset({"rejected", "failed", "unknown", "unroutable"})
_BAD_NUMBER = frozenset(
    {CommandStatus.ESME_RINVDSTADR, CommandStatus.ESME_RINVDSTTON, CommandStatus.ESME_RINVDSTNPI}
)


def classify(outcome: Outcome) -> str:
    """'ok', 'throttled', 'temporary', 'permanent' or 'unknown' for one part's outcome."""
    if isinstance(outcome, BaseException):
        return "unknown"
    status = outcome.command_status
    if status == CommandStatus.ESME_ROK and isinstance(outcome.response, SubmitSMResp):
        return "ok"
    if status in THROTTLE_STATUSES:
        return "throttled"
    if status in PERMANENT_STATUSES:
        return "permanent"
    return "temporary"


_SEVERITY = {"ok": 0, "throttled": 1, "temporary": 2, "unknown": 3, "permanent": 4}


@dataclass
class _Item:
    """One queued message on its way: its parts and their outcomes."""

    lane: Lane
    entry_id: str
    message: OutboundMessage
    carrier: str
    short_messages: list[bytes]
    data_coding: int
    udhi: bool
    read_at: float
    outcomes: list[Outcome | None] = field(default_factory=list)
    bind: CarrierBind | None = None
    sent_at: float = 0.0

    @property
    def parts(self) -> int:
        return len(self.short_messages)


class _CarrierQueue:
    """In-memory backlog of one carrier: transactional first, then bulk."""

    def __init__(self) -> None:
        self.tx: deque[_Item] = deque()
        self.bulk: deque[_Item] = deque()
        self.lot = trio.lowlevel.ParkingLot()

    def __len__(self) -> int:
        return len(self.tx) + len(self.bulk)

    def put(self, item: _Item) -> None:
        (self.tx if item.lane is Lane.TRANSACTIONAL else self.bulk).append(item)
        self.lot.unpark_all()

    def put_front(self, items: list[_Item]) -> None:
        for item in reversed(items):
            (self.tx if item.lane is Lane.TRANSACTIONAL else self.bulk).appendleft(item)
        self.lot.unpark_all()

    async def take(self, most: int) -> list[_Item]:
        while not self.tx and not self.bulk:
            await self.lot.park()
        batch: list[_Item] = []
        for source in (self.tx, self.bulk):
            while source and len(batch) < most:
                batch.append(source.popleft())
        return batch


class Outbox:
    """Sends what the lanes hold through the carriers' binds."""

    def __init__(
        self,
        store: Store,
        pools: dict[str, CarrierPool],
        config: Config,
        metrics: Metrics,
        *,
        consumer: str,
        reclaim_idle: float = 60.0,
        backlog: int = 4096,
    ) -> None:
        self.store = store
        self.pools = pools
        self.config = config
        self.metrics = metrics
        self.consumer = consumer
        self.reclaim_idle = reclaim_idle
        self.backlog = backlog
        self.routing = Routing(config)
        self.queues = {name: _CarrierQueue() for name in pools}
        self._finished: list[tuple[_Item, str]] = []
        self._sent: list[tuple[str, SentRecord]] = []
        self._retries: list[tuple[_Item, float]] = []
        self._completer_lot = trio.lowlevel.ParkingLot()
        self._flushed = trio.lowlevel.ParkingLot()
        self._writing = False
        self._intake = trio.CancelScope()
        self._space_lot = trio.lowlevel.ParkingLot()
        self._reference = 0
        self.recent_ids: dict[str, SentRecord] = {}
        self.on_sent: Callable[[str, SentRecord], None] | None = None

    # --- lifetime ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.store.queues.ensure_groups()
        await self._recover(min_idle=0.0, own_only=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._completer)
            nursery.start_soon(self._scheduler)
            with self._intake:
                async with trio.open_nursery() as intake:
                    intake.start_soon(self._reader)
                    for name, pool in self.pools.items():
                        intake.start_soon(self._sender, self.queues[name], pool, intake)
                    intake.start_soon(self._reclaimer)
                    task_status.started()
            await trio.sleep_forever()

    def stop_intake(self) -> None:
        """Read and send nothing more; responses to what is in flight are still written back."""
        self._intake.cancel()

    async def flush(self) -> None:
        """Wait until every settled message has been written back to Redis."""
        while self._finished or self._sent or self._retries or self._writing:
            await self._flushed.park()

    def backlog_size(self) -> int:
        return sum(len(q) for q in self.queues.values())

    # --- reading -----------------------------------------------------------------------------

    async def _reader(self) -> None:
        idle = 0.001
        while True:
            room = self.backlog - self.backlog_size()
            got = 0
            try:
                got += await self._read(Lane.TRANSACTIONAL, READ_BATCH)
                if room > 0:
                    got += await self._read(Lane.BULK, min(room, READ_BATCH))
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_read").inc()
                await trio.sleep(0.5)
                continue
            if got:
                idle = 0.001
                continue
            with trio.move_on_after(idle):
                await self._space_lot.park()
            idle = min(idle * 2, 0.05)

    async def _read(self, lane: Lane, count: int) -> int:
        entries = await self.store.queues.read(lane, self.consumer, count=count)
        hints = await self._route_hints(entries)
        for entry, hint in zip(entries, hints, strict=True):
            self._enqueue(lane, entry, hint=hint)
        return len(entries)

    async def _route_hints(self, entries: list[QueuedMessage]) -> list[str]:
        """The carrier each message should go through: the one on the message, else (when
        ``prefer_last_inbound``) the one its subscriber last wrote in on."""
        hints = [e.message.carrier for e in entries]
        if not self.config.routing.prefer_last_inbound:
            return hints
        unknown = [
            i for i, e in enumerate(entries) if not e.message.carrier and e.message.subscriber
        ]
        if unknown:
            routes = await self.store.subscribers.routes(
                [entries[i].message.subscriber for i in unknown]
            )
            for i, route in zip(unknown, routes, strict=True):
                hints[i] = route.split("/", 1)[0]
        return hints

    def _enqueue(
        self, lane: Lane, entry: QueuedMessage, *, front: bool = False, hint: str | None = None
    ) -> None:
        message = entry.message
        carrier = self.routing.carrier_for(message.to, message.carrier if hint is None else hint)
        if carrier is None or carrier not in self.queues:
            log.error("no carrier for %s (message %s): dropped", message.to, message.ref)
            self._finish(_Item(lane, entry.entry_id, message, "", [], 0, False, 0.0), "unroutable")
            return
        item = self._item(lane, entry.entry_id, message, carrier)
        if front:
            self.queues[carrier].put_front([item])
        else:
            self.queues[carrier].put(item)

    def _item(self, lane: Lane, entry_id: str, message: OutboundMessage, carrier: str) -> _Item:
        self._reference = (self._reference + 1) & 0xFF
        parts = split_message(message.text, reference=self._reference or 1)
        return _Item(
            lane,
            entry_id,
            message,
            carrier,
            [p.short_message for p in parts],
            parts[0].data_coding,
            parts[0].esm_class_udhi,
            trio.current_time(),
        )

    # --- sending -----------------------------------------------------------------------------

    async def _sender(self, queue: _CarrierQueue, pool: CarrierPool, nursery: trio.Nursery) -> None:
        """Admit messages to binds and hand each batch to ``_send``; several batches may be
        recording their attempts at once, so Redis latency never caps the send rate."""
        sends = trio.Semaphore(SENDS_IN_FLIGHT)
        while True:
            batch = await queue.take(READ_BATCH)
            assigned: list[_Item] = []
            wait = math.inf
            now = trio.current_time()
            for index, item in enumerate(batch):
                bind, wait = pool.pick(item.parts, now)
                if bind is None:
                    queue.put_front(batch[index:])
                    break
                item.bind = bind
                assigned.append(item)
            if assigned:
                await sends.acquire()
                nursery.start_soon(self._send_released, queue, assigned, sends)
            if len(assigned) < len(batch):
                await pool.wait_capacity(wait)

    async def _send_released(
        self, queue: _CarrierQueue, items: list[_Item], sends: trio.Semaphore
    ) -> None:
        try:
            await self._send(queue, items)
        finally:
            sends.release()

    async def _send(self, queue: _CarrierQueue, items: list[_Item]) -> None:
        wall = time.time()
        attempts = [
            (i.entry_id, Attempt(i.bind.name if i.bind else "", wall, i.parts)) for i in items
        ]
        try:
            await self.store.deliveries.mark_attempts(attempts)
        except StoreUnavailable:
            self.metrics.child("store_errors", "outbox_attempt").inc()
            queue.put_front(items)
            await trio.sleep(0.5)
            return
        for index, item in enumerate(items):
            assert item.bind is not None
            try:
                item.bind.submit(self._pdus(item), self._part_done(item))
                item.sent_at = trio.current_time()
            except Exception:  # the bind dropped between pick and submit: nothing went out
                queue.put_front(items[index:])
                return

    def _pdus(self, item: _Item) -> list[SubmitSM]:
        assert item.bind is not None
        cfg = item.bind.config
        ton, npi, destination = smpp_destination(item.message.to)
        esm = int(EsmClass.UDHI) if item.udhi else 0
        item.outcomes = [None] * item.parts
        return [
            SubmitSM(
                source_addr_ton=cfg.source_ton,
                source_addr_npi=cfg.source_npi,
                source_addr=self.config.short_code,
                dest_addr_ton=ton,
                dest_addr_npi=npi,
                destination_addr=destination,
                esm_class=esm,
                registered_delivery=int(RegisteredDelivery.SMSC_RECEIPT_SUCCESS_OR_FAILURE),
                data_coding=item.data_coding,
                short_message=short_message,
            )
            for short_message in item.short_messages
        ]

    def _part_done(self, item: _Item) -> Callable[[int, Outcome], None]:
        def done(index: int, outcome: Outcome) -> None:
            item.outcomes[index] = outcome
            self._observe(item, outcome)
            if all(o is not None for o in item.outcomes):
                self._settle(item)

        return done

    def _observe(self, item: _Item, outcome: Outcome) -> None:
        if isinstance(outcome, BaseException):
            return
        status = status_name(outcome.command_status)
        self.metrics.child("responses", item.carrier, status).inc()
        latency = trio.current_time() - outcome.sent_at
        self.metrics.child("submit_latency", item.carrier).observe(latency)
        if outcome.command_status in THROTTLE_STATUSES and item.bind is not None:
            self.metrics.child("throttles", item.carrier, item.bind.name).inc()

    def _settle(self, item: _Item) -> None:
        verdict = max(
            (classify(o) for o in item.outcomes if o is not None), key=_SEVERITY.__getitem__
        )
        if verdict == "ok":
            self._finish(item, "sent")
        elif verdict == "throttled":
            self.queues[item.carrier].put_front([item])
        elif verdict == "permanent":
            self._finish(item, "rejected")
        elif verdict == "temporary":
            self._retry(item)
        else:
            self._unknown(item)
        self.pools[item.carrier].notify()

    def _unknown(self, item: _Item) -> None:
        policy = (
            self.config.outbox.transactional_policy_unknown
            if item.lane is Lane.TRANSACTIONAL
            else self.config.outbox.bulk_policy_unknown
        )
        if policy == "resend":
            self.metrics.child("possible_duplicates", item.lane.value).inc()
            self.queues[item.carrier].put_front([item])
        else:
            self._finish(item, "unknown")

    def _retry(self, item: _Item) -> None:
        cfg = self.config.outbox
        attempt = item.message.attempt + 1
        if attempt >= cfg.max_attempts:
            self._finish(item, "failed")
            return
        delay = min(cfg.retry_max, cfg.retry_initial * 2 ** (attempt - 1))
        self._retries.append((item, time.time() + delay))
        self._completer_lot.unpark()

    def _finish(self, item: _Item, result: str) -> None:
        self._finished.append((item, result))
        if result == "sent":
            for outcome, part in zip(item.outcomes, range(1, item.parts + 1), strict=True):
                if isinstance(outcome, BaseException) or outcome is None:
                    continue
                response = outcome.response
                assert isinstance(response, SubmitSMResp)
                self._record_sent(item, normalise_message_id(response.message_id), part)
        self._completer_lot.unpark()

    def _record_sent(self, item: _Item, message_id: str, part: int) -> None:
        message = item.message
        record = SentRecord(
            ref=message.ref,
            to=message.to,
            lane=item.lane.value,
            bind=item.bind.name if item.bind else "",
            appeal=message.appeal,
            subscriber=message.subscriber,
            kind=message.kind,
            part=part,
            parts=item.parts,
        )
        self._sent.append((message_id, record))
        self.recent_ids[message_id] = record
        if len(self.recent_ids) > 100_000:
            self.recent_ids.pop(next(iter(self.recent_ids)))
        if self.on_sent is not None:
            self.on_sent(message_id, record)

    # --- write-back --------------------------------------------------------------------------

    async def _completer(self) -> None:
        while True:
            if not (self._finished or self._sent or self._retries):
                await self._completer_lot.park()
            finished, self._finished = self._finished, []
            sent, self._sent = self._sent, []
            retries, self._retries = self._retries, []
            self._writing = True
            try:
                await self._write_back(finished, sent, retries)
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_finish").inc()
                self._finished[:0] = finished
                self._sent[:0] = sent
                self._retries[:0] = retries
                await trio.sleep(0.5)
            finally:
                self._writing = False
                self._flushed.unpark_all()

    async def _write_back(
        self,
        finished: list[tuple[_Item, str]],
        sent: list[tuple[str, SentRecord]],
        retries: list[tuple[_Item, float]],
    ) -> None:
        if sent:
            await self.store.deliveries.record_sent(sent)
        for item, due in retries:
            message = item.message
            retry = OutboundMessage(
                ref=message.ref,
                to=message.to,
                text=message.text,
                kind=message.kind,
                appeal=message.appeal,
                subscriber=message.subscriber,
                carrier=message.carrier,
                bind=message.bind,
                attempt=message.attempt + 1,
            )
            await self.store.queues.schedule(item.lane, retry, due)
            finished.append((item, "retry"))
        for lane in Lane:
            ids = [item.entry_id for item, _ in finished if item.lane is lane]
            await self.store.deliveries.finish(lane, ids)
        for item, result in finished:
            self.metrics.child("outbox_messages", item.lane.value, result).inc()
            if result in _RECORDED:
                await self._record_final(item, result)

    async def _record_final(self, item: _Item, result: str) -> None:
        """A message that will not go out: keep why, and note numbers the carrier refused."""
        statuses = [
            o.command_status
            for o in item.outcomes
            if o is not None and not isinstance(o, BaseException)
        ]
        status = status_name(max(statuses)) if statuses else ""
        await self.store.deliveries.record_status(f"ref:{item.message.ref}", result, status)
        if any(s in _BAD_NUMBER for s in statuses):
            await self.store.deliveries.mark_undeliverable(item.message.to, f"submit {status}")

    async def _scheduler(self) -> None:
        while True:
            try:
                await self.store.queues.promote()
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_schedule").inc()
            await trio.sleep(0.1)

    # --- recovery ----------------------------------------------------------------------------

    async def _reclaimer(self) -> None:
        while True:
            await trio.sleep(self.reclaim_idle / 2)
            try:
                await self._recover(min_idle=self.reclaim_idle, own_only=False)
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_reclaim").inc()

    async def _recover(self, *, min_idle: float, own_only: bool) -> None:
        """Take over pending entries; those with an attempt record have an unknown outcome."""
        for lane in Lane:
            if own_only:
                entries = await self.store.queues.read_pending(lane, self.consumer)
            else:
                entries = await self.store.queues.reclaim(lane, self.consumer, min_idle=min_idle)
            if not entries:
                continue
            attempts = await self.store.deliveries.attempts([e.entry_id for e in entries])
            for entry, attempt in zip(entries, attempts, strict=True):
                if attempt is None:
                    self._enqueue(lane, entry, front=True)
                    continue
                carrier = self.routing.carrier_for(entry.message.to, entry.message.carrier)
                item = self._item(lane, entry.entry_id, entry.message, carrier or "")
                if carrier is None or carrier not in self.queues:
                    self._finish(item, "unroutable")
                else:
                    self._unknown(item)
            log.info("recovered %d pending %s entries", len(entries), lane.value)
