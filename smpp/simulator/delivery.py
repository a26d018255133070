"""One deliver_sm on its way to the ESME: sent, answered, retried with back-off, or given up.

A ``Delivery`` waits in its account's ``Outbox`` until a receiver bind has a free window
slot, is sent with the transport's callback path (no task per message), and is itself the
callback. Like a real SMSC, the message centre retries a deliver_sm that the ESME answers
with a temporary error or does not answer at all (timeout, connection lost): after
``retry_initial * retry_factor ** (attempt - 1)`` seconds, at most ``retry_max``, until
``max_attempts``. A permanent error ends it at once. Retries make duplicates possible, as
on a real network: the ESME must dedupe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio

from smpp.constants import CommandStatus
from smpp.events import ResponseReceived
from smpp.pdu import DeliverSM

if TYPE_CHECKING:
    from smpp.simulator.accounts import Account
    from smpp.simulator.centre import MessageCentre
    from smpp.transport import Outcome

__all__ = ["TEMPORARY_ERRORS", "Delivery"]

TEMPORARY_ERRORS: Final = frozenset(
    {
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RSYSERR,
    }
)
"""Answers after which the deliver_sm is tried again; any other error is final."""


class Delivery:
    """A deliver_sm, its attempts so far, and the ledger record it belongs to (or -1)."""

    __slots__ = ("account", "attempts", "centre", "pdu", "record")

    def __init__(
        self, centre: MessageCentre, account: Account, pdu: DeliverSM, record: int = -1
    ) -> None:
        self.centre = centre
        self.account = account
        self.pdu = pdu
        self.record = record
        self.attempts = 0

    def sending(self) -> None:
        """Called just before each attempt."""
        self.attempts += 1
        if self.record >= 0:
            self.centre.ledger.attempted(self.record)

    def __call__(self, outcome: Outcome) -> None:
        """The transport's callback: the answer, or why there is none."""
        if self.centre.changed:  # waiters run after this callback has counted the outcome
            self.centre.changed.unpark_all()
        stats = self.centre.stats
        if type(outcome) is ResponseReceived:
            status = outcome.command_status
            if status == 0:
                stats.deliveries["ok"] += 1
                if self.record >= 0:
                    self.centre.ledger.acked(self.record, trio.current_time())
                return
            if status not in TEMPORARY_ERRORS:
                stats.deliveries["rejected"] += 1
                return
        self.retry()

    def retry(self) -> None:
        """Try again after the back-off, or give up after the last attempt."""
        config = self.centre.config.delivery
        stats = self.centre.stats
        if self.attempts >= config.max_attempts:
            stats.deliveries["given_up"] += 1
            return
        stats.deliveries["retried"] += 1
        backoff = config.retry_initial * config.retry_factor ** max(self.attempts - 1, 0)
        self.centre.scheduler.at(trio.current_time() + min(backoff, config.retry_max), self)

    def fire(self, now: float) -> None:
        """The back-off is over: queue again (dropped, and counted, if the outbox is full)."""
        self.account.outbox.put(self)
