"""Unique reach: HyperLogLogs of participants per day, per month and all time (UTC).

Approximate by design (about 0.8% standard error, 12 KB each): for dashboards and reports, never
for dedupe, since ``PFADD``'s return value misses most new members once the structure is large
(see design.md). The JA batch adds its participants here in the same pipeline as the signatures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from .batcher import Batcher, Command, Single
from .keys import Keys
from .records import encode
from .scripts import SCRIPTS, Eval

__all__ = ["Reach", "reach_commands", "utc_day"]

_EPOCH = dt.date(1970, 1, 1)


def utc_day(at: float) -> int:
    """Days since 1970-01-01 (UTC) of a Unix time: cheap to group a batch by."""
    return int(at // 86400)


def reach_commands(keys: Keys, members_by_day: Mapping[int, Iterable[int]]) -> list[Command]:
    """One ``reach.lua`` call per UTC day: add its members to that day, its month and all time."""
    commands: list[Command] = []
    for day, members in members_by_day.items():
        date = _EPOCH + dt.timedelta(days=day)
        keys_ = (keys.reach_day(date), keys.reach_month(date), keys.reach_all)
        commands.append(Eval(SCRIPTS["reach"], keys_, (encode(list(set(members))),)))
    return commands


class Reach:
    """Approximate unique participants (PFCOUNT)."""

    def __init__(self, batcher: Batcher, keys: Keys) -> None:
        self._batcher = batcher
        self._keys = keys
        self._count: Single[str, int] = Single(lambda key: ("PFCOUNT", key), int)
        self._add: Single[Command, int] = Single(lambda command: command, int)

    async def day(self, day: dt.date) -> int:
        return await self._batcher.call(self._count, self._keys.reach_day(day))

    async def month(self, day: dt.date) -> int:
        """Participants in the month that contains ``day``."""
        return await self._batcher.call(self._count, self._keys.reach_month(day))

    async def all_time(self) -> int:
        return await self._batcher.call(self._count, self._keys.reach_all)

    async def add(self, subscribers: Sequence[int], at: float) -> None:
        """Count participants that took part other than by signing (the JA path does it itself)."""
        if subscribers:
            for command in reach_commands(self._keys, {utc_day(at): subscribers}):
                await self._batcher.call(self._add, command)
