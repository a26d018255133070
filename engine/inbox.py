"""The inbound path: deliver_sm and data_sm from every bind.

Delivery receipts update their message's status and the metrics; a permanent failure (the
number is gone or barred) is recorded against the number. A receipt that arrives before its
submit_sm_resp is held briefly and matched when the message id appears.

Mobile-originated messages are reassembled when multi-part (UDH or SAR TLVs; the payload may
also come in message_payload), decoded to Unicode, the sender normalised to E.164, and recorded
durably in Redis *before* the deliver_sm_resp goes back: when Redis is unavailable the answer
is ESME_RX_T_APPN, so the carrier redelivers later. A redelivery of the same message is
recognised by its content key within a short window (``inbox.redelivery_window``) and recorded
once; a person who really sends the same text again later is recorded again (the campaigns
count it as a duplicate). A per-number token bucket stops floods and reply loops. The router
consumes the recorded messages (``engine.routers.RouterLoop``).
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

import trio

from counters import InboundRecord, SentRecord, Store, StoreUnavailable
from engine.bind import BindListener, CarrierBind
from engine.config import Config
from engine.masking import mask_number, printable
from engine.metrics import Metrics
from engine.ratelimit import TokenBucket
from engine.routing import SenderKind, e164_from_smpp, sender_kind
from engine.signals import undeliverable
from smpp.constants import (
    MESSAGE_TYPE_MASK,
    REQUESTS_WITHOUT_RESPONSE,
    CommandStatus,
    EsmClass,
    MessageState,
    TlvTag,
)
from smpp.pdu import DataSM, DeliverSM
from smpp.receipt import Receipt, message_id_candidates, normalise_message_id, receipt_from_fields
from smpp.segment import ConcatInfo, Reassembler, UdhError, parse_udh
from smpp.text import decode_text
from smpp.tlv import find_tlv
from smpp.transport import InboundRequest

__all__ = ["Inbox", "RecentIds", "state_label"]

log = logging.getLogger(__name__)

HOLD_RECEIPTS = 60.0
_PERMANENT_STATES = frozenset({MessageState.UNDELIVERABLE, MessageState.REJECTED})
_RECEIPT_TYPES = frozenset({int(EsmClass.SMSC_DELIVERY_RECEIPT), 0x20})
_UDHI = int(EsmClass.UDHI)
RECENT_IDS = 60_000
"""Carrier message ids kept in memory (between this and twice this) so receipts match
without a Redis read; older ones are looked up in Redis, a batch in one round trip. Each
costs about 240 bytes (a slim record): 120,000 are under 30 MiB, which keeps a
million-message fan-out's engine under 100 MB."""


