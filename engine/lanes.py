"""What the outbox holds in memory: a message on its way, a carrier's backlog, and how one
part's outcome is judged."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import trio

from counters import Lane, OutboundMessage
from engine.bind import THROTTLE_STATUSES, CarrierBind
from smpp.constants import CommandStatus
from smpp.pdu import SubmitSMResp
from smpp.transport import Connection, NotWritten, Outcome

__all__ = ["PERMANENT_STATUSES", "SEVERITY", "CarrierQueue", "InFlight", "classify"]

PERMANENT_STATUSES = frozenset(
    {
        CommandStatus.ESME_RINVDSTADR,
        CommandStatus.ESME_RINVDSTTON,
        CommandStatus.ESME_RINVDSTNPI,
        CommandStatus.ESME_RINVSRCADR,
        CommandStatus.ESME_RINVSRCTON,
        CommandStatus.ESME_RINVSRCNPI,
        CommandStatus.ESME_RINVMSGLEN,
        CommandStatus.ESME_RINVESMCLASS,
        CommandStatus.ESME_RINVREGDLVFLG,
        CommandStatus.ESME_RX_P_APPN,
        CommandStatus.ESME_RX_R_APPN,
    }
)
"""Errors that no retry can fix: the number, the sender or the message is refused."""


def classify(outcome: Outcome) -> str:
    """'ok', 'unsent', 'throttled', 'temporary', 'permanent' or 'unknown' for one part's
    outcome ('unsent': the connection ended before the part left our write buffer)."""
    if isinstance(outcome, BaseException):
        return "unsent" if isinstance(outcome, NotWritten) else "unknown"
    status = outcome.command_status
    if status == CommandStatus.ESME_ROK and isinstance(outcome.response, SubmitSMResp):
        return "ok"
    if status in THROTTLE_STATUSES:
        return "throttled"
    if status in PERMANENT_STATUSES:
        return "permanent"
    return "temporary"


SEVERITY = {"ok": 0, "unsent": 1, "throttled": 1, "temporary": 2, "unknown": 3, "permanent": 4}


@dataclass(slots=True)
class InFlight:
    """One queued message on its way: its parts and their outcomes."""

    lane: Lane
    entry_id: str
    message: OutboundMessage
    carrier: str
    short_messages: list[bytes]
    data_coding: int
    udhi: bool
    read_at: float
    outcomes: list[Outcome | None] = field(default_factory=list)
    bind: CarrierBind | None = None
    conn: Connection | None = None
    """The bind's connection when the message was admitted (its window slots are reserved
    there)."""
    sent_at: float = 0.0
    parts: int = 0
    """How many PDUs to send (set from ``short_messages``; read on every step of the hot
    path)."""
    reference: int = 0
    """The concatenation reference in the parts' UDH (0: one part)."""
    part_numbers: list[int] = field(default_factory=list)
    """The message's part number (1-based) of each of ``short_messages``: after some parts
    were accepted, only the others are sent again."""
    total_parts: int = 0
    holding: int = 0
    """Window slots this message still holds on its bind: from its submit_sm_resp until
    Redis has its fate (see ``CarrierBind.unwritten``)."""

    def __post_init__(self) -> None:
        self.parts = len(self.short_messages)
        if not self.part_numbers:
            self.part_numbers = list(range(1, self.parts + 1))
        if not self.total_parts:
            self.total_parts = self.parts

    def keep_parts(self, indices: list[int]) -> None:
        """Only these parts (indices into ``short_messages``) remain to be sent."""
        self.short_messages = [self.short_messages[i] for i in indices]
        self.part_numbers = [self.part_numbers[i] for i in indices]
        self.parts = len(indices)
        self.outcomes = [None] * self.parts


class CarrierQueue:
    """In-memory backlog of one carrier: transactional first, then bulk."""

    def __init__(self) -> None:
        self.tx: deque[InFlight] = deque()
        self.bulk: deque[InFlight] = deque()
        self.lot = trio.lowlevel.ParkingLot()

    def __len__(self) -> int:
        return len(self.tx) + len(self.bulk)

    def put(self, item: InFlight) -> None:
        (self.tx if item.lane is Lane.TRANSACTIONAL else self.bulk).append(item)
        if self.lot:
            self.lot.unpark_all()

    def put_front(self, items: list[InFlight]) -> None:
        for item in reversed(items):
            (self.tx if item.lane is Lane.TRANSACTIONAL else self.bulk).appendleft(item)
        if self.lot:
            self.lot.unpark_all()

    def drain(self) -> list[InFlight]:
        """Everything queued (transactional first); the queue is left empty."""
        items = [*self.tx, *self.bulk]
        self.tx.clear()
        self.bulk.clear()
        return items

    def drop(self, entry_ids: set[str]) -> None:
        """Forget queued messages whose entries another engine took over."""
        self.tx = deque(i for i in self.tx if i.entry_id not in entry_ids)
        self.bulk = deque(i for i in self.bulk if i.entry_id not in entry_ids)

    async def take(self, most: int) -> list[InFlight]:
        while not self.tx and not self.bulk:
            await self.lot.park()
        batch: list[InFlight] = []
        for source in (self.tx, self.bulk):
            while source and len(batch) < most:
                batch.append(source.popleft())
        return batch
