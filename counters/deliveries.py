"""What happened to each message: submit attempts, carrier message ids, receipts, inbound.

Outbound. Before a submit goes on the wire its queue entry gets an attempt record
(``mark_attempts``); when the submit_sm_resp (or a final error) arrives the entry is
acknowledged, deleted and its attempt record dropped in one pipeline (``finish``). So after a
dropped bind or a crash, an entry that is still pending *with* an attempt record is in the
"outcome unknown" state: the carrier may or may not have it. The engine's per-lane policy
decides (resend bulk appeals, never resend a thank-you); every such resend is counted as a
possible duplicate. The carrier's message id maps to a ``SentRecord`` so a delivery receipt
finds its message (``record_sent``/``find_sent``), for a week.

Inbound. ``record_inbound`` appends a mobile-originated message to a durable stream exactly once
per redelivery key (one Lua call: SET NX + XADD), so the deliver_sm_resp can be sent as soon as
Redis has it and a carrier's redelivery is recognised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import msgspec

from .batcher import Batcher
from .group_stream import GroupStream
from .keys import Keys, Lane
from .scripts import SCRIPTS, Eval
from .streams import GROUP

__all__ = ["Attempt", "Deliveries", "InboundRecord", "SentRecord"]

SENT_DAYS = 7
"""Days a carrier message id and a status are kept (receipts come within the validity period,
at most a few days)."""
KEEP = (SENT_DAYS + 1) * 86400
"""A day's hash expires this long after its last write (so its first entries live a week)."""
INBOUND_GROUP = "router"
TRIM_STEP = 10_000
"""Inbound log entries one trim may drop (the rest go in the next minute's trim)."""


class Attempt(msgspec.Struct, frozen=True, gc=False):
    """A submit about to go out: which bind, when (Unix seconds), how many parts."""

    bind: str
    at: float
    parts: int = 1


class SentRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a carrier message id refers to."""

    ref: str
    to: str
    lane: str
    bind: str
    appeal: int = 0
    subscriber: int = 0
    kind: str = ""
    part: int = 1
    parts: int = 1


class InboundRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A mobile-originated message as received, normalised, durably kept for the router."""

    source: str
    destination: str
    text: str
    carrier: str
    bind: str
    received_at: float
    data_coding: int = 0
    raw: bytes = b""


_encoder = msgspec.msgpack.Encoder()


def _day(now: float | None) -> str:
    return time.strftime("%Y%m%d", time.gmtime(time.time() if now is None else now))


def _days(now: float | None) -> list[str]:
    """Today and the days before it whose records are kept, newest first (UTC)."""
    now = time.time() if now is None else now
    return [_day(now - 86400 * back) for back in range(SENT_DAYS + 1)]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


_flags = msgspec.msgpack.Decoder(list[int])
_attempt = msgspec.msgpack.Decoder(Attempt)
_sent = msgspec.msgpack.Decoder(SentRecord)
_inbound = msgspec.msgpack.Decoder(InboundRecord)


