"""One ESME connection, seen from the message centre.

The transport calls ``Link.handle`` inline for every request the ESME sends (enquire_link
is answered by the transport itself, and requests the session state forbids are refused by
the session with ESME_RINVBNDSTS or ESME_RALYBND before they get here). The plain path,
bind then submit_sm -> submit_sm_resp, answers at once in the reader task: no task, no
allocation beyond the response and the centre's bookkeeping.

Each link runs a small nursery beside its connection: the bind deadline, the outbox pump
(for receiver and transceiver binds) that feeds deliver_sm into the window, the timer of
late answers when ``response_delay`` is set, and the timed faults of this bind.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import trio

from smpp.constants import CommandId, CommandStatus, TlvTag
from smpp.errors import LocalProtocolError
from smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSM,
    DataSM,
    Pdu,
    QuerySM,
    SubmitMulti,
    SubmitSM,
    SubmitSMResp,
)
from smpp.session import Session
from smpp.simulator import operations
from smpp.simulator.accounts import RECEIVING, Account, BindRefused
from smpp.simulator.carrier import MALFORMED_PDU, Answer
from smpp.simulator.config import BindType
from smpp.simulator.scheduler import Scheduler
from smpp.state import Role
from smpp.tlv import Tlv
from smpp.transport import (
    Connection,
    ConnectionLost,
    InboundRequest,
    LinkOptions,
    open_connection,
)

if TYPE_CHECKING:
    from smpp.simulator.server import Simulator

__all__ = ["Link"]

log = logging.getLogger(__name__)

_BIND_TYPES: Final[dict[int, BindType]] = {
    CommandId.BIND_TRANSMITTER: "transmitter",
    CommandId.BIND_RECEIVER: "receiver",
    CommandId.BIND_TRANSCEIVER: "transceiver",
}
_BIND_RESPONSES: Final = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
}
_SC_VERSION: Final = (Tlv(TlvTag.SC_INTERFACE_VERSION, b"\x34"),)
_PUMP_BATCH: Final = 256
_E = CommandStatus


class _Late:
    """An answer held back by ``response_delay``; ``serial`` names the accepted message
    whose submit_sm_resp this is (0 for any other answer)."""

    __slots__ = ("link", "pdu", "request", "serial", "status")

    def __init__(
        self, link: Link, request: InboundRequest, pdu: Pdu | None, status: int, serial: int
    ) -> None:
        self.link = link
        self.request = request
        self.pdu = pdu
        self.status = status
        self.serial = serial

    def fire(self, now: float) -> None:
        self.link.respond_late(self)


class Link:
    """The message centre's side of one ESME connection."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.centre = sim.centre
        self.carrier = sim.carrier
        self.stats = sim.centre.stats
        self.conn: Connection | None = None
        self._session: Session
        self.account: Account | None = None
        self.bind_type: BindType | None = None
        self.submits = 0
        self._answered = 0
        """The highest sequence number answered late so far (to count reordered answers)."""
        self._held: set[int] = set()
        """Serials of accepted messages whose submit_sm_resp is held back on this link."""
        self._early: list[InboundRequest] = []
        self._late = Scheduler()
        self._nursery: trio.Nursery | None = None
        self._bound = trio.Event()
        self._dispatch = {
            CommandId.BIND_TRANSMITTER: self._bind,
            CommandId.BIND_RECEIVER: self._bind,
            CommandId.BIND_TRANSCEIVER: self._bind,
            CommandId.SUBMIT_SM: self._submit,
            CommandId.DATA_SM: self._operation,
            CommandId.SUBMIT_MULTI: self._operation,
            CommandId.QUERY_SM: self._operation,
            CommandId.CANCEL_SM: self._operation,
            CommandId.UNBIND: self._unbind,
        }

    # --- lifetime ----------------------------------------------------------------------------

    async def run(self, stream: trio.abc.Stream) -> None:
        """Serve the connection until it closes; never raises (but Cancelled)."""
        config = self.centre.config
        options = LinkOptions(
            window=config.delivery.window,
            response_timeout=config.delivery.response_timeout,
            enquire_link_interval=config.enquire_link_interval,
            inactivity_timeout=config.inactivity_timeout,
        )
        self.sim.links.add(self)
        try:
            async with (
                open_connection(stream, Role.MC, options, handler=self.handle) as conn,
                trio.open_nursery() as nursery,
            ):
                self._nursery = nursery
                self._session = conn.session
                self.conn = conn
                nursery.start_soon(self._late.run)
                nursery.start_soon(self._bind_deadline)
                for request in self._early:
                    self.handle(request)
                self._early.clear()
                await conn.wait_closed()
                nursery.cancel_scope.cancel()
        except* (ConnectionLost, LocalProtocolError):
            pass  # the pump found the connection closing: nothing to report
        except* Exception as group:
            self.stats.faults["internal_error"] += 1
            log.error("connection failed", exc_info=group)
        finally:
            self.sim.links.discard(self)
            self.centre.held_responses.difference_update(self._held)
            if self.account is not None and self.bind_type is not None:
                self.account.unbound(self.bind_type)
                self.centre.changed.unpark_all()
                self.account = None
            if self.conn is not None:
                self.stats.rejected_pdus += self.conn.rejected_pdus
                self.stats.pdus_in.update(self.conn.session.pdus_in)
                self.stats.pdus_out.update(self.conn.session.pdus_out)

    async def _bind_deadline(self) -> None:
        with trio.move_on_after(self.centre.config.bind_timeout):
            await self._bound.wait()
            return
        self.stats.faults["bind_timeout"] += 1
        await self.close()

    async def close(self) -> None:
        """Close the connection without an unbind (after a bounded flush)."""
        if self.conn is not None:
            await self.conn.aclose()

    async def drop(self) -> None:
        """Fault: cut the connection."""
        self.carrier.count("dropped_bind")
        await self.close()

    async def unbind(self, grace: float = 5.0) -> None:
        """Unbind the ESME (waits at most ``grace`` for unbind_resp), then close."""
        conn = self.conn
        if conn is not None and not conn.closed and conn.session.is_bound():
            await conn.unbind(grace)
        await self.close()

    def send_malformed(self) -> None:
        """Fault: send a deliver_sm with a broken body."""
        self.carrier.count("malformed")
        self._write_raw(MALFORMED_PDU)

    def is_bound(self) -> bool:
        return self.account is not None and self.conn is not None and not self.conn.closed

    def _start(self, *args: object) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(*args)  # type: ignore[arg-type]

    # --- answering ---------------------------------------------------------------------------

    def respond(self, request: InboundRequest, pdu: Pdu | None = None, status: int = 0) -> None:
        try:
            request.respond(pdu, status)
        except LocalProtocolError:
            return  # the session moved on (unbound, closed) while the answer was held back

    def respond_late(self, late: _Late) -> None:
        """Send an answer ``response_delay`` held back. Counted as faults: answers that go
        out after the answer to a later request (``reordered_response``); the receipts that
        went out before their submit_sm_resp are counted by the receipt (``early_receipt``)."""
        sequence = late.request.event.sequence_number
        if sequence < self._answered:
            self.carrier.count("reordered_response")
        else:
            self._answered = sequence
        if late.serial:
            self._held.discard(late.serial)
            self.centre.held_responses.discard(late.serial)
        self.respond(late.request, late.pdu, late.status)

    def _answer(
        self, request: InboundRequest, pdu: Pdu | None, status: int = 0, serial: int = 0
    ) -> None:
        delay = self.carrier.delay() if self.carrier.active else 0.0
        if delay:
            if serial:
                self._held.add(serial)
                self.centre.held_responses.add(serial)
            self._late.at(trio.current_time() + delay, _Late(self, request, pdu, status, serial))
        else:
            self.respond(request, pdu, status)

    def _write_raw(self, data: bytes) -> None:
        if self.conn is not None:
            self.conn.send_raw(data)

    def _nack(self, request: InboundRequest, status: int) -> None:
        request.nack(status)

    # --- requests ----------------------------------------------------------------------------

    def handle(self, request: InboundRequest) -> None:
        """The transport's handler: one request from the ESME."""
        if self.conn is None:
            self._early.append(request)
            return
        method = self._dispatch.get(request.event.pdu.command_id)
        if method is None:
            self.respond(request, None, _E.ESME_RINVCMDID)
        else:
            method(request)

    def _bind(self, request: InboundRequest) -> None:
        pdu = request.event.pdu
        assert isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver)
        bind_type = _BIND_TYPES[pdu.command_id]
        try:
            if self.carrier.refusing(trio.current_time()):
                raise BindRefused(self.carrier.refuse_status, "refused")
            account = self.sim.centre.accounts.authenticate(pdu.system_id, pdu.password, bind_type)
        except BindRefused as refused:
            self.stats.binds[refused.reason] += 1
            self.respond(request, None, refused.status)
            return
        account.bound(bind_type)
        self.account, self.bind_type = account, bind_type
        self.stats.binds["ok"] += 1
        system_id = self.centre.config.system_id
        self.respond(
            request, _BIND_RESPONSES[pdu.command_id](system_id=system_id, tlvs=_SC_VERSION)
        )
        self._bound.set()
        self.centre.changed.unpark_all()
        if bind_type in RECEIVING:
            self._start(self._pump)
        faults = self.carrier.settings
        if faults.drop_bind_after_seconds is not None:
            self._start(self._after, faults.drop_bind_after_seconds, self.drop)
        if faults.unbind_after_seconds is not None:
            self._start(self._after, faults.unbind_after_seconds, self._fault_unbind)

    async def _after(self, seconds: float, action: object) -> None:
        await trio.sleep(seconds)
        await action()  # type: ignore[operator]

    async def _fault_unbind(self) -> None:
        self.carrier.count("unbind")
        await self.unbind()

    def _unbind(self, request: InboundRequest) -> None:
        self.respond(request)
        self._start(self.close)

    def _admit(self, request: InboundRequest, account: Account, now: float) -> bool:
        """Window, faults and throttle; False when the request has been dealt with.

        A full window, or an account whose deliver_sm queue is full (receipts and replies
        the ESME is not taking fast enough), gets ESME_RMSGQFUL: a carrier pushes back
        rather than accept messages whose receipts it would have to drop.
        """
        assert self.conn is not None
        if self.conn.session.unanswered > account.config.window or account.outbox.full:
            account.queue_full += 1
            self.respond(request, None, _E.ESME_RMSGQFUL)
            return False
        if self.carrier.active and not self._faults_pass(request):
            return False
        if not account.admit(now):
            self.respond(request, None, _E.ESME_RTHROTTLED)
            return False
        return True

    def _faults_pass(self, request: InboundRequest) -> bool:
        faults = self.carrier.settings
        if faults.malformed_after_messages == self.submits:
            self.send_malformed()
        limit = faults.drop_bind_after_messages
        if limit is not None and self.submits > limit:
            if self.submits == limit + 1:
                self._start(self.drop)
            return False
        answer = self.carrier.answer()
        if answer is Answer.NORMAL:
            return True
        if answer is Answer.NACK:
            self._nack(request, _E.ESME_RSYSERR)
        elif answer is Answer.ERROR:
            self._answer(request, None, self.carrier.error_status)
        return False  # WITHHOLD: never answered

    def _submit(self, request: InboundRequest) -> None:
        # The hot path: the checks of _admit inlined for the common case (no faults, window
        # not full, no limit or a token to spare), one response, no task switch.
        account = self.account
        assert account is not None
        pdu = request.event.pdu
        assert isinstance(pdu, SubmitSM)
        now = trio.current_time()
        self.submits += 1
        limiter = account.limiter
        if (
            self.carrier.active
            or self._session.unanswered > account.config.window
            or account.outbox.full
            or (limiter is not None and not limiter.take(now))
        ):
            # No token was taken (take() ran last, and failed): _admit decides and counts.
            if not self._admit(request, account, now):
                return
        else:
            account.submitted += 1
            account.accepted.add(now)
        serial = self.centre.accept(account, pdu, now)
        resp = SubmitSMResp(message_id=format(serial, "x"))
        if self.carrier.active:
            self._answer(request, resp, serial=serial)
            return
        request.respond(resp, 0)  # the session is bound: this cannot be refused

    def _operation(self, request: InboundRequest) -> None:
        """data_sm, submit_multi, query_sm, cancel_sm: see ``operations``."""
        account = self.account
        assert account is not None
        pdu = request.event.pdu
        now = trio.current_time()
        if isinstance(pdu, QuerySM):
            answer = operations.query(self.centre, account, pdu, now)
        elif isinstance(pdu, CancelSM):
            answer = operations.cancel(self.centre, account, pdu, now)
        else:
            self.submits += 1
            if not self._admit(request, account, now):
                return
            if isinstance(pdu, DataSM):
                answer = operations.data_sm(self.centre, account, pdu, now)
            else:
                assert isinstance(pdu, SubmitMulti)
                answer = operations.submit_multi(self.centre, account, pdu, now)
        self._answer(request, *answer)

    # --- deliver_sm towards the ESME ---------------------------------------------------------

    async def _pump(self) -> None:
        """Feed the account's outbox into this bind's window, until the link closes.

        While slots are free it sends synchronously, up to a batch per turn; it awaits
        only for an empty outbox or a full window.
        """
        conn, account = self.conn, self.account
        assert conn is not None
        assert account is not None
        outbox = account.outbox
        ready = outbox.ready
        while not conn.closed:
            if not ready:
                await outbox.lot.park()
                continue
            if not conn.can_send():
                item = ready.popleft()
                try:
                    await conn.send(item.pdu, item)  # waits for a slot
                except BaseException:
                    ready.appendleft(item)  # not sent: first in line again
                    raise
                item.sending()
            try:
                for _ in range(_PUMP_BATCH):
                    if not ready or not conn.can_send():
                        break
                    item = ready[0]
                    conn.send_now(item.pdu, item)
                    ready.popleft()
                    item.sending()
            except (ConnectionLost, LocalProtocolError):
                return  # the link is closing; the item stays queued for another bind
            await trio.lowlevel.checkpoint()
