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


class CarrierPool:
    """The binds of one carrier."""

    def __init__(self, name: str, binds: Sequence[CarrierBind]) -> None:
        self.name = name
        self.binds = list(binds)
        self._lot = trio.lowlevel.ParkingLot()

    def senders(self) -> list[CarrierBind]:
        return [bind for bind in self.binds if bind.can_send]

    def any_up(self) -> bool:
        return any(bind.is_up() for bind in self.senders())

    def pick(self, parts: int, now: float) -> tuple[CarrierBind | None, float]:
        """A bind that took room and tokens for ``parts`` PDUs, else (None, seconds to wait).

        The wait is ``inf`` when no bind can take the message at all (all down, windows full):
        then only ``notify`` (a bind up, a slot freed) ends it.
        """
        best: CarrierBind | None = None
        wait = math.inf
        for bind in self.senders():
            delay = bind.admit_delay(parts, now)
            if delay is None:
                continue
            if delay == 0.0 and (best is None or bind.free_window() > best.free_window()):
                best = bind
            wait = min(wait, delay)
        if best is not None and best.admit(parts, now):
            return best, 0.0
        return None, wait

    async def acquire(self, parts: int) -> CarrierBind:
        """Wait until some bind admits a whole message of ``parts`` PDUs."""
        while True:
            bind, wait = self.pick(parts, trio.current_time())
            if bind is not None:
                return bind
            await self.wait_capacity(wait)

    async def wait_capacity(self, at_most: float) -> None:
        """Park until ``notify`` or ``at_most`` seconds pass."""
        with trio.move_on_after(at_most if math.isfinite(at_most) else math.inf):
            await self._lot.park()

    def notify(self) -> None:
        """Something changed (bind up, slot freed): let waiting senders look again."""
        if self._lot:
            self._lot.unpark_all()
