"""ESME accounts: credentials, the bind types and bind count each may use, its rate limit,
and the queue of deliver_sm waiting for one of its receiver binds.

Refusals follow what carriers send: a wrong password or an unknown system_id gets
ESME_RBINDFAIL (saying which one was wrong helps an attacker), a bind type the account
may not use ESME_RINVBNDSTS, and one bind more than ``max_binds`` ESME_RALYBND.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import trio

from smpp.constants import CommandStatus
from smpp.simulator.config import AccountConfig, BindType
from smpp.simulator.throttle import SecondCounts, SlidingWindow, TokenBucket

if TYPE_CHECKING:
    from smpp.simulator.delivery import Delivery

__all__ = ["Account", "Accounts", "BindRefused", "Outbox"]

RECEIVING: Final = frozenset({"receiver", "transceiver"})


class BindRefused(Exception):
    """A bind is refused with ``status``; ``reason`` is the metrics label."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Outbox:
    """deliver_sm PDUs waiting for a free window slot on one of the account's receivers.

    While no receiver is bound they wait here, as a real SMSC stores them; at most
    ``limit`` are held and later ones are dropped (counted in ``dropped``), and the account's
    submits are refused while that many wait (``full``). While a receiver is bound nothing is
    dropped, and submits are refused only past ``queue_limit``: a client that takes its
    receipts, only more slowly than it submits, is not pushed back at the hold limit,
    which is about a client that takes none (and its receipts already due would then have
    had nowhere to go).
    """

    def __init__(self, limit: int, queue_limit: int | None = None) -> None:
        self.limit = limit
        self.queue_limit = max(limit, queue_limit or limit)
        self.ready: deque[Delivery] = deque()
        self.lot = trio.lowlevel.ParkingLot()
        self.dropped = 0
        self.receivers = 0
        """Receiver and transceiver binds of the account now up (``Account`` keeps it)."""

    def __len__(self) -> int:
        return len(self.ready)

    @property
    def full(self) -> bool:
        """True while the account's submits must be refused (ESME_RMSGQFUL)."""
        return len(self.ready) >= (self.queue_limit if self.receivers else self.limit)

    def put(self, item: Delivery) -> bool:
        if len(self.ready) >= self.limit and not self.receivers:
            self.dropped += 1
            return False
        self.ready.append(item)
        if self.lot:
            self.lot.unpark()
        return True


class Account:
    """One account's live state."""

    def __init__(
        self,
        index: int,
        config: AccountConfig,
        outbox_limit: int,
        now: float,
        queue_limit: int | None = None,
    ) -> None:
        self.index = index
        self.config = config
        self.system_id = config.system_id
        self.limiter: TokenBucket | SlidingWindow | None = None
        if config.strict:
            self.limiter = SlidingWindow(int(config.tps))
        elif config.tps > 0:
            self.limiter = TokenBucket(config.tps, config.burst or max(1.0, config.tps), now)
        self.accepted = SecondCounts()
        self.throttled_per_second = SecondCounts()
        self.submitted = 0
        self.throttled = 0
        self.queue_full = 0
        self.binds = 0
        self.receivers = 0
        self.outbox = Outbox(outbox_limit, queue_limit)

    def admit(self, now: float) -> bool:
        """Count a submit at ``now``; False when it must be throttled."""
        limiter = self.limiter
        if limiter is not None and not limiter.take(now):
            self.throttled += 1
            self.throttled_per_second.add(now)
            return False
        self.submitted += 1
        self.accepted.add(now)
        return True

    def submits_per_second(self) -> dict[int, int]:
        """Accepted submits per whole second of the simulator's clock."""
        return self.accepted.snapshot()

    def check_bind(self, password: str, bind_type: BindType) -> None:
        """Raises BindRefused unless this bind may go ahead."""
        if password != self.config.password:
            raise BindRefused(CommandStatus.ESME_RBINDFAIL, "bad_credentials")
        if bind_type not in self.config.bind_types:
            raise BindRefused(CommandStatus.ESME_RINVBNDSTS, "bind_type")
        if self.binds >= self.config.max_binds:
            raise BindRefused(CommandStatus.ESME_RALYBND, "too_many")

    def bound(self, bind_type: BindType) -> None:
        self.binds += 1
        self.receivers += bind_type in RECEIVING
        self.outbox.receivers = self.receivers

    def unbound(self, bind_type: BindType) -> None:
        self.binds -= 1
        self.receivers -= bind_type in RECEIVING
        self.outbox.receivers = self.receivers


class Accounts:
    """Every account, by system_id and by index (index 0 is the first configured)."""

    def __init__(
        self,
        configs: list[AccountConfig],
        outbox_limit: int,
        now: float,
        queue_limit: int | None = None,
    ) -> None:
        if not configs:
            raise ValueError("at least one account is needed")
        self._list = [Account(i, c, outbox_limit, now, queue_limit) for i, c in enumerate(configs)]
        self._by_id = {a.system_id: a for a in self._list}

    def __iter__(self) -> Iterator[Account]:
        return iter(self._list)

    def __getitem__(self, system_id: str) -> Account:
        return self._by_id[system_id]

    def at(self, index: int) -> Account:
        return self._list[index]

    def authenticate(self, system_id: str, password: str, bind_type: BindType) -> Account:
        """The account for this bind.

        Raises:
            BindRefused: unknown system_id or wrong password (ESME_RBINDFAIL), a bind type
                the account may not use (ESME_RINVBNDSTS), too many binds (ESME_RALYBND).
        """
        account = self._by_id.get(system_id)
        if account is None:
            raise BindRefused(CommandStatus.ESME_RBINDFAIL, "bad_credentials")
        account.check_bind(password, bind_type)
        return account