class RecentIds:
    """The latest carrier message ids and their records, bounded by generations.

    A full generation becomes the old one and the one before is dropped whole: O(1) per id.
    (Evicting the oldest key of one dict one by one makes ``next(iter(d))`` walk the deleted
    slots at the front of the table, which cost a fifth of the engine's CPU at fan-out speed.)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._young: dict[str, SentRecord] = {}
        self._old: dict[str, SentRecord] = {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def put(self, message_id: str, record: SentRecord) -> None:
        if len(self._young) >= self.size:
            self._old, self._young = self._young, {}
        self._young[message_id] = record

    def get(self, message_id: str) -> SentRecord | None:
        found = self._young.get(message_id)
        return found if found is not None else self._old.get(message_id)


class Inbox(BindListener):
    """Handles what the carriers send us, and tells the pools about bind changes."""

    def __init__(self, store: Store, config: Config, metrics: Metrics) -> None:
        self.store = store
        self.config = config
        self.metrics = metrics
        cfg = config.inbox
        self._reassembler = Reassembler(timeout=cfg.reassembly_timeout)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._held: dict[str, tuple[Receipt, str, float, str]] = {}
        """Receipts that came before their submit_sm_resp: normalised id -> (receipt,
        carrier, expiry, handset number)."""
        self.recent_ids = RecentIds(RECENT_IDS)
        self._late: list[tuple[Receipt, SentRecord]] = []
        self.unmatched_receipts = 0
        self.appeal_receipts: Counter[tuple[int, str]] = Counter()
        self.notify: dict[str, Callable[[], None]] = {}
        self.changed = trio.lowlevel.ParkingLot()
        """Unparked on every bind change and freed window slot (for waiters like stop())."""

    # --- bind events ---------------------------------------------------------------------------

    def bind_up(self, bind: CarrierBind) -> None:
        self.metrics.child("binds_up", bind.carrier, bind.name).set(1)
        if bind.reconnects:
            self.metrics.child("reconnects", bind.carrier, bind.name).inc()
        self._notify(bind)

    def bind_down(self, bind: CarrierBind, reason: str) -> None:
        self.metrics.child("binds_up", bind.carrier, bind.name).set(0)
        self._notify(bind)

    def _notify(self, bind: CarrierBind) -> None:
        if self.changed:
            self.changed.unpark_all()
        callback = self.notify.get(bind.carrier)
        if callback is not None:
            callback()

    # --- dispatch ------------------------------------------------------------------------------

    async def inbound(self, bind: CarrierBind, request: InboundRequest) -> None:
        await self.inbound_batch(bind, [request])

    async def inbound_batch(self, bind: CarrierBind, requests: Sequence[InboundRequest]) -> None:
        """What one read from the carrier brought: mobile-originated messages are recorded
        in one Redis call for the whole batch (a TV burst costs no round trip per JA),
        receipts in another; each request is answered once, after Redis confirmed."""
        receipts: list[tuple[InboundRequest, DeliverSM | DataSM]] = []
        originated: list[tuple[InboundRequest, DeliverSM | DataSM]] = []
        for request in requests:
            pdu = request.pdu
            if pdu.command_id in REQUESTS_WITHOUT_RESPONSE:
                continue
            if not isinstance(pdu, DeliverSM | DataSM):
                request.respond()
            elif pdu.esm_class & MESSAGE_TYPE_MASK in _RECEIPT_TYPES:
                receipts.append((request, pdu))
            elif (refusal := self._screen_sender(bind, pdu)) is not None:
                request.respond(status=refusal)
            else:
                originated.append((request, pdu))
        for part, handle in ((originated, self._mobile_originated), (receipts, self._receipts)):
            if part:
                await self._handle(bind, part, handle)

    async def _handle(
        self,
        bind: CarrierBind,
        part: list[tuple[InboundRequest, DeliverSM | DataSM]],
        handle: Callable[[CarrierBind, Sequence[DeliverSM | DataSM]], Awaitable[None]],
    ) -> None:
        """Handle and answer a batch. An unexpected error (a bug, a message no code foresaw)
        is contained: the batch is handled again one message at a time, so the others go
        through, and the one that fails alone is answered ESME_RX_T_APPN (the carrier keeps
        it and delivers it again) instead of ending the bind or the engine."""
        status = 0
        try:
            await handle(bind, [pdu for _, pdu in part])
        except StoreUnavailable:
            self.metrics.child("store_errors", "inbox").inc()
            status = CommandStatus.ESME_RX_T_APPN  # the carrier will deliver it again
        except Exception as exc:
            if len(part) > 1:
                for one in part:
                    await self._handle(bind, [one], handle)
                return
            self.metrics.child("inbound", bind.carrier, "error").inc()
            log.error("message via %s not handled (%s: %s): answered ESME_RX_T_APPN, the "
                      "carrier will deliver it again", printable(bind.carrier),
                      type(exc).__name__, printable(str(exc), 80),
                      extra={"carrier": bind.carrier, "bind": bind.name})  # fmt: skip
            log.debug("inbound handling failed", exc_info=True)
            status = CommandStatus.ESME_RX_T_APPN
        for request, _ in part:
            request.respond(status=status)

    # --- receipts ------------------------------------------------------------------------------

    async def _receipts(self, bind: CarrierBind, pdus: Sequence[DeliverSM | DataSM]) -> None:
        parsed: list[tuple[Receipt, str, str, str]] = []
        for pdu in pdus:
            short_message = pdu.short_message if isinstance(pdu, DeliverSM) else b""
            receipt = receipt_from_fields(short_message, {t.tag: t.value for t in pdu.tlvs})
            if receipt is None or not receipt.message_id:
                self.metrics.child("inbound", bind.carrier, "bad_receipt").inc()
                continue
            state = state_label(receipt)
            # The receipt comes from the handset's number: it tells a message id spelled
            # another way (hex for decimal) from someone else's message that has that id.
            handset = e164_from_smpp(pdu.source_addr, pdu.source_addr_ton,
                                     self.config.country_code)  # fmt: skip
            parsed.append((receipt, normalise_message_id(receipt.message_id), state, handset))
        await self.store.deliveries.record_statuses(
            [(message_id, state, receipt.err or "") for receipt, message_id, state, _ in parsed]
        )
        matches = [self._match(receipt.message_id, handset) for receipt, *_, handset in parsed]
        misses = [i for i, found in enumerate(matches) if found is None]
        if misses:  # older than the ids kept in memory: ask Redis, all in one round trip

            async def look_up(i: int) -> None:
                receipt, _, _, handset = parsed[i]
                candidates = message_id_candidates(receipt.message_id)
                hit = await self.store.deliveries.find_sent(
                    candidates, accept=partial(_plausible, handset)
                )
                # The submit_sm_resp may have come while Redis was asked: look again.
                matches[i] = hit[1] if hit else self._match(receipt.message_id, handset)

            async with trio.open_nursery() as nursery:
                for i in misses:
                    nursery.start_soon(look_up, i)
        for (receipt, message_id, state, handset), found in zip(parsed, matches, strict=True):
            self.metrics.child("receipts", bind.carrier, state).inc()
            if found is None:
                expires = trio.current_time() + HOLD_RECEIPTS
                self._held[message_id] = (receipt, bind.carrier, expires, handset)
                self._expire_held()
            else:
                self._tally(receipt, found)
                await self._apply(receipt, found)

    def _match(self, raw_id: str, handset: str) -> SentRecord | None:
        for index, candidate in enumerate(message_id_candidates(raw_id)):
            record = self.recent_ids.get(candidate)
            if record is not None and _plausible(handset, index, record):
                return record
        return None

    def _tally(self, receipt: Receipt, record: SentRecord) -> None:
        """Count the receipt against its appeal (delivered, failed by state), for ``show``."""
        if record.appeal and record.part == 1:
            state = state_label(receipt)
            self.appeal_receipts[(record.appeal, f"{record.kind}_receipt_{state}")] += 1

    async def flush_tallies(self) -> None:
        """Write the receipts counted per appeal to Redis (the app calls this every second);
        kept for the next try if Redis is unavailable."""
        tallies, self.appeal_receipts = self.appeal_receipts, Counter()
        try:
            await self.store.appeals.tally(dict(tallies))
        except StoreUnavailable:
            self.appeal_receipts.update(tallies)
            self.metrics.child("store_errors", "inbox").inc()

    async def _apply(self, receipt: Receipt, record: SentRecord) -> None:
        if receipt.state in _PERMANENT_STATES:
            reason = f"{receipt.stat} err:{receipt.err or ''}"
            await undeliverable(self.store, self.metrics, record.to, reason)

    def sent(self, message_id: str, record: SentRecord) -> None:
        """The outbox learned a carrier message id: match any receipt that came early."""
        self.recent_ids.put(message_id, _slim(record))
        if not self._held:
            return
        for index, candidate in enumerate(message_id_candidates(message_id)):
            held = self._held.get(candidate)
            if held is None or not _plausible(held[3], index, record):
                continue
            del self._held[candidate]
            receipt = held[0]
            self._tally(receipt, record)
            if receipt.state in _PERMANENT_STATES:
                self._late.append((receipt, record))
            return

    def expire(self, now: float) -> None:
        """Drop multi-part MO parts whose siblings never came, and receipts never matched."""
        for lost in self._reassembler.expire(now):
            key = lost.key if isinstance(lost.key, tuple) else ("unknown", "")
            carrier, source = str(key[0]), str(key[1])
            log.info("multi-part message from %s via %s dropped: %d of %d parts came",
                     mask_number(source), printable(carrier),
                     lost.received, lost.total, extra={"carrier": carrier})  # fmt: skip
            self.metrics.child("inbound", carrier, "incomplete").inc()
        self._expire_held()

    async def apply_late(self) -> None:
        """Apply receipts matched after they arrived (run periodically by the app). On a
        Redis outage the ones not yet applied are kept for the next round.

        Raises:
            StoreUnavailable: Redis did not confirm; nothing is lost.
        """
        while self._late:
            receipt, record = self._late[0]
            await self._apply(receipt, record)
            self._late.pop(0)

    def _expire_held(self) -> None:
        now = trio.current_time()
        for message_id, (_, _, expires, _) in list(self._held.items()):
            if expires > now:
                break
            del self._held[message_id]
            self.unmatched_receipts += 1

    # --- mobile-originated ---------------------------------------------------------------------

    async def _mobile_originated(
        self, bind: CarrierBind, pdus: Sequence[DeliverSM | DataSM]
    ) -> None:
        items: list[tuple[InboundRecord, str]] = []
        for pdu in pdus:
            item = self._record(bind, pdu)
            if item is not None:
                items.append(item)
        window = self.config.inbox.redelivery_window
        flags = await self.store.deliveries.record_inbound_many(items, window)
        new = sum(flags)
        if new:
            self.metrics.child("inbound", bind.carrier, "mo").inc(new)
        if new < len(flags):
            self.metrics.child("inbound", bind.carrier, "redelivery").inc(len(flags) - new)

    def _screen_sender(self, bind: CarrierBind, pdu: DeliverSM | DataSM) -> int | None:
        """None when the sender is a number (record the message); else the status to answer
        with, the message not recorded: a service sender (short code, alphanumeric) is
        acknowledged and ignored, never answered; a malformed one is refused."""
        source = e164_from_smpp(pdu.source_addr, pdu.source_addr_ton, self.config.country_code)
        kind = sender_kind(source, pdu.source_addr_ton)
        if kind is SenderKind.NUMBER:
            return None
        self.metrics.child("inbound", bind.carrier, f"sender_{kind.value}").inc()
        if kind is SenderKind.INVALID:
            log.warning("message via %s refused: its sender (%d characters, TON %d) is not "
                        "a number, a short code or an alphanumeric name", printable(bind.carrier),
                        len(pdu.source_addr), pdu.source_addr_ton,
                        extra={"carrier": bind.carrier, "bind": bind.name})  # fmt: skip
            return CommandStatus.ESME_RINVSRCADR
        log.info("message via %s from %s sender %s ignored (not a subscriber; never answered)",
                 printable(bind.carrier), kind.value, printable(source),
                 extra={"carrier": bind.carrier, "bind": bind.name})  # fmt: skip
        return CommandStatus.ESME_ROK

    def _record(
        self, bind: CarrierBind, pdu: DeliverSM | DataSM
    ) -> tuple[InboundRecord, str] | None:
        """The message to record and its redelivery key; None for a flood or a part of a
        longer message still waiting for its siblings."""
        source = e164_from_smpp(pdu.source_addr, pdu.source_addr_ton, self.config.country_code)
        if not self._allow(source):
            self.metrics.child("inbound", bind.carrier, "flood").inc()
            return None
        payload = self._payload(bind, pdu, source)
        if payload is None:
            self.metrics.child("inbound", bind.carrier, "part").inc()
            return None
        record = InboundRecord(
            source=source,
            destination=pdu.destination_addr,
            text=decode_text(payload, pdu.data_coding),
            carrier=bind.carrier,
            bind=bind.name,
            received_at=time.time(),
            data_coding=pdu.data_coding,
            raw=payload,
        )
        key = hashlib.blake2b(
            b"|".join((bind.carrier.encode(), source.encode(), pdu.destination_addr.encode(),
                       bytes((pdu.data_coding,)), payload)),
            digest_size=12,
        ).hexdigest()  # fmt: skip
        return record, key

    def _payload(self, bind: CarrierBind, pdu: DeliverSM | DataSM, source: str) -> bytes | None:
        """The whole message's octets, or None while parts are still missing."""
        tlvs = pdu.tlvs
        message_payload = find_tlv(tlvs, TlvTag.MESSAGE_PAYLOAD) if tlvs else None
        data = message_payload.value if message_payload else getattr(pdu, "short_message", b"")
        info: ConcatInfo | None = None
        if pdu.esm_class & _UDHI:
            try:
                info, data = parse_udh(data)
            except UdhError:
                info = None
        elif tlvs:
            info = _sar_info(pdu)
        if info is None:
            return data
        key = (bind.carrier, source, pdu.destination_addr)
        try:
            return self._reassembler.add(key, info, data, trio.current_time())
        except UdhError:
            return data

    def _allow(self, number: str) -> bool:
        cfg = self.config.inbox
        now = trio.current_time()
        bucket = self._buckets.get(number)
        if bucket is None:
            bucket = TokenBucket(cfg.per_number_rate, cfg.per_number_burst, now)
            self._buckets[number] = bucket
            if len(self._buckets) > 100_000:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(number)
        return bucket.take(now)


