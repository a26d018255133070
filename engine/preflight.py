"""Last checks on outbound messages as they are read to be sent.

Consent is checked at sending time, not only when a fan-out queued the message: a person who
texts STOP while an appeal is still fanning out gets nothing more (``requires="active"``),
and one who signed and then stopped gets no thank-you (``requires="not_stopped"``). Thank-yous
are templates rendered here, so the count they carry is the count when they go out. An
appeal's own messages (the appeal, its outcome) are held while the operator has it paused and
dropped once it is cancelled; the appeals' flags are read at most every ``FLAGS_TTL``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import msgspec

from counters import OutboundMessage, QueuedMessage, Store
from engine.campaigns.quiet import QuietHours
from engine.campaigns.texts import format_count, render

__all__ = ["FLAGS_TTL", "Preflight"]

FLAGS_TTL = 0.5
"""Seconds an appeal's paused/cancelled flags are trusted: pause and cancel take effect
within this (plus what the outbox holds in memory, about half a second of sending)."""
_FANNED_OUT = frozenset({"appeal", "outcome"})


class Preflight:
    """Splits messages read from a lane into those to send (rendered) and those refused."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.monotonic,
        *,
        quiet: QuietHours | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.clock = clock
        self.quiet = quiet
        self.wall = wall
        self._flags: dict[int, tuple[str, float, float]] = {}
        """appeal -> ("paused" | "cancelled" | "", when the appeal closes, when read)"""

    async def check(
        self, entries: Sequence[QueuedMessage]
    ) -> tuple[list[QueuedMessage], list[tuple[QueuedMessage, str]]]:
        """(messages to send, with templates rendered; refused messages with the reason).

        Raises:
            StoreUnavailable: consent or counts could not be read; send nothing of these.
        """
        checked = [
            e
            for e in entries
            if e.message.requires or e.message.template or e.message.kind in _FANNED_OUT
        ]
        if not checked:
            return list(entries), []
        messages = [e.message for e in checked]
        halted = await self._halted(messages)
        refusals = await self._refusals(messages)
        refused = [
            halt or why or self._quiet(m)
            for m, halt, why in zip(messages, halted, refusals, strict=True)
        ]
        rendered = await self._render([e.message for e in checked])
        fixed = {e.entry_id: (m, why) for e, m, why in zip(checked, rendered, refused, strict=True)}
        send: list[QueuedMessage] = []
        skip: list[tuple[QueuedMessage, str]] = []
        for entry in entries:
            message, why = fixed.get(entry.entry_id, (entry.message, ""))
            if why:
                skip.append((entry, why))
            elif message is entry.message:
                send.append(entry)
            else:
                send.append(QueuedMessage(entry_id=entry.entry_id, message=message))
        return send, skip

    async def _halted(self, messages: list[OutboundMessage]) -> list[str]:
        """ "paused" or "cancelled" for the messages of appeals the operator stopped, and
        "expired" for an appeal's messages once it has closed (held by quiet hours or a
        pause until then: not sent stale)."""
        now = self.clock()
        wanted = {m.appeal for m in messages if m.appeal and m.kind in _FANNED_OUT}
        stale = sorted(
            a for a in wanted if now - self._flags.get(a, ("", 0.0, -1e9))[2] > FLAGS_TTL
        )
        if stale:
            halts = await self.store.appeals.halts(stale)
            metas = await self.store.appeals.metas(stale)
            for appeal, flag, meta in zip(stale, halts, metas, strict=True):
                closes = meta.closes_at if meta is not None else 0.0
                self._flags[appeal] = (flag, closes, now)
        if len(self._flags) > 1000:
            self._flags = {a: f for a, f in self._flags.items() if a in wanted}
        wall = self.wall()
        out = []
        for m in messages:
            if m.appeal not in wanted or m.kind not in _FANNED_OUT:
                out.append("")
                continue
            flag, closes, _ = self._flags[m.appeal]
            expired = m.kind == "appeal" and closes and wall >= closes
            out.append(flag or ("expired" if expired else ""))
        return out

    def _quiet(self, message: OutboundMessage) -> str:
        """ "quiet:<Unix time>" for an appeal or outcome due in the recipient's quiet hours."""
        if self.quiet is None or message.kind not in _FANNED_OUT:
            return ""
        until = self.quiet.until(message.to, self.wall())
        return "" if until is None else f"quiet:{until}"

    async def _refusals(self, messages: list[OutboundMessage]) -> list[str]:
        """Why each message may not go out ("" where it may)."""
        ids = [m.subscriber for m in messages if m.requires]
        states = dict(zip(ids, await self.store.subscribers.consent_states(ids), strict=True))
        reasons = []
        for m in messages:
            active, stopped = states.get(m.subscriber, (False, False))
            if m.requires == "active" and not active:
                reasons.append("not_subscribed" if not stopped else "opted_out")
            elif m.requires == "not_stopped" and stopped:
                reasons.append("opted_out")
            else:
                reasons.append("")
        return reasons

    async def _render(self, messages: list[OutboundMessage]) -> list[OutboundMessage]:
        appeals = sorted({m.appeal for m in messages if m.template})
        counts = dict(zip(appeals, await self.store.appeals.counts(appeals), strict=True))
        out = []
        for m in messages:
            if not m.template:
                out.append(m)
                continue
            count = counts.get(m.appeal, 0)
            values = {
                "count": format_count(count, m.language),
                "others": format_count(max(count - 1, 0), m.language),
                "appeal": m.appeal,
            }
            out.append(msgspec.structs.replace(m, text=render(m.text, values), template=False))
        return out
