"""The subscriber registry: dense ids, active bitmap, route, language and the consent log.

A number gets a dense integer id on first sight (one Lua call per batch creates the ids it
needs); appeals index their bitmaps by it. The consent log (a stream) is the record of what
each person agreed to; the active bitmap is the status derived from it, updated in the same
script. ``forget`` erases a number and its history and keeps only a keyed hash of it, so that an
operator's import cannot add it again (the person can still subscribe again by SMS).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from .batcher import Batcher, Command, Kind, check
from .keys import Keys
from .records import ConsentEvent, ConsentKind, ConsentResult, encode
from .scripts import SCRIPTS, Eval

__all__ = ["Subscribers", "bitmap_ids"]

_ids = msgspec.msgpack.Decoder(list[int])
_consent = msgspec.msgpack.Decoder(list[tuple[int, int, int]])
_SCAN = 1000  # consent entries per round trip when scanning the log

# (number, kind, source, text, message_id, route, language, number_hash or "")
_Event = tuple[str, str, str, str, str, str, str, str]


class _Resolve(Kind[str, int]):
    def __init__(self, keys: Keys, create: bool) -> None:
        self._keys = (keys.sub_ids, keys.sub_seq, keys.sub_numbers)
        self._create = "1" if create else "0"

    def commands(self, ops: Sequence[str]) -> list[Command]:
        return [Eval(SCRIPTS["ids"], self._keys, (encode(ops), self._create))]

    def results(self, ops: Sequence[str], replies: Sequence[object]) -> list[int]:
        return _ids.decode(check(replies[0]))


class _Consent(Kind[_Event, ConsentResult]):
    def __init__(self, keys: Keys) -> None:
        self._keys = (
            *(keys.sub_ids, keys.sub_seq, keys.sub_numbers, keys.sub_active),
            *(keys.sub_consent, keys.sub_route, keys.sub_lang, keys.sub_suppressed),
            keys.sub_stopped,
            keys.sub_pending,
        )

    def commands(self, ops: Sequence[_Event]) -> list[Command]:
        return [Eval(SCRIPTS["consent"], self._keys, (encode(ops),))]

    def results(self, ops: Sequence[_Event], replies: Sequence[object]) -> list[ConsentResult]:
        return [
            ConsentResult(i, bool(was), bool(refused))
            for i, was, refused in _consent.decode(check(replies[0]))
        ]


class Subscribers:
    """Subscriber operations; every method is batched with other tasks' calls."""

    def __init__(self, batcher: Batcher, keys: Keys, *, forget_secret: bytes = b"") -> None:
        self._batcher = batcher
        self._keys = keys
        self._secret = hashlib.sha256(forget_secret).digest()
        self._create = _Resolve(keys, create=True)
        self._lookup = _Resolve(keys, create=False)
        self._consent = _Consent(keys)

    async def _run(self, *command: str | bytes | int) -> Any:
        return await self._batcher.execute(command)

    async def id(self, number: str, *, create: bool = True) -> int:
        """The number's dense id, created if needed (without subscribing anyone); 0 if unknown."""
        return await self._batcher.call(self._create if create else self._lookup, number)

    async def ids(self, numbers: Sequence[str], *, create: bool = True) -> list[int]:
        """`id` for many numbers at once."""
        return await self._batcher.call_many(self._create if create else self._lookup, numbers)

    async def numbers(self, ids: Sequence[int]) -> list[str | None]:
        """The number of each id (None where forgotten or unknown)."""
        if not ids:
            return []
        raw = await self._run("HMGET", self._keys.sub_numbers, *ids)
        return [None if n is None else n.decode() for n in raw]

    async def subscribe(
        self,
        number: str,
        *,
        source: str,
        text: str = "",
        message_id: str = "",
        route: str = "",
        language: str = "",
    ) -> ConsentResult:
        """Record a subscription (START by SMS, a web form...); ``was_active`` tells a repeat."""
        event = (number, ConsentKind.SUBSCRIBE.value, source, text, message_id, route, language, "")
        return await self._batcher.call(self._consent, event)

    async def unsubscribe(
        self, number: str, *, source: str, text: str = "", message_id: str = "", route: str = ""
    ) -> ConsentResult:
        """Record an opt-out (STOP); takes effect at once for every later fan-out."""
        event = (number, ConsentKind.UNSUBSCRIBE.value, source, text, message_id, route, "", "")
        return await self._batcher.call(self._consent, event)

    async def subscribe_many(
        self, numbers: Sequence[str], *, source: str, route: str = "", language: str = ""
    ) -> list[ConsentResult]:
        """`subscribe` for many numbers at once (a batch of web sign-ups, say)."""
        kind = ConsentKind.SUBSCRIBE.value
        events = [(n, kind, source, "", "", route, language, "") for n in numbers]
        return await self._batcher.call_many(self._consent, events)

    async def import_numbers(
        self, numbers: Sequence[str], *, source: str, language: str = ""
    ) -> list[ConsentResult]:
        """Record a list supplied by an operator as pending: each number becomes active
        only when the person confirms by text (START). Forgotten numbers are refused."""
        kind = ConsentKind.PENDING.value
        events = [(n, kind, source, "", "", "", language, self.number_hash(n)) for n in numbers]
        return await self._batcher.call_many(self._consent, events)

    async def unsubscribe_many(
        self, events: Sequence[tuple[str, str, str, str]], *, source: str
    ) -> list[ConsentResult]:
        """`unsubscribe` for many numbers at once: (number, text, message_id, route) each."""
        kind = ConsentKind.UNSUBSCRIBE.value
        ops = [(n, kind, source, x, m, r, "", "") for n, x, m, r in events]
        return await self._batcher.call_many(self._consent, ops)

    async def subscribe_each(
        self, events: Sequence[tuple[str, str, str, str, str]], *, source: str
    ) -> list[ConsentResult]:
        """`subscribe` for many numbers at once: (number, text, message_id, route, language)."""
        kind = ConsentKind.SUBSCRIBE.value
        ops = [(n, kind, source, x, m, r, lang, "") for n, x, m, r, lang in events]
        return await self._batcher.call_many(self._consent, ops)

    async def consent_states(self, subscribers: Sequence[int]) -> list[tuple[bool, bool]]:
        """(active, opted out) for each id, in one round trip: what a message may be sent."""
        if not subscribers:
            return []
        k = self._keys
        gets = [x for s in subscribers for x in ("GET", "u1", s)]
        active, stopped = await self._batcher.execute_many(
            [("BITFIELD_RO", k.sub_active, *gets), ("BITFIELD_RO", k.sub_stopped, *gets)]
        )
        return [(bool(a), bool(b)) for a, b in zip(active, stopped, strict=True)]

    async def languages(self, subscribers: Sequence[int]) -> list[str]:
        """The language each subscriber joined in ("" where unknown)."""
        if not subscribers:
            return []
        raw = await self._run("HMGET", self._keys.sub_lang, *subscribers)
        return ["" if r is None else r.decode() for r in raw]

    async def active_chunk(self, offset: int, size: int) -> tuple[list[int], int]:
        """Active subscriber ids in bytes [offset, offset + size) of the active bitmap (a
        fan-out's cursor moves through it), and how many bytes there were (0: past its end)."""
        chunk: bytes = await self._run("GETRANGE", self._keys.sub_active, offset, offset + size - 1)
        return bitmap_ids(chunk, offset), len(chunk)

    async def bitmap_length(self) -> int:
        """Bytes in the active bitmap (where a fan-out's cursor ends)."""
        return int(await self._run("STRLEN", self._keys.sub_active))

    async def is_active(self, subscriber: int) -> bool:
        return bool(await self._run("GETBIT", self._keys.sub_active, subscriber))

    async def active_count(self) -> int:
        return int(await self._run("BITCOUNT", self._keys.sub_active))

    async def counts(self) -> tuple[int, int, int]:
        """(active, pending, opted out) in one round trip."""
        k = self._keys
        replies = await self._batcher.execute_many(
            [("BITCOUNT", k.sub_active), ("BITCOUNT", k.sub_pending), ("BITCOUNT", k.sub_stopped)]
        )
        active, pending, stopped = (int(r) for r in replies)
        return active, pending, stopped

    async def is_pending(self, subscriber: int) -> bool:
        return bool(await self._run("GETBIT", self._keys.sub_pending, subscriber))

    async def route(self, subscriber: int) -> str:
        """The carrier/bind the subscriber last wrote in on ("" if never recorded)."""
        raw = await self._run("HGET", self._keys.sub_route, subscriber)
        return "" if raw is None else str(raw.decode())

    async def routes(self, subscribers: Sequence[int]) -> list[str]:
        """`route` for many subscribers in one call."""
        if not subscribers:
            return []
        raw = await self._run("HMGET", self._keys.sub_route, *subscribers)
        return ["" if r is None else r.decode() for r in raw]

    async def set_routes(self, routes: Sequence[tuple[int, str]]) -> None:
        """Record the carrier/bind each subscriber last wrote in on."""
        if routes:
            await self._run("HSET", self._keys.sub_route, *(x for pair in routes for x in pair))

    async def language(self, subscriber: int) -> str:
        raw = await self._run("HGET", self._keys.sub_lang, subscriber)
        return "" if raw is None else str(raw.decode())

    async def active_ids(self, *, chunk_bytes: int = 65536) -> AsyncIterator[list[int]]:
        """Active subscriber ids in ascending order, one list per chunk of the bitmap (fan-out)."""
        offset = 0
        while True:
            ids, length = await self.active_chunk(offset, chunk_bytes)
            if not length:
                return
            if ids:
                yield ids
            offset += length

    def number_hash(self, number: str) -> str:
        """Keyed hash kept for a forgotten number (blake2b keyed by the configured secret)."""
        return hashlib.blake2b(number.encode(), key=self._secret, digest_size=16).hexdigest()

    async def forget(self, number: str, *, source: str, message_id: str = "") -> int:
        """Erase a number: its id mappings, route, language, status and consent history.

        Its signatures stay (counts must not change) but point to an id that no longer maps to
        a number. Returns the id the number had, 0 if it was unknown.
        """
        k = self._keys
        keys = (
            k.sub_ids,
            k.sub_numbers,
            k.sub_active,
            k.sub_route,
            k.sub_lang,
            k.sub_last,
            k.sub_suppressed,
            k.sub_consent,
            k.sub_stopped,
            k.sub_pending,
        )
        script = Eval(
            SCRIPTS["forget"], keys, (number, self.number_hash(number), source, message_id)
        )
        subscriber = int(await self._batcher.execute(script))
        stale = [event.entry_id for event in await self.history(number)]
        for start in range(0, len(stale), _SCAN):
            await self._run("XDEL", k.sub_consent, *stale[start : start + _SCAN])
        return subscriber

    async def audit(self, kind: str, *, source: str, text: str) -> None:
        """Record an operator's act that concerns everyone's data (an unmasked export) in
        the consent log, with who and what; it names no number."""
        await self._run(
            "XADD", self._keys.sub_consent, "*", "i", 0, "e", kind, "s", source, "x", text
        )

    async def history(self, number: str) -> list[ConsentEvent]:
        """Every consent entry naming ``number``, oldest first (scans the log: an operator tool)."""
        found: list[ConsentEvent] = []
        start = "-"
        while True:
            entries = await self._run("XRANGE", self._keys.sub_consent, start, "+", "COUNT", _SCAN)
            found.extend(e for e in map(_event, entries) if e.number == number)
            if len(entries) < _SCAN:
                return found
            start = "(" + entries[-1][0].decode()

    async def log(self, *, after: str = "-", count: int = 1000) -> list[ConsentEvent]:
        """A page of the consent log; pass the last ``entry_id`` as ``after`` for the next."""
        start = after if after == "-" else f"({after}"
        return [
            _event(e)
            for e in await self._run("XRANGE", self._keys.sub_consent, start, "+", "COUNT", count)
        ]


def bitmap_ids(chunk: bytes, offset: int) -> list[int]:
    """The ids whose bits are set in ``chunk``, the bitmap's bytes from ``offset`` (Redis
    numbers bits from the most significant bit of each byte)."""
    base = offset * 8
    return [
        base + i * 8 + bit
        for i, byte in enumerate(chunk)
        if byte
        for bit in range(8)
        if byte & (0x80 >> bit)
    ]


def _event(entry: tuple[bytes, dict[bytes, bytes]]) -> ConsentEvent:
    entry_id, fields = entry
    text = entry_id.decode()
    return ConsentEvent(
        entry_id=text,
        at=int(text.partition("-")[0]) / 1000,
        kind=ConsentKind(fields[b"e"].decode()),
        subscriber=int(fields[b"i"]),
        number=fields.get(b"n", b"").decode(),
        source=fields.get(b"s", b"").decode(),
        text=fields.get(b"x", b"").decode(),
        message_id=fields.get(b"m", b"").decode(),
        number_hash=fields.get(b"h", b"").decode(),
    )