def _slim(record: SentRecord) -> SentRecord:
    """What the inbox needs of a sent message (number, appeal, kind, part): the reference,
    lane and bind stay in Redis, and the kind is one shared string."""
    kind = sys.intern(record.kind)
    return SentRecord(ref="", to=record.to, lane="", bind="", appeal=record.appeal, kind=kind,
                      part=record.part, parts=record.parts)  # fmt: skip


def _plausible(handset: str, index: int, record: SentRecord) -> bool:
    """Whether a receipt found ``record`` under its ``index``-th spelling of the message id.
    The id as written (index 0) is the message; another spelling must also have gone to
    the handset the receipt comes from: carrier ids in hex and decimal overlap, and a
    receipt that beats its own submit_sm_resp would otherwise match an older message whose
    id reads the same in the other base (and mark the wrong number undeliverable)."""
    return index == 0 or not handset or record.to == handset


def state_label(receipt: Receipt) -> str:
    """The receipt's final state as a metric label or a stored status: one of the message
    states of SMPP 3.4 (§5.2.28), or "OTHER" for a word we do not know. The word comes
    from the carrier: used as it is, 5,000 made-up words would make 5,000 series."""
    return receipt.state.name if receipt.state is not None else "OTHER"


def _sar_info(pdu: DeliverSM | DataSM) -> ConcatInfo | None:
    ref = find_tlv(pdu.tlvs, TlvTag.SAR_MSG_REF_NUM)
    total = find_tlv(pdu.tlvs, TlvTag.SAR_TOTAL_SEGMENTS)
    seq = find_tlv(pdu.tlvs, TlvTag.SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seq is None:
        return None
    try:
        return ConcatInfo.from_sar(
            int.from_bytes(ref.value, "big"),
            int.from_bytes(total.value, "big"),
            int.from_bytes(seq.value, "big"),
        )
    except (UdhError, ValueError):
        return None
