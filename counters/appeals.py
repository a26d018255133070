"""Appeals: metadata, exact JA dedupe and count, the signatures stream, last appeal per handset.

Recording JAs is the hot path. A batch of JAs (from any number of tasks) becomes one ``sign.lua``
call per appeal - set the signer's bit; if it was new, count it and append the signature - plus
the reach PFADDs, all in one pipeline. Each appeal's keys share a hash tag, so each call stays in
one cluster slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import msgspec

from .batcher import Batcher, Command, Kind, check
from .errors import CountersError, StoreError
from .keys import Keys
from .reach import reach_commands, utc_day
from .records import AppealFigures, AppealMeta, Signature, SignResult, decode_appeal, encode
from .scripts import SCRIPTS, Eval
from .subscribers import bitmap_ids

__all__ = ["Appeals"]

log = logging.getLogger(__name__)

_ints = msgspec.msgpack.Decoder(list[int])

# (appeal, subscriber, raw text, message id, arrival time or None for now)
_Sign = tuple[int, int, str, str, float | None]


class _SignKind(Kind[_Sign, SignResult]):
    def __init__(self, keys: Keys) -> None:
        self._keys = keys

    def commands(self, ops: Sequence[_Sign]) -> list[Command]:
        groups: dict[int, list[int | str]] = {}  # flat: id, text, message id, id, ...
        days: dict[int, list[int]] = {}
        today = utc_day(time.time())
        for appeal, subscriber, text, message_id, at in ops:
            groups.setdefault(appeal, []).extend((subscriber, text, message_id))
            days.setdefault(today if at is None else utc_day(at), []).append(subscriber)
        k = self._keys
        commands: list[Command] = [
            Eval(
                SCRIPTS["sign"],
                (
                    k.appeal_signed(appeal),
                    k.appeal_count(appeal),
                    k.appeal_signatures(appeal),
                    k.appeal_minutes(appeal),
                ),
                (encode(members),),
            )
            for appeal, members in groups.items()
        ]
        commands.extend(reach_commands(k, days))
        return commands

    def results(
        self, ops: Sequence[_Sign], replies: Sequence[object]
    ) -> list[SignResult | Exception]:
        positions: dict[int, list[int]] = {}
        for i, op in enumerate(ops):
            positions.setdefault(op[0], []).append(i)
        out: list[SignResult | Exception] = [StoreError("no reply for this JA")] * len(ops)
        for reply, indexes in zip(replies, positions.values(), strict=False):
            try:
                counts = _ints.decode(check(reply))
            except CountersError as exc:
                for i in indexes:
                    out[i] = exc
                continue
            for i, count in zip(indexes, counts, strict=True):
                out[i] = SignResult(count > 0, abs(count))
        for reply in replies[len(positions) :]:
            if isinstance(reply, Exception):  # reach is approximate: never fail a JA over it
                log.warning("reach update failed: %s", reply)
        return out


class Appeals:
    """Appeal operations; every method is batched with other tasks' calls."""

    def __init__(self, batcher: Batcher, keys: Keys) -> None:
        self._batcher = batcher
        self._keys = keys
        self._sign = _SignKind(keys)

    async def _run(self, *command: str | bytes | int | float) -> Any:
        return await self._batcher.execute(command)

    async def create(self, meta: AppealMeta) -> None:
        """Store (or replace) an appeal's metadata and list it in the appeal index."""
        await self._run("SET", self._keys.appeal_meta(meta.id), encode(meta))
        await self._run("ZADD", self._keys.appeal_index, meta.opens_at, meta.id)

    async def meta(self, appeal: int) -> AppealMeta | None:
        raw = await self._run("GET", self._keys.appeal_meta(appeal))
        return None if raw is None else decode_appeal(raw)

    async def metas(self, appeals: Sequence[int]) -> list[AppealMeta | None]:
        """`meta` of several appeals in one round trip."""
        if not appeals:
            return []
        k = self._keys
        raw = await self._batcher.execute_many([("GET", k.appeal_meta(a)) for a in appeals])
        return [None if r is None else decode_appeal(r) for r in raw]

    async def ids(self, *, newest: int = 100) -> list[int]:
        """The most recently opened appeals, newest first."""
        raw = await self._run("ZRANGE", self._keys.appeal_index, 0, newest - 1, "REV")
        return [int(x) for x in raw]

    def sign(
        self, appeal: int, subscriber: int, *, text: str, message_id: str, at: float | None = None
    ) -> Coroutine[Any, Any, SignResult]:
        """Record one JA, exactly once per subscriber and appeal.

        Args:
            appeal: the appeal's id.
            subscriber: the signer's dense id (`Subscribers.id`; a public appeal creates one).
            text: the raw message as received ("Ja!"), kept for the authorities.
            message_id: the carrier's id of the inbound message.
            at: when it arrived (Unix seconds), for the reach day; default now.

        Returns:
            ``SignResult(new, count)``: ``new`` is False for a duplicate; ``count`` is the
            appeal's exact count once this JA was recorded.

        Raises:
            StoreUnavailable: not confirmed; the carrier should retry (a retry is harmless).
        """
        # A plain function returning the batcher's coroutine: one coroutine frame less on the
        # hottest path (await it like any coroutine).
        return self._batcher.call(self._sign, (appeal, subscriber, text, message_id, at))

    async def sign_many(
        self, replies: Sequence[tuple[int, int, str, str]], *, at: float | None = None
    ) -> list[SignResult]:
        """`sign` for many JAs at once: (appeal, subscriber, text, message_id) each.

        For a caller that already holds many replies (an inbox that decoded a whole receive
        buffer): no task switch per JA. Results are in the same order.
        """
        return await self._batcher.call_many(self._sign, [(*reply, at) for reply in replies])

    async def next_id(self) -> int:
        """A new appeal id (1, 2, 3...)."""
        return int(await self._run("INCR", self._keys.appeal_seq))

    async def state(self, appeal: int) -> dict[str, str]:
        """The appeal's mutable state: status, fan-out cursors and counts (strings)."""
        raw = await self._run("HGETALL", self._keys.appeal_state(appeal))
        return {k.decode(): v.decode() for k, v in (raw or {}).items()}

    async def set_state(self, appeal: int, fields: dict[str, str | int | float]) -> None:
        if fields:
            flat = [x for pair in fields.items() for x in pair]
            await self._run("HSET", self._keys.appeal_state(appeal), *flat)

    async def add_state(self, appeal: int, field: str, amount: int) -> int:
        """Add to a counter of the appeal's state; returns the new value."""
        return int(await self._run("HINCRBY", self._keys.appeal_state(appeal), field, amount))

    async def halts(self, appeals: Sequence[int]) -> list[str]:
        """For each appeal: "cancelled", "paused" or "" (the operator's flags in its state)."""
        if not appeals:
            return []
        k = self._keys
        replies = await self._batcher.execute_many(
            [("HMGET", k.appeal_state(a), "cancelled", "paused") for a in appeals]
        )
        return ["cancelled" if c else ("paused" if p else "") for c, p in replies]

    async def counts(self, appeals: Sequence[int]) -> list[int]:
        """`count` of several appeals in one round trip."""
        if not appeals:
            return []
        k = self._keys
        replies = await self._batcher.execute_many([("GET", k.appeal_count(a)) for a in appeals])
        return [int(r or 0) for r in replies]

    async def signed_chunk(self, appeal: int, offset: int, size: int) -> tuple[list[int], int]:
        """Signer ids in bytes [offset, offset + size) of the signed bitmap (an outcome's
        fan-out cursor moves through it), and how many bytes there were (0: past its end)."""
        key = self._keys.appeal_signed(appeal)
        chunk: bytes = await self._run("GETRANGE", key, offset, offset + size - 1)
        return bitmap_ids(chunk, offset), len(chunk)

    async def tally(self, counts: dict[tuple[int, str], int]) -> None:
        """Add to per-appeal state counters in one round trip: {(appeal, field): n}."""
        if counts:
            k = self._keys
            await self._batcher.execute_many(
                [("HINCRBY", k.appeal_state(a), f, n) for (a, f), n in counts.items()]
            )

    async def add_job(self, appeal: int, kind: str) -> None:
        """Ask the engines to expand a fan-out ("appeal" or "outcome") of ``appeal``."""
        await self._run("SADD", self._keys.fanout_jobs, f"{appeal}:{kind}")

    async def remove_job(self, appeal: int, kind: str) -> None:
        await self._run("SREM", self._keys.fanout_jobs, f"{appeal}:{kind}")

    async def jobs(self) -> list[tuple[int, str]]:
        """Fan-outs waiting to be expanded: (appeal, kind), oldest appeal first."""
        raw = await self._run("SMEMBERS", self._keys.fanout_jobs)
        jobs = []
        for member in raw or ():
            appeal, _, kind = member.decode().partition(":")
            jobs.append((int(appeal), kind))
        return sorted(jobs)

    async def lease(self, name: str, token: str, ttl: float) -> bool:
        """Take (or keep) a short lease, e.g. on one appeal's fan-out: True if it is ours."""
        key = f"{self._keys.fanout_jobs}:lease:{name}"
        ms = int(ttl * 1000)
        if await self._run("SET", key, token, "NX", "PX", ms):
            return True
        holder = await self._run("GET", key)
        if holder is not None and holder.decode() == token:
            await self._run("PEXPIRE", key, ms)
            return True
        return False

    async def last_received_many(self, subscribers: Sequence[int]) -> list[int]:
        """`last_received` of many handsets in one round trip."""
        if not subscribers:
            return []
        raw = await self._run("HMGET", self._keys.sub_last, *subscribers)
        return [int(r or 0) for r in raw]

    async def figures(self, appeal: int, minutes: Sequence[int]) -> AppealFigures | None:
        """Metadata, count, new signatures in each of ``minutes`` (Unix minutes) and when it
        was sent, in one round trip; None for an unknown appeal."""
        k = self._keys
        meta, count, per_minute, sent_at = await self._batcher.execute_many(
            [
                ("GET", k.appeal_meta(appeal)),
                ("GET", k.appeal_count(appeal)),
                ("HMGET", k.appeal_minutes(appeal), *minutes),
                ("HGET", k.appeal_state(appeal), "sent_at"),
            ]
        )
        if meta is None:
            return None
        return AppealFigures(
            meta=decode_appeal(meta),
            count=int(count or 0),
            per_minute=tuple(int(n or 0) for n in per_minute),
            sent_at=float(sent_at or 0.0),
        )

    async def count(self, appeal: int) -> int:
        return int(await self._run("GET", self._keys.appeal_count(appeal)) or 0)

    async def signers(self, appeal: int) -> int:
        """Bits set in the signed bitmap: equals `count` (a consistency check)."""
        return int(await self._run("BITCOUNT", self._keys.appeal_signed(appeal)))

    async def has_signed(self, appeal: int, subscriber: int) -> bool:
        return bool(await self._run("GETBIT", self._keys.appeal_signed(appeal), subscriber))

    async def signatures(
        self, appeal: int, *, after: str = "-", count: int = 1000
    ) -> list[Signature]:
        """A page of signatures, oldest first; pass the last ``entry_id`` as ``after``."""
        start = after if after == "-" else f"({after}"
        raw = await self._run(
            "XRANGE", self._keys.appeal_signatures(appeal), start, "+", "COUNT", count
        )
        return [_signature(entry) for entry in raw]

    async def mark_received(self, subscribers: Sequence[int], appeal: int) -> None:
        """Remember that these handsets received ``appeal`` (for a bare JA); call on submit."""
        for start in range(0, len(subscribers), 1000):
            chunk = subscribers[start : start + 1000]
            await self._run("HSET", self._keys.sub_last, *(x for s in chunk for x in (s, appeal)))

    async def last_received(self, subscriber: int) -> int:
        """The latest appeal this handset received, 0 if none."""
        return int(await self._run("HGET", self._keys.sub_last, subscriber) or 0)

    async def latest_open(self, subscriber: int, now: float | None = None) -> AppealMeta | None:
        """The appeal a bare JA answers: the latest one the handset received, if still open."""
        appeal = await self.last_received(subscriber)
        meta = await self.meta(appeal) if appeal else None
        if meta is None or not meta.is_open(time.time() if now is None else now):
            return None
        return meta


def _signature(entry: tuple[bytes, dict[bytes, bytes]]) -> Signature:
    entry_id, fields = entry
    text = entry_id.decode()
    return Signature(
        entry_id=text,
        subscriber=int(fields[b"s"]),
        text=fields[b"x"].decode(),
        message_id=fields[b"m"].decode(),
        at=int(text.partition("-")[0]) / 1000,
    )
