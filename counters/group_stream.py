"""A Redis stream read through a consumer group: the one mechanism behind the outbound lanes
and the inbound log.

Entries carry one field, ``e``, holding an encoded record. Reading never blocks; an entry is
acknowledged *and deleted* once its work is done, so a stream holds only work in progress;
what a dead consumer left pending is claimed by another after ``min_idle``, so a live one
``hold``s what it keeps in memory for long; a restarted consumer re-reads its own pending
entries (``pending=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .batcher import Batcher
from .errors import StoreError
from .scripts import SCRIPTS, Eval

__all__ = ["Entry", "GroupStream"]

CLAIM_LOOKAHEAD = 1000
"""Pending entries ``claim`` looks through for other consumers' idle ones."""

Entry = tuple[str, bytes]
"""(entry id, encoded record)"""


def _entries(raw: Any) -> list[Entry]:
    """Entries from a raw reply (``counters.config.RAW_REPLIES``): ``[id, [field, value,
    ...]]`` each. Deleted entries still pending come back with no fields: nothing to do."""
    return [(entry_id.decode(), _record(fields)) for entry_id, fields in raw if fields]


def _record(fields: list[bytes]) -> bytes:
    if fields[0] == b"e":
        return fields[1]
    return dict(zip(fields[::2], fields[1::2], strict=True))[b"e"]


class GroupStream:
    """One stream key and the consumer group that works through it."""

    def __init__(self, batcher: Batcher, key: str, group: str) -> None:
        self._batcher = batcher
        self.key = key
        self.group = group

    async def ensure_group(self) -> None:
        """Create the stream and its group (idempotent)."""
        command = ("XGROUP", "CREATE", self.key, self.group, "0", "MKSTREAM")
        try:
            await self._batcher.execute(command)
        except StoreError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, consumer: str, *, count: int, pending: bool = False) -> list[Entry]:
        """New entries for ``consumer``; with ``pending``, those it read and never acked."""
        start = "0" if pending else ">"
        reply = await self._batcher.execute(
            (
                "XREADGROUP",
                "GROUP",
                self.group,
                consumer,
                "COUNT",
                count,
                "STREAMS",
                self.key,
                start,
            )
        )
        # RESP3 (redis-py's default) answers with a map of stream -> entries, RESP2 a list.
        streams = reply.items() if isinstance(reply, dict) else reply or ()
        return [entry for _, raw in streams for entry in _entries(raw)]

    async def claim(self, consumer: str, *, min_idle: float, count: int) -> list[Entry]:
        """Take over entries other consumers left pending longer than ``min_idle`` seconds
        (they died or hang); never ``consumer``'s own, which it may still hold."""
        look = max(count, CLAIM_LOOKAHEAD)
        call = Eval(
            SCRIPTS["claim"], (self.key,), (self.group, consumer, int(min_idle * 1000), count, look)
        )
        return _entries(await self._batcher.execute(call) or ())

    async def hold(self, consumer: str, entry_ids: Sequence[str]) -> list[str]:
        """Reset the idle time of entries ``consumer`` still owns, so that no other consumer
        takes them over while it works on them; returns the ids it no longer owns."""
        if not entry_ids:
            return []
        call = Eval(SCRIPTS["hold"], (self.key,), (self.group, consumer, *entry_ids))
        return [entry_id.decode() for entry_id in await self._batcher.execute(call) or ()]

    def done_commands(self, entry_ids: Sequence[str]) -> list[tuple[str, ...]]:
        """The commands that acknowledge and delete ``entry_ids`` (to pipeline with others)."""
        return [("XACK", self.key, self.group, *entry_ids), ("XDEL", self.key, *entry_ids)]

    async def done(self, entry_ids: Sequence[str]) -> int:
        """Acknowledge and delete finished entries; returns how many were pending."""
        if not entry_ids:
            return 0
        acked, _ = await self._batcher.execute_many(self.done_commands(entry_ids))
        return int(acked)
