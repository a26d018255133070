"""Outbound queues: two lanes (Redis streams) with one consumer group, and a delayed schedule.

Engine processes read with ``XREADGROUP`` as consumers of the ``senders`` group and acknowledge
an entry only once its fate is final (``submit_sm_resp`` or a permanent error); entries that a
dead consumer left pending are taken over with `Queues.reclaim`. Acknowledged entries are deleted
so the streams hold only work in progress. Fan-out goes through `Queues.enqueue_appeal`, which
marks each recipient in the appeal's ``sent`` bitmap in the same Lua call that queues the
message, so a restarted fan-out never queues anyone twice. Thank-yous wait in a sorted set by
due time; `Queues.promote` moves the due ones into their lane atomically.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from .batcher import Batcher, Command, Kind, check
from .errors import CountersError, StoreError
from .group_stream import Entry, GroupStream
from .keys import Keys, Lane
from .records import OutboundMessage, QueuedMessage, decode_message, encode
from .scripts import SCRIPTS, Eval

__all__ = ["GROUP", "Queues"]

GROUP = "senders"
_flags = msgspec.msgpack.Decoder(list[int])

# (appeal, lane, subscriber, encoded message, kind)
_Enqueue = tuple[int, Lane, int, bytes, str]


class _EnqueueKind(Kind[_Enqueue, bool]):
    def __init__(self, keys: Keys) -> None:
        self._keys = keys

    def commands(self, ops: Sequence[_Enqueue]) -> list[Command]:
        groups: dict[tuple[int, Lane, str], list[tuple[int, bytes]]] = {}
        for appeal, lane, subscriber, payload, kind in ops:
            groups.setdefault((appeal, lane, kind), []).append((subscriber, payload))
        return [
            Eval(
                SCRIPTS["enqueue"],
                (self._keys.appeal_sent(appeal, kind), self._keys.lane(lane)),
                (encode([s for s, _ in items]), *(p for _, p in items)),
            )
            for (appeal, lane, kind), items in groups.items()
        ]

    def results(self, ops: Sequence[_Enqueue], replies: Sequence[object]) -> list[bool | Exception]:
        positions: dict[tuple[int, Lane, str], list[int]] = {}
        for i, op in enumerate(ops):
            positions.setdefault((op[0], op[1], op[4]), []).append(i)
        out: list[bool | Exception] = [StoreError("no reply")] * len(ops)
        for reply, indexes in zip(replies, positions.values(), strict=True):
            try:
                flags = _flags.decode(check(reply))
            except CountersError as exc:
                for i in indexes:
                    out[i] = exc
                continue
            for i, flag in zip(indexes, flags, strict=True):
                out[i] = bool(flag)
        return out


class Queues:
    """Lane and schedule operations; every method is batched with other tasks' calls."""

    def __init__(self, batcher: Batcher, keys: Keys) -> None:
        self._batcher = batcher
        self._keys = keys
        self._enqueue = _EnqueueKind(keys)
        self.lanes = {lane: GroupStream(batcher, keys.lane(lane), GROUP) for lane in Lane}

    async def _run(self, *command: str | bytes | int | float) -> Any:
        return await self._batcher.execute(command)

    async def ensure_groups(self) -> None:
        """Create both lanes and their consumer group (idempotent)."""
        for stream in self.lanes.values():
            await stream.ensure_group()

    async def push(self, lane: Lane, message: OutboundMessage) -> str:
        """Append one message to a lane; returns its entry id."""
        entry_id: bytes = await self._run("XADD", self._keys.lane(lane), "*", "e", encode(message))
        return entry_id.decode()

    async def enqueue_appeal(
        self,
        appeal: int,
        messages: Sequence[OutboundMessage],
        *,
        lane: Lane = Lane.BULK,
        kind: str = "appeal",
    ) -> list[bool]:
        """Queue each recipient of an appeal's ``kind`` of message ("appeal", "outcome") at
        most once, ever (keyed by ``message.subscriber``).

        Returns one flag per message: True if queued now, False if it was queued before.
        """
        ops = [(appeal, lane, m.subscriber, encode(m), kind) for m in messages]
        return await self._batcher.call_many(self._enqueue, ops)

    async def schedule_once(
        self, appeal: int, kind: str, items: Sequence[tuple[Lane, OutboundMessage, float]]
    ) -> list[bool]:
        """Schedule each message at its due time (Unix seconds) at most once, ever, per
        (appeal, ``kind``, ``message.subscriber``): one thank-you per signer, even when the
        router reads the same JA again after a crash. One flag per message: scheduled now."""
        if not items:
            return []
        flat: list[int] = []
        members: list[bytes] = []
        for lane, message, due in items:
            flat += (message.subscriber, int(due * 1000))
            members.append(lane.value.encode() + b"|" + encode(message))
        keys = (self._keys.appeal_sent(appeal, kind), self._keys.queue_delayed)
        reply = await self._batcher.execute(
            Eval(SCRIPTS["schedule_once"], keys, (encode(flat), *members))
        )
        return [bool(flag) for flag in _flags.decode(reply)]

    async def reply_once(
        self,
        items: Sequence[tuple[str, OutboundMessage]],
        *,
        remember: float = 172_800.0,
        now: float | None = None,
    ) -> list[bool]:
        """Queue transactional replies at most once per key (the inbound entry they answer)
        for ``remember`` seconds. One flag per message: True if queued now."""
        if not items:
            return []
        now_ms = int((time.time() if now is None else now) * 1000)
        args: list[str | bytes | int] = [now_ms, int(remember * 1000)]
        for key, message in items:
            args += (key, encode(message))
        keys = (self._keys.queue_replies, self._keys.lane(Lane.TRANSACTIONAL))
        reply = await self._batcher.execute(Eval(SCRIPTS["reply_once"], keys, tuple(args)))
        return [bool(flag) for flag in _flags.decode(reply)]

    async def set_aside(
        self, messages: Sequence[OutboundMessage], *, now: float | None = None
    ) -> None:
        """Keep messages of paused appeals aside (per appeal and kind) until resumed."""
        if not messages:
            return
        score = int((time.time() if now is None else now) * 1000)
        groups: dict[tuple[int, str], list[int | bytes]] = {}
        for m in messages:
            groups.setdefault((m.appeal, m.kind), []).extend((score, encode(m)))
        index = ("SADD", self._keys.queue_held, *(f"{a}:{k}" for a, k in groups))
        await self._batcher.execute_many(
            [index]  # first: an indexed empty set is harmless, an unindexed one is lost
            + [("ZADD", self._keys.appeal_held(a, k), *args) for (a, k), args in groups.items()]
        )

    async def sent_bits(self, appeals: Sequence[int], ids: Sequence[int]) -> list[int]:
        """For each id: of ``appeals``, how many were queued for it (the ``sent`` bitmaps):
        the frequency cap's count, one BITFIELD per appeal."""
        if not appeals or not ids:
            return [0] * len(ids)
        flags = await self.sent_flags(appeals, ids)
        return [sum(bits) for bits in zip(*flags, strict=True)]

    async def sent_flags(self, appeals: Sequence[int], ids: Sequence[int]) -> list[list[int]]:
        """Per appeal, per id: 1 if the appeal was queued for that subscriber (written by
        the fan-out before anything is sent, so it survives a crash mid-send)."""
        if not appeals or not ids:
            return [[0] * len(ids) for _ in appeals]
        gets = [x for i in ids for x in ("GET", "u1", i)]
        replies = await self._batcher.execute_many(
            [("BITFIELD_RO", self._keys.appeal_sent(a), *gets) for a in appeals]
        )
        return [[int(bit) for bit in reply] for reply in replies]

    async def held_sets(self) -> list[tuple[int, str]]:
        """(appeal, kind) of every non-empty set of messages set aside."""
        raw = await self._run("SMEMBERS", self._keys.queue_held)
        out = []
        for member in raw or ():
            appeal, _, kind = member.decode().partition(":")
            out.append((int(appeal), kind))
        return sorted(out)

    async def release_held(
        self, appeal: int, kind: str, *, lane: Lane = Lane.BULK, limit: int = 1000
    ) -> int:
        """Move up to ``limit`` held messages back into ``lane``; returns how many moved."""
        keys = (self._keys.appeal_held(appeal, kind), self._keys.lane(lane), self._keys.queue_held)
        args = ("release", limit, f"{appeal}:{kind}")
        return int(await self._batcher.execute(Eval(SCRIPTS["unhold"], keys, args)))

    async def drop_held(self, appeal: int, kind: str) -> int:
        """Drop every held message of a cancelled appeal's ``kind``; returns how many."""
        keys = (
            self._keys.appeal_held(appeal, kind),
            self._keys.lane(Lane.BULK),
            self._keys.queue_held,
        )
        args = ("drop", 0, f"{appeal}:{kind}")
        return int(await self._batcher.execute(Eval(SCRIPTS["unhold"], keys, args)))

    async def held(self, appeal: int, kind: str) -> int:
        return int(await self._run("ZCARD", self._keys.appeal_held(appeal, kind)))

    async def read(self, lane: Lane, consumer: str, *, count: int = 100) -> list[QueuedMessage]:
        """New entries for this consumer (never blocks: an empty list when there is none)."""
        return _queued(await self.lanes[lane].read(consumer, count=count))

    async def read_pending(
        self, lane: Lane, consumer: str, *, count: int = 10_000
    ) -> list[QueuedMessage]:
        """Entries delivered to this consumer earlier and never acknowledged (after a restart)."""
        return _queued(await self.lanes[lane].read(consumer, count=count, pending=True))

    async def ack(self, lane: Lane, entry_ids: Sequence[str]) -> int:
        """Acknowledge and delete finished entries; returns how many were pending."""
        return await self.lanes[lane].done(entry_ids)

    async def reclaim(
        self, lane: Lane, consumer: str, *, min_idle: float, count: int = 100
    ) -> list[QueuedMessage]:
        """Take over entries pending longer than ``min_idle`` seconds (their consumer died)."""
        return _queued(await self.lanes[lane].claim(consumer, min_idle=min_idle, count=count))

    async def hold(self, lane: Lane, consumer: str, entry_ids: Sequence[str]) -> list[str]:
        """Keep entries this consumer still works on from being reclaimed (resets their idle
        time); returns the ids it no longer owns (taken over by another consumer)."""
        return await self.lanes[lane].hold(consumer, entry_ids)

    async def lease_consumer(
        self, name: str, token: str, ttl: float, *, replacing: str = ""
    ) -> str | None:
        """Take (or keep) the consumer name ``name`` for ``ttl`` seconds. Returns None when it
        is ours, else the token of the process holding it (``replacing`` names a holder the
        caller knows is dead: its lease is taken over). Two engines under one name would
        hold, recover and reclaim each other's entries as their own: messages would go out
        twice."""
        key = self._keys.consumer(name)
        call = Eval(SCRIPTS["lease"], (key,), (token, int(ttl * 1000), replacing or token))
        reply = await self._batcher.execute(call)
        return None if reply == 1 else bytes(reply).decode()

    async def release_consumer(self, name: str, token: str) -> None:
        """Give the name back (if still ours), so a restarted engine need not wait."""
        await self._batcher.execute(
            Eval(SCRIPTS["release"], (self._keys.consumer(name),), (token,))
        )

    async def schedule(self, lane: Lane, message: OutboundMessage, due: float) -> None:
        """Hold a message until ``due`` (Unix seconds); ``message.ref`` keeps members unique."""
        await self.schedule_many([(lane, message, due)])

    async def schedule_many(self, items: Sequence[tuple[Lane, OutboundMessage, float]]) -> None:
        """``schedule`` for many messages in one command."""
        if not items:
            return
        args: list[int | bytes] = []
        for lane, message, due in items:
            args += (int(due * 1000), lane.value.encode() + b"|" + encode(message))
        await self._run("ZADD", self._keys.queue_delayed, *args)

    async def promote(self, now: float | None = None, *, limit: int = 1000) -> int:
        """Move up to ``limit`` due messages into their lanes; returns how many moved."""
        k = self._keys
        keys = (k.queue_delayed, k.lane(Lane.TRANSACTIONAL), k.lane(Lane.BULK))
        now_ms = int((time.time() if now is None else now) * 1000)
        return int(await self._batcher.execute(Eval(SCRIPTS["promote"], keys, (now_ms, limit))))

    async def next_due(self) -> float | None:
        """When the earliest delayed message is due (Unix seconds), None if there is none."""
        reply = await self._run("ZRANGE", self._keys.queue_delayed, 0, 0, "WITHSCORES")
        return reply[0][1] / 1000 if reply else None

    async def length(self, lane: Lane) -> int:
        """Entries in the lane: waiting plus delivered but not yet acknowledged."""
        return int(await self._run("XLEN", self._keys.lane(lane)))

    async def pending(self, lane: Lane) -> int:
        """Entries delivered to a consumer and not yet acknowledged."""
        try:
            summary = await self._run("XPENDING", self._keys.lane(lane), GROUP)
        except StoreError as exc:
            if "NOGROUP" in str(exc):
                return 0
            raise
        return int(summary["pending"])

    async def scheduled(self) -> int:
        return int(await self._run("ZCARD", self._keys.queue_delayed))


def _queued(entries: list[Entry]) -> list[QueuedMessage]:
    return [QueuedMessage(entry_id=i, message=decode_message(raw)) for i, raw in entries]