class Deliveries:
    """Message fates in Redis; every call is batched with other tasks' calls."""

    def __init__(self, batcher: Batcher, keys: Keys) -> None:
        self._keys = keys
        self._run = batcher.execute
        self._run_many = batcher.execute_many
        self._lanes = {lane: GroupStream(batcher, keys.lane(lane), GROUP) for lane in Lane}
        self.inbound = GroupStream(batcher, keys.inbound, INBOUND_GROUP)

    # --- outbound ----------------------------------------------------------------------------

    async def mark_attempts(self, entries: Sequence[tuple[str, Attempt]]) -> None:
        """Record submits about to go out, keyed by queue entry id."""
        if not entries:
            return
        args: list[str | bytes] = []
        for entry_id, attempt in entries:
            args += [entry_id, _encoder.encode(attempt)]
        await self._run(("HSET", self._keys.queue_attempts, *args))

    async def attempts(self, entry_ids: Sequence[str]) -> list[Attempt | None]:
        """The attempt records of these entries (None: never submitted)."""
        if not entry_ids:
            return []
        replies = await self._run(("HMGET", self._keys.queue_attempts, *entry_ids))
        return [None if raw is None else _attempt.decode(raw) for raw in replies]

    async def in_flight(self) -> int:
        """Attempts not yet finished (after a crash: messages with an unknown outcome)."""
        return int(await self._run(("HLEN", self._keys.queue_attempts)))

    async def finish(self, lane: Lane, entry_ids: Sequence[str]) -> None:
        """The entries' fate is final: acknowledge, delete, drop their attempt records."""
        if not entry_ids:
            return
        await self._run_many(
            [
                *self._lanes[lane].done_commands(entry_ids),
                ("HDEL", self._keys.queue_attempts, *entry_ids),
            ]
        )

    async def record_sent(
        self, records: Sequence[tuple[str, SentRecord]], *, now: float | None = None
    ) -> None:
        """Map carrier message ids (normalised) to what was sent, for a week: one HSET into
        the day's hash (a key per id with its own expiry cost Redis 5 us a message, this
        0.7), which expires whole 8 days after its last write."""
        fields: list[str | bytes] = []
        for message_id, record in records:
            fields += (message_id, _encoder.encode(record))
        await self._put_today(self._keys.sent_day, fields, now)

    async def find_sent(
        self,
        candidates: Sequence[str],
        *,
        now: float | None = None,
        accept: Callable[[int, SentRecord], bool] | None = None,
    ) -> tuple[str, SentRecord] | None:
        """The first of the candidate ids (normalised spellings) that maps to a message, in
        the days the records are kept (newest first). ``accept(index, record)`` may turn a
        hit down (a spelling that names someone else's message)."""
        values = await self._newest(self._keys.sent_day, candidates, now)
        for index, (candidate, raw) in enumerate(zip(candidates, values, strict=False)):
            if raw is not None:
                record = _sent.decode(raw)
                if accept is None or accept(index, record):
                    return candidate, record
        return None

    async def record_status(
        self, message_id: str, status: str, error: str = "", *, now: float | None = None
    ) -> None:
        """Store a receipt's (or a final submit's) outcome for the message, for a week."""
        await self._put_today(self._keys.status_day, [message_id, f"{status}|{error}"], now)

    async def status(self, message_id: str, *, now: float | None = None) -> tuple[str, str] | None:
        """The latest status stored for the message (newest day first)."""
        for raw in await self._newest(self._keys.status_day, [message_id], now):
            if raw is not None:
                status, _, error = raw.decode().partition("|")
                return status, error
        return None

    async def _put_today(
        self, key_of: Callable[[str], str], fields: Sequence[str | bytes], now: float | None
    ) -> None:
        """HSET ``fields`` (name, value, ...) into today's hash of ``key_of``, kept ``KEEP``."""
        if not fields:
            return
        key = key_of(_day(now))
        await self._run_many([("HSET", key, *fields), ("EXPIRE", key, KEEP)])

    async def _newest(
        self, key_of: Callable[[str], str], fields: Sequence[str], now: float | None
    ) -> list[bytes | None]:
        """The values of ``fields`` in the newest day's hash of ``key_of`` that holds any of
        them ([] when none does)."""
        if not fields:
            return []
        days = _days(now)
        for chunk in (days[:2], days[2:]):  # receipts mostly come the same day or the next
            replies = await self._run_many([("HMGET", key_of(day), *fields) for day in chunk])
            for values in replies:
                if any(value is not None for value in values):
                    return list(values)
        return []

    async def mark_undeliverable(self, number: str, reason: str) -> None:
        """A permanent failure (number gone, barred): keep it so fan-out can skip the number."""
        await self._run(("HSET", self._keys.undeliverable, number, reason))

    async def undeliverable(self, number: str) -> str | None:
        raw = await self._run(("HGET", self._keys.undeliverable, number))
        return None if raw is None else raw.decode()

    # --- inbound -----------------------------------------------------------------------------

    async def record_inbound(
        self, record: InboundRecord, redelivery_key: str, window: float
    ) -> bool:
        """Append an inbound message once per ``redelivery_key`` within ``window`` seconds
        (True when new)."""
        return (await self.record_inbound_many([(record, redelivery_key)], window))[0]

    async def record_inbound_many(
        self, items: Sequence[tuple[InboundRecord, str]], window: float
    ) -> list[bool]:
        """`record_inbound` for a whole batch (a receive buffer's worth of deliver_sm) in
        one script call: one flag per message, True where it was recorded now."""
        if not items:
            return []
        keys = (*(self._keys.inbound_seen(key) for _, key in items), self._keys.inbound)
        args: tuple[int | bytes, ...] = (
            max(1, int(window * 1000)),
            *(_encoder.encode(record) for record, _ in items),
        )
        reply = await self._run(Eval(SCRIPTS["inbound_many"], keys, args))
        return [bool(flag) for flag in _flags.decode(reply)]

    async def record_statuses(
        self, statuses: Sequence[tuple[str, str, str]], *, now: float | None = None
    ) -> None:
        """`record_status` for many receipts at once: (message id, status, error) each."""
        fields: list[str | bytes] = []
        for message_id, status, error in statuses:
            fields += (message_id, f"{status}|{error}")
        await self._put_today(self._keys.status_day, fields, now)

    async def ensure_inbound_group(self) -> None:
        await self.inbound.ensure_group()

    async def read_inbound(
        self, consumer: str, *, count: int = 100, pending: bool = False
    ) -> list[tuple[str, InboundRecord]]:
        """New inbound messages for this router consumer (never blocks); with ``pending``,
        those it read before a restart and never acknowledged."""
        entries = await self.inbound.read(consumer, count=count, pending=pending)
        return [(entry_id, _inbound.decode(raw)) for entry_id, raw in entries]

    async def reclaim_inbound(
        self, consumer: str, *, min_idle: float, count: int = 100
    ) -> list[tuple[str, InboundRecord]]:
        """Inbound messages a dead router left unacknowledged."""
        entries = await self.inbound.claim(consumer, min_idle=min_idle, count=count)
        return [(entry_id, _inbound.decode(raw)) for entry_id, raw in entries]

    async def ack_inbound(self, entry_ids: Sequence[str]) -> None:
        """The router has acted on these: acknowledged, but kept in the inbound log (see
        `trim_inbound`) for the operator and the audit."""
        if entry_ids:
            await self._run(("XACK", self._keys.inbound, INBOUND_GROUP, *entry_ids))

    async def trim_inbound(self, *, keep: int, max_age: float, now: float | None = None) -> int:
        """Drop inbound log entries beyond the newest ``keep`` or older than ``max_age``
        seconds, but never one the router has not read or not acknowledged yet (at most
        ``TRIM_STEP`` a call: the engine calls this every minute). Returns how many were
        dropped."""
        key = self._keys.inbound
        now_ms = int((time.time() if now is None else now) * 1000)
        boundary = (max(0, now_ms - int(max_age * 1000)), 0)
        excess = int(await self._run(("XLEN", key))) - keep
        if excess > 0:
            oldest = await self._run(("XRANGE", key, "-", "+", "COUNT", min(excess, TRIM_STEP)))
            ms, seq = _id_key(oldest[-1][0].decode())
            boundary = max(boundary, (ms, seq + 1))
        summary = await self._run(("XPENDING", key, INBOUND_GROUP))
        pending = summary.get("min") if isinstance(summary, dict) else None
        if pending:  # read, not acknowledged
            boundary = min(boundary, _id_key(_text(pending)))
        for group in await self._run(("XINFO", "GROUPS", key)):
            fields = {_text(k): v for k, v in group.items()}
            if _text(fields.get("name")) == INBOUND_GROUP:  # not read yet: after this one
                ms, seq = _id_key(_text(fields.get("last-delivered-id")) or "0-0")
                boundary = min(boundary, (ms, seq + 1))
        dropped = await self._run(("XTRIM", key, "MINID", f"{boundary[0]}-{boundary[1]}"))
        return int(dropped)

    async def inbound_log(self, *, count: int = 100) -> list[tuple[str, InboundRecord]]:
        """The newest inbound messages, newest first (the operator's view)."""
        raw = await self._run(("XREVRANGE", self._keys.inbound, "+", "-", "COUNT", count))
        return [(i.decode(), _inbound.decode(f[b"e"])) for i, f in raw]

    async def dead_letter(self, entry_id: str, record: InboundRecord, error: str) -> None:
        """Keep an inbound message the router could not handle, with why, for the operator."""
        await self._run(
            (
                "XADD",
                self._keys.inbound_dead,
                "*",
                "i",
                entry_id,
                "r",
                error[:500],
                "e",
                _encoder.encode(record),
            )
        )

    async def dead_letters(self, *, count: int = 100) -> list[tuple[str, str, InboundRecord]]:
        """Dead-lettered inbound messages, oldest first: (inbound entry id, error, record)."""
        raw = await self._run(("XRANGE", self._keys.inbound_dead, "-", "+", "COUNT", count))
        return [(f[b"i"].decode(), f[b"r"].decode(), _inbound.decode(f[b"e"])) for _, f in raw]
