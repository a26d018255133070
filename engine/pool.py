"""A carrier's binds, and the choice of bind for each message.

Sends are spread over the binds that are up by free window and tokens: the bind that can take
the message now with the most free window wins. A bind that is down takes nothing; a carrier
whose binds are all down keeps its messages queued (``wait_capacity`` parks until a bind comes
up, a window slot frees, or tokens are due).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import trio

from engine.bind import CarrierBind

__all__ = ["CarrierPool"]


class _Slot:
    __slots__ = ("bind", "room", "taken")

    def __init__(self, bind: CarrierBind, room: int) -> None:
        self.bind = bind
        self.room = room
        self.taken = 0


class CarrierPool:
    """The binds of one carrier."""

    def __init__(self, name: str, binds: Sequence[CarrierBind]) -> None:
        self.name = name
        self.binds = list(binds)
        self._lot = trio.lowlevel.ParkingLot()

    def senders(self) -> list[CarrierBind]:
        return [bind for bind in self.binds if bind.can_send]

    def sending(self) -> list[CarrierBind]:
        """The binds that can take a submit now (up, bound, not stopping)."""
        return [bind for bind in self.binds if bind.sendable()]

    def admit(self, parts: list[int], now: float) -> tuple[list[CarrierBind], float]:
        """Binds for a run of messages (``parts`` PDUs each), in order, taking window room
        and tokens for each; the run stops at the first message no bind can take.

        Returns the binds, one per admitted message, and (when not all were admitted) the
        seconds until tokens are due (``inf``: only ``notify`` helps: binds down, windows full).
        Each bind's room is worked out once per call: this runs per batch, not per message.
        """
        slots = [_Slot(bind, bind.room(now)) for bind in self.senders()]
        slots = [slot for slot in slots if slot.room > 0]
        chosen: list[CarrierBind] = []
        if slots:
            turn, count = 0, len(slots)
            for need in parts:
                for k in range(count):
                    slot = slots[(turn + k) % count]
                    if slot.room >= need:
                        slot.room -= need
                        slot.taken += need
                        chosen.append(slot.bind)
                        turn = (turn + k + 1) % count
                        break
                else:
                    break
            for slot in slots:
                if slot.taken:
                    slot.bind.take(slot.taken, now)
        if len(chosen) == len(parts):
            return chosen, 0.0
        return chosen, self._wait(parts[len(chosen)], now)

    def _wait(self, need: int, now: float) -> float:
        wait = math.inf
        for bind in self.senders():
            delay = bind.admit_delay(need, now)
            if delay is not None:
                wait = min(wait, delay)
        return wait

    async def wait_capacity(self, at_most: float) -> None:
        """Park until ``notify`` or ``at_most`` seconds pass."""
        with trio.move_on_after(at_most if math.isfinite(at_most) else math.inf):
            await self._lot.park()

    def notify(self) -> None:
        """Something changed (bind up, slot freed): let waiting senders look again."""
        if self._lot:
            self._lot.unpark_all()
