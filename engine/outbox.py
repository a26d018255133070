"""The outbound path: Redis lanes -> carrier binds -> acknowledged entries.

Theory of operation.

* The **reader** pulls entries from the transactional lane before the bulk lane, and bulk only
  while the in-memory backlog is under half a second of sending (``read_ahead``): a
  million-message appeal never delays a thank-you (it is read on the reader's next turn and
  goes to the front of its carrier's queue), and engines sharing the lanes share the work.
* One **sender** per carrier takes a batch of messages, picks a bind for each whole message
  (window room and tokens, ``CarrierPool.admit``), records the attempts in Redis in one call,
  then puts the parts on the wire. Recording first means that after a crash or a dropped bind,
  a message with an attempt and no response is known to be "outcome unknown".
* Responses arrive as callbacks. OK: the entry is finished (acknowledged and deleted) and the
  carrier's message id stored so receipts find it. Throttled: the message goes back to the
  front of its queue (the bind has already slowed down). Temporary error: retried with
  back-off through the delayed schedule, up to ``max_attempts``. Permanent error: final.
  Outcome unknown (bind dropped, no response): the lane's policy decides; resends are counted
  as possible duplicates.
* ``engine.writeback.WriteBack`` writes settled messages back to Redis in batches; the
  **scheduler** promotes due retries and thank-yous; the **reclaimer** keeps the entries this
  engine holds from looking abandoned (``_hold_backlog``) and takes over what other, dead,
  engines left pending (never this engine's own). Entries this engine read but lost track of
  (a read whose reply never came) are read again from its own pending list.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from functools import partial

import msgspec
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
from engine.bind import THROTTLE_STATUSES, NotSent
from engine.campaigns.quiet import QuietHours
from engine.config import BindConfig, Config
from engine.lanes import SEVERITY, CarrierQueue, InFlight, classify
from engine.masking import mask_number, printable
from engine.metrics import Metrics, status_label
from engine.pool import CarrierPool
from engine.preflight import Preflight
from engine.routing import Routing, smpp_destination
from engine.writeback import WriteBack
from smpp.codec import encode_body
from smpp.constants import EsmClass, RegisteredDelivery
from smpp.errors import LocalProtocolError
from smpp.events import ResponseReceived
from smpp.pdu import SubmitSM, SubmitSMResp
from smpp.receipt import normalise_message_id
from smpp.segment import split_message
from smpp.template import SubmitTemplate
from smpp.transport import Outcome

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

READ_BATCH = 256
READ_AHEAD = 0.5
"""Seconds of sending the outbox reads ahead (see ``Outbox.read_ahead``)."""
READ_AHEAD_FLOOR = 16
"""Messages read ahead even when the binds are slow (a read is one Redis round trip)."""
PARK_FOR = 5.0
"""Seconds a down carrier's messages wait in Redis when memory is full (see ``_park_stuck``)."""
YIELD_EVERY = 64
"""Submits a sender puts on the wire between two checkpoints."""
SENDS_IN_FLIGHT = 8


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
        metrics.expect_binds(config.all_binds())
        metrics.thank_you_target.set(config.campaigns.thank_delay)
        self.consumer = consumer
        self.reclaim_idle = reclaim_idle
        self.backlog = backlog
        self.routing = Routing(config)
        quiet = QuietHours(config.campaigns.quiet_hours, config.country_code)
        self.preflight = Preflight(store, quiet=quiet if quiet.enabled else None)
        self.queues = {name: CarrierQueue() for name in pools}
        self.held: set[str] = set()
        """Queue entries this engine has in memory (queued, sending, awaiting write-back)."""
        self._lost_reads = False
        self._watching: list[set[str]] = []
        """Ids finished while a read of pending entries was in flight (see `_recover`)."""
        self.writeback = WriteBack(
            store, metrics, on_finished=self._finished_ids, on_written=self._written
        )
        self._responses: Counter[tuple[str, int]] = Counter()
        self._throttles: Counter[tuple[str, str]] = Counter()
        self._split_cache: dict[str, tuple[list[bytes], int, bool, int]] = {}
        self._templates: dict[tuple[int, int, int, bytes], SubmitTemplate] = {}
        self._intake = trio.CancelScope()
        self._stopping = False
        self._reference = 0
        self.on_sent: Callable[[str, SentRecord], None] | None = None

    # --- lifetime ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.store.queues.ensure_groups()
        await self._recover(min_idle=0.0, own_only=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.writeback.run)
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
        """Read and send nothing more; responses to what is in flight are still written back.
        Messages that provably did not reach the carrier from now on (never written, or
        throttled) go back to Redis as they are, for the next start to send."""
        self._stopping = True
        self._intake.cancel()

    async def flush(self) -> None:
        """Wait until every settled message has been written back to Redis."""
        await self.writeback.flush()

    def sending_rate(self) -> float:
        """PDUs per second the binds that are up may send now, all carriers together."""
        return sum(bind.rate.current for pool in self.pools.values() for bind in pool.sending())

    def read_ahead(self, rate: float) -> int:
        """How many messages to keep in memory: about ``READ_AHEAD`` seconds of ``rate`` (what
        the binds that are up may send now), between ``READ_AHEAD_FLOOR`` and ``backlog``.
        Work read here waits here: read more and another engine with free binds would sit
        idle."""
        return max(READ_AHEAD_FLOOR, min(self.backlog, int(rate * READ_AHEAD)))

    def backlog_size(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def _room(self) -> tuple[int, int]:
        """(transactional, bulk) messages to read now. Nothing while no bind can send (the
        lanes keep them, and other engines may send them); the carriers that are up keep about
        ``read_ahead`` waiting, and all of them together at most ``backlog`` (past which
        ``_park_stuck`` sends the messages of carriers that are down back to Redis)."""
        rate = self.sending_rate()
        if rate <= 0:
            return 0, 0
        ahead = self.read_ahead(rate)
        able = [q for name, q in self.queues.items() if self.pools[name].sending()]
        total = self.backlog_size()
        tx_waiting = sum(len(q.tx) for q in able)
        tx = min(READ_BATCH, self.backlog - total) if tx_waiting < ahead else 0
        bulk = min(ahead - sum(len(q) for q in able), self.backlog - total)
        return max(0, tx), max(0, min(bulk, READ_BATCH))

    def _park_stuck(self) -> None:
        """Memory for waiting messages is full: messages of carriers whose binds are all down
        go back to Redis (the delayed schedule, ``PARK_FOR`` seconds) so that reading goes on
        past them for the carriers that are up. A lane is one queue for every carrier; without
        this, a long appeal for a carrier that is down would stop all the others."""
        if self.backlog_size() < self.backlog:
            return
        due = time.time() + PARK_FOR
        for name, queue in self.queues.items():
            if not len(queue) or self.pools[name].sending():
                continue
            items = queue.drain()
            for item in items:
                self.writeback.park(item, due)
            log.warning("carrier %s is down: %d waiting messages go back to Redis for %g s",
                        name, len(items), PARK_FOR, extra={"carrier": name})  # fmt: skip

    # --- reading -----------------------------------------------------------------------------

    async def _reader(self) -> None:
        idle = 0.001
        while True:
            self._park_stuck()
            tx, bulk = self._room()
            got = 0
            try:
                if self._lost_reads:
                    await self._recover(min_idle=0.0, own_only=True)
                    self._lost_reads = False
                if tx:
                    got += await self._read(Lane.TRANSACTIONAL, tx)
                if bulk:
                    got += await self._read(Lane.BULK, bulk)
            except StoreUnavailable:
                # A read Redis answered but we never heard back from is pending to us: the
                # claim takes only other engines' entries, so read our own again.
                self._lost_reads = True
                self.metrics.child("store_errors", "outbox_read").inc()
                await trio.sleep(0.5)
                continue
            if got:
                idle = 0.001
                continue
            await trio.sleep(idle)  # nothing to read, or no room: look again soon
            idle = min(idle * 2, 0.05)

    async def _read(self, lane: Lane, count: int) -> int:
        entries = await self.store.queues.read(lane, self.consumer, count=count)
        got = len(entries)
        entries = await self._checked(lane, entries)
        try:
            hints = await self._route_hints(entries)
        except StoreUnavailable:  # the entries are ours now: route them by prefix instead
            self.metrics.child("store_errors", "outbox_read").inc()
            hints = [e.message.carrier for e in entries]
        for entry, hint in zip(entries, hints, strict=True):
            self._enqueue(lane, entry, hint=hint)
        return got

    async def _checked(self, lane: Lane, entries: list[QueuedMessage]) -> list[QueuedMessage]:
        """Consent checked and templates rendered now, just before sending (``Preflight``);
        refused messages are finished as such. If Redis cannot tell, nothing of these is
        sent: they are pending to this engine and read again (``_lost_reads``)."""
        if not entries:
            return entries
        try:
            send, skip = await self.preflight.check(entries)
        except StoreUnavailable:
            self._lost_reads = True
            raise
        for entry, why in skip:
            self.held.add(entry.entry_id)
            item = InFlight(lane, entry.entry_id, entry.message, "", [], 0, False, 0.0)
            if why == "paused":
                self.writeback.hold(item)  # set aside until the appeal is resumed
            elif why.startswith("quiet:"):  # back in the schedule until the night is over
                self.writeback.park(item, float(why.partition(":")[2]))
            else:
                self._finish(item, why)
        return send

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
        self.held.add(entry.entry_id)
        message = entry.message
        carrier = self.routing.carrier_for(message.to, message.carrier if hint is None else hint)
        if carrier is None or carrier not in self.queues:
            log.error("no carrier for %s (message %s): dropped", mask_number(message.to),
                      printable(message.ref), extra={"message_id": message.ref})  # fmt: skip
            self._finish(
                InFlight(lane, entry.entry_id, message, "", [], 0, False, 0.0), "unroutable"
            )
            return
        item = self._item(lane, entry.entry_id, message, carrier)
        if front:
            self.queues[carrier].put_front([item])
        else:
            self.queues[carrier].put(item)

    def _item(self, lane: Lane, entry_id: str, message: OutboundMessage, carrier: str) -> InFlight:
        short_messages, coding, udhi, reference = self._split(message.text, message.udh_reference)
        item = InFlight(
            lane, entry_id, message, carrier, short_messages, coding, udhi, trio.current_time(),
            reference=reference,
        )  # fmt: skip
        if message.parts_done and item.parts > 1:  # a retry: the carrier has some parts
            todo = [i for i, n in enumerate(item.part_numbers) if n not in message.parts_done]
            if todo:
                item.keep_parts(todo)
        return item

    def _split(self, text: str, reference: int = 0) -> tuple[list[bytes], int, bool, int]:
        """Encode and segment a text: (parts, data_coding, udhi, UDH reference). An appeal
        sends one text to many handsets, so a single-part result is cached (multi-part ones
        carry a fresh UDH reference each, or the one given for a retry)."""
        if not reference:
            cached = self._split_cache.get(text)
            if cached is not None:
                return cached
            self._reference = (self._reference + 1) & 0xFF
            reference = self._reference or 1
        parts = split_message(text, reference=reference)
        result = (
            [p.short_message for p in parts],
            parts[0].data_coding,
            parts[0].esm_class_udhi,
            reference if len(parts) > 1 else 0,
        )
        if len(parts) == 1:
            if len(self._split_cache) >= 4096:
                self._split_cache.clear()
            self._split_cache[text] = result
        return result

    # --- sending -----------------------------------------------------------------------------

    async def _sender(self, queue: CarrierQueue, pool: CarrierPool, nursery: trio.Nursery) -> None:
        """Admit messages to binds and hand each batch to ``_send``; several batches may be
        recording their attempts at once, so Redis latency never caps the send rate."""
        sends = trio.Semaphore(SENDS_IN_FLIGHT)
        while True:
            batch = await queue.take(READ_BATCH)
            binds, wait = pool.admit([item.parts for item in batch], trio.current_time())
            assigned = batch[: len(binds)]
            for item, bind in zip(assigned, binds, strict=True):
                item.bind = bind
                item.conn = bind.conn
            if len(assigned) < len(batch):
                queue.put_front(batch[len(assigned) :])
            if assigned:
                await sends.acquire()
                nursery.start_soon(self._send_released, queue, assigned, sends)
            if len(assigned) < len(batch):
                await pool.wait_capacity(wait)

    async def _send_released(
        self, queue: CarrierQueue, items: list[InFlight], sends: trio.Semaphore
    ) -> None:
        try:
            await self._send(queue, items)
        finally:
            sends.release()

    async def _send(self, queue: CarrierQueue, items: list[InFlight]) -> None:
        handled = 0  # submitted or finished; if cancelled, the rest never reached a bind
        try:
            wall = time.time()
            attempts = [
                (i.entry_id, Attempt(i.bind.name if i.bind else "", wall, i.parts)) for i in items
            ]
            try:
                await self.store.deliveries.mark_attempts(attempts)
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_attempt").inc()
                self._unsent(queue, items)
                handled = len(items)
                await trio.sleep(0.5)
                return
            now = trio.current_time()
            for index, item in enumerate(items):
                assert item.bind is not None
                # Never more than the contract in any second, counted on the wire.
                while (wait := item.bind.rate.wire_delay(now, item.parts)) > 0.0:
                    await trio.sleep(wait)
                    now = trio.current_time()
                if index and not index % YIELD_EVERY:
                    # Let the binds' writers send what is queued: the first submit of a big
                    # batch would wait for the last (and its round trip counts that wait).
                    await trio.lowlevel.checkpoint()
                    now = trio.current_time()
                try:
                    pdus, bodies = self._pdus(item)
                except LocalProtocolError as exc:  # no carrier could take it: final
                    log.error("message %s not sent: it cannot be encoded (%s)",
                              printable(item.message.ref), type(exc).__name__,
                              extra={"message_id": item.message.ref,
                                     "carrier": item.bind.carrier})  # fmt: skip
                    log.debug("message %s: %s", printable(item.message.ref),
                              printable(str(exc), 200))  # fmt: skip
                    item.bind.release(item.parts, item.conn)
                    self._finish(item, "rejected")
                    handled = index + 1
                    continue
                try:
                    done = [partial(self._part_result, item, i) for i in range(item.parts)]
                    item.bind.submit(pdus, done, now, bodies, item.conn)
                    item.sent_at = now
                    handled = index + 1
                except NotSent:  # the bind dropped or filled up since admission: not sent
                    self._unsent(queue, items[index:])
                    handled = len(items)
                    return
        except trio.Cancelled:
            # Stopping between recording the attempts and the submits: what never reached a
            # bind goes back to Redis without its attempt record, so the next start sends
            # it (an "outcome unknown" record would make a "drop" policy lose it).
            for item in items[handled:]:
                self._release(item)
                self._back_to_redis(item)
            raise

    def _back_to_redis(self, item: InFlight) -> None:
        """A message that provably did not reach the carrier, while stopping: into the
        schedule, due now, as it is (with the parts already accepted); its queue entry and
        attempt record are finished, so nothing counts it as a possible duplicate."""
        self.writeback.park(item, time.time())

    def _release(self, item: InFlight) -> None:
        """An admitted message that will not be submitted: give back the window slots and
        the bind it reserved (a submitted one gave them back when it went out)."""
        if item.bind is not None:
            item.bind.release(item.parts, item.conn)
        item.bind = item.conn = None

    def _unsent(self, queue: CarrierQueue, items: list[InFlight]) -> None:
        """Admitted messages that did not go out: free their window slots, queue them again."""
        for item in items:
            self._release(item)
        queue.put_front(items)

    def _pdus(self, item: InFlight) -> tuple[list[SubmitSM], list[bytes]]:
        """The submit_sm of each part and its encoded body (a one-part message's from a
        template). Every part is encoded before any is sent, so a part that cannot be
        encoded stops the whole message, not its second half.

        Raises:
            LocalProtocolError: the message cannot be encoded (e.g. the address is too long).
        """
        assert item.bind is not None
        cfg = item.bind.config
        ton, npi, destination = smpp_destination(item.message.to)
        esm = int(EsmClass.UDHI) if item.udhi else 0
        item.outcomes = [None] * item.parts
        if item.parts == 1 and not item.udhi:
            key = (cfg.source_ton, cfg.source_npi, item.data_coding, item.short_messages[0])
            template = self._templates.get(key)
            if template is None:
                if len(self._templates) >= 4096:
                    self._templates.clear()
                pdu = self._submit(
                    cfg, ton, npi, destination, 0, item.data_coding, item.short_messages[0]
                )
                template = self._templates[key] = SubmitTemplate(pdu)
            pdu, body = template.build(ton, npi, destination)
            return [pdu], [body]
        pdus = [
            self._submit(cfg, ton, npi, destination, esm, item.data_coding, short_message)
            for short_message in item.short_messages
        ]
        return pdus, [encode_body(pdu) for pdu in pdus]

    def _submit(
        self,
        bind: BindConfig,
        ton: int,
        npi: int,
        destination: str,
        esm_class: int,
        data_coding: int,
        short_message: bytes,
    ) -> SubmitSM:
        return SubmitSM(
            source_addr_ton=bind.source_ton,
            source_addr_npi=bind.source_npi,
            source_addr=self.config.short_code,
            dest_addr_ton=ton,
            dest_addr_npi=npi,
            destination_addr=destination,
            esm_class=esm_class,
            registered_delivery=int(RegisteredDelivery.SMSC_RECEIPT_SUCCESS_OR_FAILURE),
            data_coding=data_coding,
            short_message=short_message,
        )

    def _part_result(self, item: InFlight, index: int, outcome: Outcome) -> None:
        """One part's outcome (a callback in the bind's reader task: no awaiting here)."""
        item.outcomes[index] = outcome
        bind = item.bind
        if not isinstance(outcome, BaseException):
            conn = bind.conn if bind is not None else None
            now = conn.received_at if conn is not None else trio.current_time()
            status = outcome.command_status
            self._responses[(item.carrier, status)] += 1
            self.metrics.submit_latency.observe(item.carrier, now - outcome.sent_at)
            if status == 0 and item.parts == 1:  # the common case: sent
                response = outcome.response
                if isinstance(response, SubmitSMResp):
                    self._finish_sent(item, response.message_id)
                    self.pools[item.carrier].notify()
                    return
            elif status in THROTTLE_STATUSES and bind is not None:
                self._throttles[(item.carrier, bind.name)] += 1
                bind.throttled(now)
        if None not in item.outcomes:
            self._settle(item)
        else:
            self.pools[item.carrier].notify()

    def flush_metrics(self) -> None:
        """Move the tallies into the Prometheus counters (the app calls this every second)."""
        responses, self._responses = self._responses, Counter()
        for (carrier, status), n in responses.items():
            self.metrics.child("responses", carrier, status_label(status)).inc(n)
        throttles, self._throttles = self._throttles, Counter()
        for (carrier, bind), n in throttles.items():
            self.metrics.child("throttles", carrier, bind).inc(n)

    def _settle(self, item: InFlight) -> None:
        verdicts = [classify(o) for o in item.outcomes if o is not None]
        verdict = max(verdicts, key=SEVERITY.__getitem__)
        if verdict != "ok" and "ok" in verdicts:
            self._keep_unaccepted(item, verdicts)
        if verdict == "ok":
            self._finish(item, "sent")
        elif verdict in ("unsent", "throttled"):  # the carrier does not have it
            if self._stopping:
                self._back_to_redis(item)
            else:
                self.queues[item.carrier].put_front([item])
        elif verdict == "permanent":
            self._finish(item, "rejected")
        elif verdict == "temporary":
            self._retry(item)
        else:
            self._unknown(item)
        self.pools[item.carrier].notify()

    def _keep_unaccepted(self, item: InFlight, verdicts: list[str]) -> None:
        """Some parts of a multi-part message were accepted, others not: record the accepted
        ones (their receipts must match) and keep only the others to send again, with the
        same UDH reference, so the handset joins them with the parts it has."""
        accepted = [i for i, v in enumerate(verdicts) if v == "ok"]
        for i in accepted:
            outcome = item.outcomes[i]
            assert isinstance(outcome, ResponseReceived)
            response = outcome.response
            assert isinstance(response, SubmitSMResp)
            self._record_sent(item, normalise_message_id(response.message_id), item.part_numbers[i])
        item.message = msgspec.structs.replace(
            item.message,
            parts_done=(*item.message.parts_done, *(item.part_numbers[i] for i in accepted)),
            udh_reference=item.reference,
        )
        item.keep_parts([i for i, v in enumerate(verdicts) if v != "ok"])

    def _unknown(self, item: InFlight) -> None:
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

    def _retry(self, item: InFlight) -> None:
        cfg = self.config.outbox
        attempt = item.message.attempt + 1
        if attempt >= cfg.max_attempts:
            self._finish(item, "failed")
            return
        delay = min(cfg.retry_max, cfg.retry_initial * 2 ** (attempt - 1))
        self.writeback.retry(item, time.time() + delay)

    def _finish(self, item: InFlight, result: str) -> None:
        if result != "sent":
            self.writeback.finish(item, result)
            return
        if item.message.origin_at:
            self._observe_delay(item.message)
        for part, outcome in zip(item.part_numbers, item.outcomes, strict=True):
            if isinstance(outcome, BaseException) or outcome is None:
                continue
            response = outcome.response
            assert isinstance(response, SubmitSMResp)
            self._record_sent(item, normalise_message_id(response.message_id), part)
        self._hold_slots(item)
        self.writeback.finish(item, result)

    def _finish_sent(self, item: InFlight, message_id: str) -> None:
        """A one-part message the carrier took: ``_finish(item, "sent")`` without the loop."""
        self._record_sent(item, normalise_message_id(message_id), item.part_numbers[0])
        self._hold_slots(item)
        self.writeback.finish(item, "sent")
        if item.message.origin_at:
            self._observe_delay(item.message)

    def _hold_slots(self, item: InFlight) -> None:
        """The carrier took the message, Redis does not know yet: it keeps its window slots
        until the write-back, so a crash leaves at most the window in doubt (resent and
        counted as possible duplicates), however far the write-back lags."""
        if item.bind is not None:
            item.holding = item.parts
            item.bind.unwritten += item.parts

    def _written(self, items: list[InFlight]) -> None:
        """Redis has these messages' fate: the slots they held are free again."""
        carriers: set[str] = set()
        for item in items:
            if item.holding and item.bind is not None:
                item.bind.unwritten = max(0, item.bind.unwritten - item.holding)
                item.holding = 0
                carriers.add(item.carrier)
        for carrier in carriers:
            self.pools[carrier].notify()

    def _observe_delay(self, message: OutboundMessage) -> None:
        """A thank-you went out: how long after the JA that caused it."""
        if message.kind == "thanks":
            delay = time.time() - message.origin_at
            self.metrics.thank_you_delay.observe(delay)
            self.metrics.thank_you_delays.append(delay)
            self.writeback.tallies[(message.appeal, "thanks_delay_ms")] += int(delay * 1000)

    def _record_sent(self, item: InFlight, message_id: str, part: int) -> None:
        if not message_id:  # a carrier that gives no id: no receipt can ever match it
            return
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
            parts=item.total_parts,
        )
        self.writeback.sent(message_id, record)
        if self.on_sent is not None:
            self.on_sent(message_id, record)

    async def _scheduler(self) -> None:
        while True:
            try:
                await self.store.queues.promote()
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_schedule").inc()
            await trio.sleep(0.1)

    # --- recovery ----------------------------------------------------------------------------

    async def _reclaimer(self) -> None:
        """Keep what this engine holds from being taken over; take over what others left."""
        while True:
            await trio.sleep(self.reclaim_idle / 3)
            try:
                await self._hold_backlog()
                await self._recover(min_idle=self.reclaim_idle, own_only=False)
            except StoreUnavailable:
                self._lost_reads = True  # entries claimed before the failure are ours now
                self.metrics.child("store_errors", "outbox_reclaim").inc()

    async def _hold_backlog(self) -> None:
        """Reset the idle time of every queue entry waiting here (a slow or throttled carrier
        keeps them for a while): another engine takes over only entries idle for
        ``reclaim_idle``. Entries another engine took over already are dropped here."""
        for lane in Lane:
            ids = [
                item.entry_id
                for queue in self.queues.values()
                for item in (queue.tx if lane is Lane.TRANSACTIONAL else queue.bulk)
            ]
            lost: list[str] = []
            for start in range(0, len(ids), 1000):
                lost += await self.store.queues.hold(lane, self.consumer, ids[start : start + 1000])
            if lost:
                gone = set(lost)
                for queue in self.queues.values():
                    queue.drop(gone)
                self.held.difference_update(gone)
                log.warning("%d queued %s entries were taken over by another engine: "
                            "not sending them", len(gone), lane.value)  # fmt: skip

    def _finished_ids(self, ids: list[str]) -> None:
        """Redis acknowledged and deleted these entries: no longer held."""
        self.held.difference_update(ids)
        for finished in self._watching:
            finished.update(ids)

    async def _recover(self, *, min_idle: float, own_only: bool) -> None:
        """Take over pending entries; those with an attempt record have an unknown outcome.

        Entries this engine holds are skipped, and so are those finished while the read was
        on its way back: the reply can be older than a finish confirmed meanwhile (a
        message sent, acknowledged and deleted would otherwise be sent again)."""
        for lane in Lane:
            finished: set[str] = set()
            self._watching.append(finished)
            try:
                if own_only:
                    entries = await self.store.queues.read_pending(lane, self.consumer)
                else:
                    entries = await self.store.queues.reclaim(
                        lane, self.consumer, min_idle=min_idle
                    )
            finally:
                self._watching.remove(finished)
            held = self.held
            entries = [e for e in entries if e.entry_id not in held and e.entry_id not in finished]
            entries = await self._checked(lane, entries)
            if not entries:
                continue
            attempts = await self.store.deliveries.attempts([e.entry_id for e in entries])
            for entry, attempt in zip(entries, attempts, strict=True):
                if attempt is None:
                    self._enqueue(lane, entry, front=True)
                    continue
                self.held.add(entry.entry_id)
                carrier = self.routing.carrier_for(entry.message.to, entry.message.carrier)
                item = self._item(lane, entry.entry_id, entry.message, carrier or "")
                if carrier is None or carrier not in self.queues:
                    self._finish(item, "unroutable")
                else:
                    self._unknown(item)
            log.info("recovered %d pending %s entries", len(entries), lane.value)
