"""Writing settled messages back to Redis, in batches, off the send path.

The send path settles messages in callbacks (no awaiting there); this task collects what was
settled and writes it back: carrier message ids (for receipts), retries into the delayed
schedule, and finished entries acknowledged and deleted. If Redis is unavailable the work is
kept and tried again; nothing is reported done before Redis confirmed it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import msgspec
import trio

from counters import Lane, OutboundMessage, SentRecord, Store, StoreUnavailable
from engine.lanes import InFlight
from engine.metrics import Metrics
from engine.signals import undeliverable
from smpp.constants import CommandStatus, status_name

__all__ = ["WriteBack"]

_RECORDED = frozenset({"rejected", "failed", "unknown", "unroutable"})
_BAD_NUMBER = frozenset(
    {CommandStatus.ESME_RINVDSTADR, CommandStatus.ESME_RINVDSTTON, CommandStatus.ESME_RINVDSTNPI}
)


class WriteBack:
    """Batches of settled messages on their way to Redis."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        on_finished: Callable[[list[str]], None] | None = None,
        on_written: Callable[[list[InFlight]], None] | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.on_finished = on_finished
        """Called with the entry ids Redis confirmed acknowledged and deleted."""
        self.on_written = on_written
        """Called with the messages whose fate Redis confirmed (every write)."""
        self._finished: list[tuple[InFlight, str]] = []
        self._sent: list[tuple[str, SentRecord]] = []
        self._retries: list[tuple[InFlight, float, str]] = []
        """(message, when it is due again, "retry" or "parked")"""
        self._holds: list[InFlight] = []
        self.tallies: Counter[tuple[int, str]] = Counter()
        """Per-appeal figures to add in Redis with the next write (thank-you delays)."""
        self._received: dict[int, list[int]] = {}
        """Subscribers who were sent an appeal (a bare JA from them answers it)."""
        self._lot = trio.lowlevel.ParkingLot()
        self.written = trio.lowlevel.ParkingLot()
        """Unparked after every write to Redis (its metrics counted): ``flush`` waits on it, and
        so can tests waiting for a count of finished messages."""
        self._writing = False

    def finish(self, item: InFlight, result: str) -> None:
        """The message's fate is final (``result``: sent, rejected, failed, unknown, ...)."""
        self._finished.append((item, result))
        if self._lot:
            self._lot.unpark()

    def sent(self, message_id: str, record: SentRecord) -> None:
        self._sent.append((message_id, record))
        if record.kind == "appeal" and record.subscriber and record.part == 1:
            self._received.setdefault(record.appeal, []).append(record.subscriber)
        if self._lot:
            self._lot.unpark()

    def retry(self, item: InFlight, due: float) -> None:
        """Send the message again at ``due`` (Unix seconds), through the delayed schedule."""
        self._retries.append((item, due, "retry"))
        self._lot.unpark()

    def hold(self, item: InFlight) -> None:
        """Set the message aside while its appeal is paused (``Campaigns.resume`` puts it
        back in its lane); its queue entry is finished."""
        self._holds.append(item)
        self._lot.unpark()

    def park(self, item: InFlight, due: float) -> None:
        """Put the message back, as it is, into the delayed schedule until ``due``: its
        carrier is down and the engine's memory for waiting messages is full."""
        self._retries.append((item, due, "parked"))
        self._lot.unpark()

    async def flush(self) -> None:
        """Wait until everything settled so far is written back."""
        while self._finished or self._sent or self._retries or self._holds or self._writing:
            await self.written.park()

    async def run(self) -> None:
        while True:
            if not (self._finished or self._sent or self._retries or self._holds):
                await self._lot.park()
            if self._holds:  # kept in the list until Redis has them (flush() waits)
                holds = list(self._holds)
                try:
                    await self.store.queues.set_aside([item.message for item in holds])
                except StoreUnavailable:
                    self.metrics.child("store_errors", "outbox_finish").inc()
                    await trio.sleep(0.5)
                    continue
                del self._holds[: len(holds)]
                self._finished += [(item, "paused") for item in holds]
            finished, self._finished = self._finished, []
            sent, self._sent = self._sent, []
            retries, self._retries = self._retries, []
            self._writing = True
            try:
                await self._write(finished, sent, retries)
            except StoreUnavailable:
                self.metrics.child("store_errors", "outbox_finish").inc()
                self._finished[:0] = finished
                self._sent[:0] = sent
                self._retries[:0] = retries
                await trio.sleep(0.5)
            finally:
                self._writing = False
                self.written.unpark_all()

    async def _write(
        self,
        finished: list[tuple[InFlight, str]],
        sent: list[tuple[str, SentRecord]],
        retries: list[tuple[InFlight, float, str]],
    ) -> None:
        if sent:
            await self.store.deliveries.record_sent(sent)
            sent.clear()
        received, self._received = self._received, {}
        try:
            for appeal, subscribers in received.items():
                await self.store.appeals.mark_received(subscribers, appeal)
        except StoreUnavailable:
            for appeal, subscribers in received.items():
                self._received.setdefault(appeal, []).extend(subscribers)
            raise
        if retries:
            await self.store.queues.schedule_many(
                [
                    (
                        item.lane,
                        _next_attempt(item.message) if why == "retry" else item.message,
                        due,
                    )
                    for item, due, why in retries
                ]
            )
            finished += [(item, why) for item, _, why in retries]
            retries.clear()
        by_lane: dict[Lane, list[str]] = {lane: [] for lane in Lane}
        for item, _ in finished:
            by_lane[item.lane].append(item.entry_id)
        for lane, ids in by_lane.items():
            await self.store.deliveries.finish(lane, ids)
            if self.on_finished is not None:
                self.on_finished(ids)
        done, finished[:] = list(finished), []
        if self.on_written is not None:
            self.on_written([item for item, _ in done])
        tally = Counter((item.lane.value, result) for item, result in done)
        for (lane_name, result), n in tally.items():
            self.metrics.child("outbox_messages", lane_name, result).inc(n)
        per_appeal = Counter(
            (item.message.appeal, f"{item.message.kind}_{result}")
            for item, result in done
            if item.message.appeal and result != "paused"  # it comes back on resume
        )
        per_appeal.update(self.tallies)
        self.tallies = Counter()
        if per_appeal:
            try:
                await self.store.appeals.tally(dict(per_appeal))
            except StoreUnavailable:
                self.metrics.child("store_errors", "appeal_tally").inc()
        for item, result in done:
            if result in _RECORDED:
                await self._record_final(item, result)

    async def _record_final(self, item: InFlight, result: str) -> None:
        """A message that will not go out: keep why, and note numbers the carrier refused."""
        statuses = [
            o.command_status
            for o in item.outcomes
            if o is not None and not isinstance(o, BaseException)
        ]
        status = status_name(max(statuses)) if statuses else ""
        await self.store.deliveries.record_status(f"ref:{item.message.ref}", result, status)
        if any(s in _BAD_NUMBER for s in statuses):
            await undeliverable(self.store, self.metrics, item.message.to, f"submit {status}")


def _next_attempt(message: OutboundMessage) -> OutboundMessage:
    return msgspec.structs.replace(message, attempt=message.attempt + 1)
