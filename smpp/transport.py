"""Trio transport: a thin loop around a sans-IO ``Session`` (style guide items 9-13).

One ``Connection`` per TCP (or TLS) stream runs three tasks in its own nursery:

* the reader: ``receive_some(64 KiB)``, feed the session, drain every complete PDU;
* the writer: joins every PDU queued since its last turn into one ``send_all``. Measured on
  these machines, one ``send_all`` per PDU caps Trio near 23k request/response pairs per
  second; coalescing reaches 245k-480k, so callers never write to the stream themselves;
* the timer: response timeouts and enquire_link keepalive, sleeping until the next deadline.

Requests wait for a free window slot; their caller awaits the paired response. Requests from
the peer arrive on ``Connection.requests`` (or a synchronous handler) and are answered with
``InboundRequest.respond``. Every wait has a deadline.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from smpp.constants import CommandId, CommandStatus, status_name
from smpp.errors import RemoteProtocolError
from smpp.events import (
    NEED_DATA,
    ConnectionClosed,
    PduRejected,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnexpectedResponse,
)
from smpp.keepalive import Close, Keepalive, SendEnquireLink
from smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter, EnquireLink, Pdu, Unbind
from smpp.session import Session
from smpp.state import Role

__all__ = [
    "BindError",
    "Connection",
    "ConnectionLost",
    "InboundRequest",
    "LinkOptions",
    "NotWritten",
    "Outcome",
    "ResponseCallback",
    "ResponseTimeout",
    "connect",
    "open_connection",
]

RECEIVE_SIZE = 64 * 1024
YIELD_EVERY = 64
"""PDUs handled from one read before the reader lets the writer send what they queued."""
HIGH_WATER = 1024 * 1024
"""Stop reading while this many octets wait to be written: a peer that does not read our
answers gets TCP back-pressure, and our memory stays bounded."""


class ConnectionLost(Exception):
    """The connection closed before the operation completed; its outcome is unknown."""


class NotWritten(ConnectionLost):
    """The connection closed while the request still waited in our write buffer: it never
    reached the peer, so sending it again cannot make a duplicate."""


class ResponseTimeout(Exception):
    """No response within the response timeout; the request's outcome is unknown."""


class BindError(Exception):
    """The message centre refused the bind."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {status_name(status)}")
        self.status = status


Outcome = ResponseReceived | BaseException
ResponseCallback = Callable[[Outcome], None]


class _Waiter:
    """A callback that wakes one awaiting task."""

    __slots__ = ("event", "result")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: Outcome | None = None

    def __call__(self, outcome: Outcome) -> None:
        self.result = outcome
        self.event.set()


class InboundRequest:
    """A request from the peer; answer it exactly once with ``respond``."""

    __slots__ = ("_conn", "event")

    def __init__(self, conn: Connection, event: RequestReceived) -> None:
        self._conn = conn
        self.event = event

    @property
    def pdu(self) -> Pdu:
        return self.event.pdu

    def respond(self, pdu: Pdu | None = None, status: int = 0) -> None:
        """Queue the answer (non-blocking; the writer sends it on its next turn)."""
        self._conn._queue(self._conn.session.respond(self.event, pdu, status))

    def nack(self, status: int) -> None:
        """Answer with generic_nack carrying ``status`` instead of the request's own _resp."""
        self._conn._queue(self._conn.session.nack(self.event, status))


RequestHandler = Callable[[InboundRequest], None]


class Connection:
    """A running SMPP connection. Create it with ``open_connection`` or ``connect``."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        session: Session,
        *,
        response_timeout: float,
        keepalive: Keepalive,
        handler: RequestHandler | None,
        inbound_capacity: int,
    ) -> None:
        self.stream = stream
        self.session = session
        self.response_timeout = response_timeout
        self.keepalive = keepalive
        self._handler = handler
        self._callbacks: dict[int, ResponseCallback] = {}
        self._slot_lot = trio.lowlevel.ParkingLot()
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._unwritten: set[int] = set()
        """Sequence numbers of our requests still in ``_out`` (not yet handed to the
        stream): if the connection ends now, they provably never left."""
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._drained = trio.lowlevel.ParkingLot()
        self._timer_scope: trio.CancelScope | None = None
        self._inbound_send, self.requests = trio.open_memory_channel[InboundRequest](
            inbound_capacity
        )
        self.closed = False
        self.close_reason = ""
        self.unexpected_responses = 0
        self.probes_sent = 0
        self.received_at = trio.current_time()
        """When the last read returned: the time of every PDU it carried (one clock read
        per read, not per PDU)."""
        self.rejected_pdus = 0
        self._cancel_scope = trio.CancelScope()
        self._finished = trio.Event()

    # --- requests ----------------------------------------------------------------------------

    async def request(self, pdu: Pdu) -> ResponseReceived:
        """Send a request and await its response (any command_status).

        Raises:
            ConnectionLost: the connection ended first (outcome unknown).
            ResponseTimeout: no response within ``response_timeout`` (outcome unknown).
        """
        waiter = _Waiter()
        await self.send(pdu, waiter)
        await waiter.event.wait()
        if isinstance(waiter.result, BaseException):
            raise waiter.result
        assert waiter.result is not None
        return waiter.result

    async def send(self, pdu: Pdu, on_done: ResponseCallback) -> None:
        """Wait for a free window slot, then send ``pdu``; ``on_done`` gets the outcome.

        The callback runs in the reader task, once: with the ResponseReceived, or with
        ConnectionLost / ResponseTimeout / RemoteProtocolError. It must not block. This is
        the high-throughput path: no task switch per request.
        """
        while not self.session.can_send():
            if self.closed:
                raise ConnectionLost(self.close_reason or "connection closed")
            await self._slot_lot.park()
        self.send_now(pdu, on_done)

    def send_now(
        self,
        pdu: Pdu,
        on_done: ResponseCallback,
        now: float | None = None,
        body: bytes | None = None,
    ) -> None:
        """Send ``pdu`` if a window slot is free (check ``can_send()`` first). ``now`` saves
        reading the clock per PDU when the caller sends a batch; ``body`` is the PDU's body
        when the caller encoded it already (``Session.send``).

        Raises:
            ConnectionLost: the connection is closed.
            LocalProtocolError: the window is full, or the state forbids this request.
        """
        if self.closed:
            raise ConnectionLost(self.close_reason or "connection closed")
        if now is None:
            now = trio.current_time()
        was_idle = self.session.in_flight == 0
        data = self.session.send(pdu, now, body)
        seq = int.from_bytes(data[12:16], "big")
        self._callbacks[seq] = on_done
        self._unwritten.add(seq)
        self._queue(data)
        if was_idle:
            self._wake_timer(now + self.response_timeout)

    def can_send(self) -> bool:
        """True when a request can go out now without waiting."""
        return not self.closed and self.session.can_send()

    def send_nowait(self, pdu: Pdu) -> None:
        """Send a request that gets no response (outbind, alert_notification)."""
        self._queue(self.session.send(pdu, trio.current_time()))

    async def bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> Pdu:
        """Bind; returns the bind response.

        Raises:
            BindError: the message centre answered with an error status.
        """
        result = await self.request(pdu)
        if result.command_status != CommandStatus.ESME_ROK:
            raise BindError(result.command_status)
        return result.response

    async def unbind(self, grace: float = 5.0) -> None:
        """Orderly unbind: wait at most ``grace`` seconds for the unbind_resp, then close.
        (Not bound, e.g. the peer is unbinding already: just close.)"""
        if self.session.is_bound():
            with trio.move_on_after(grace):
                try:
                    await self.request(Unbind())
                except (ConnectionLost, ResponseTimeout):
                    pass
        await self.aclose()

    # --- writing -----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write octets exactly as given, bypassing the session (for test tools that must
        misbehave, e.g. a simulator sending a malformed PDU). Never needed by a client."""
        self._queue(data)

    def _queue(self, data: bytes) -> None:
        if not data or self.closed:
            return
        self._out.append(data)
        self._out_bytes += len(data)
        if self._writer_lot:
            self._writer_lot.unpark()

    async def _writer(self) -> None:
        while True:
            while not self._out:
                await self._writer_lot.park()
            data = b"".join(self._out)
            self._out.clear()
            self._unwritten.clear()  # from here on, the peer may get them
            await self.stream.send_all(data)
            self._out_bytes -= len(data)
            self._drained.unpark_all()

    async def drain(self) -> None:
        """Wait until everything queued so far has been handed to the stream."""
        while self._out_bytes and not self.closed:
            await self._drained.park()

    # --- reading -----------------------------------------------------------------------------

    async def _reader(self) -> None:
        session = self.session
        while True:
            if self._out_bytes > HIGH_WATER:
                await self.drain()
            data = await self.stream.receive_some(RECEIVE_SIZE)
            now = self.received_at = trio.current_time()
            session.receive_data(data)
            handled = 0
            while True:
                handled += 1
                if not handled % YIELD_EVERY and self._out:
                    # Let the writer send the answers queued so far: a 64 KiB read holds
                    # hundreds of PDUs, and the first answer would wait for the last.
                    # (Before taking the next event: one taken is always handled.)
                    await trio.lowlevel.checkpoint()
                try:
                    event = session.next_event()
                except RemoteProtocolError as exc:
                    # Framing is lost: say why (generic_nack, ESME_RINVCMDLEN), then close.
                    self._queue(session.framing_nack(exc))
                    with trio.move_on_after(1.0):
                        await self.drain()
                    raise
                if event is NEED_DATA:
                    break
                if handled == 1:
                    self.keepalive.received(now)  # a whole PDU: the link is alive
                if isinstance(event, ResponseReceived):
                    self._settle(event.sequence_number, event)
                elif isinstance(event, RequestReceived):
                    await self._dispatch(event)
                elif isinstance(event, PduRejected):
                    self._on_rejected(event)
                elif isinstance(event, UnexpectedResponse):
                    self.unexpected_responses += 1
                elif isinstance(event, ConnectionClosed):
                    raise ConnectionLost("peer closed the connection")
            if self.keepalive.partial(now, session.buffered > 0):
                self._wake_timer(self.keepalive.next_deadline())

    def _wake_timer(self, deadline: float) -> None:
        if self._timer_scope is not None:
            self._timer_scope.deadline = min(self._timer_scope.deadline, deadline)

    async def _dispatch(self, event: RequestReceived) -> None:
        request = InboundRequest(self, event)
        if event.pdu.command_id == CommandId.ENQUIRE_LINK:
            request.respond()
        elif self._handler is not None:
            self._handler(request)
        else:
            await self._inbound_send.send(request)

    def _on_rejected(self, event: PduRejected) -> None:
        self.rejected_pdus += 1
        self._queue(self.session.reject(event))
        if event.request is not None:
            self._settle(event.sequence_number, RemoteProtocolError(event.reason))

    def _settle(self, seq: int, outcome: Outcome) -> None:
        callback = self._callbacks.pop(seq, None)
        if self._slot_lot:
            self._slot_lot.unpark()
        if isinstance(outcome, ResponseReceived) and (
            outcome.request.command_id == CommandId.ENQUIRE_LINK
        ):
            self.keepalive.probe_answered(trio.current_time())
        if callback is not None:
            callback(outcome)

    # --- timers ------------------------------------------------------------------------------

    async def _timer(self, nursery: trio.Nursery) -> None:
        while True:
            now = trio.current_time()
            for expired in self.session.expire(now, self.response_timeout):
                self._settle(expired.sequence_number, _timeout(expired))
            action = self.keepalive.tick(now)
            if isinstance(action, SendEnquireLink):
                nursery.start_soon(self._probe)
            elif isinstance(action, Close):
                raise ConnectionLost(action.reason)
            deadline = self.keepalive.next_deadline()
            oldest = self.session.oldest_sent_at()
            if oldest is not None:
                deadline = min(deadline, oldest + self.response_timeout)
            with trio.move_on_at(deadline) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            self._timer_scope = None

    async def _probe(self) -> None:
        if self.session.enquire_link_due():
            self.probes_sent += 1
            try:
                await self.request(EnquireLink())
            except (ConnectionLost, ResponseTimeout):
                pass

    # --- lifetime ----------------------------------------------------------------------------

    async def _run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._reader)
                    nursery.start_soon(self._writer)
                    nursery.start_soon(self._timer, nursery)
                    task_status.started()
        except* (ConnectionLost, trio.BrokenResourceError, trio.ClosedResourceError) as group:
            self.close_reason = str(group.exceptions[0])
        except* RemoteProtocolError as group:
            self.close_reason = f"protocol error: {group.exceptions[0]}"
        finally:
            self._shut()
            await trio.aclose_forcefully(self.stream)
            self._finished.set()

    def _shut(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = self.close_reason or "closed"
        callbacks = list(self._callbacks.items())
        self._callbacks.clear()
        self.session.abandon_outstanding()
        for seq, callback in callbacks:
            lost = NotWritten if seq in self._unwritten else ConnectionLost
            callback(lost(self.close_reason))
        self._slot_lot.unpark_all()
        self._inbound_send.close()
        self._drained.unpark_all()

    async def wait_closed(self) -> None:
        """Return once the connection has ended, for whatever reason."""
        await self._finished.wait()

    async def aclose(self) -> None:
        """Flush (bounded) what is queued, then close the connection."""
        with trio.move_on_after(1.0):
            await self.drain()
        self.close_reason = self.close_reason or "closed locally"
        self._cancel_scope.cancel()
        await self._finished.wait()


def _timeout(event: RequestTimedOut) -> ResponseTimeout:
    name = event.request.command_id.name.lower()
    return ResponseTimeout(f"{name} #{event.sequence_number}: no response")


@dataclass(frozen=True)
class LinkOptions:
    """How a connection behaves; every wait it does is bounded by one of these."""

    window: int = 64
    response_timeout: float = 10.0
    enquire_link_interval: float = 30.0
    inactivity_timeout: float | None = None
    inbound_capacity: int = 1024
    pdu_timeout: float | None = None
    """How long one PDU's octets may take to arrive whole (default: response_timeout)."""


@asynccontextmanager
async def open_connection(
    stream: trio.abc.Stream,
    role: Role,
    options: LinkOptions = LinkOptions(),
    *,
    handler: RequestHandler | None = None,
) -> AsyncIterator[Connection]:
    """Run an SMPP connection over ``stream`` for the duration of the block."""
    keepalive = Keepalive(
        trio.current_time(),
        interval=options.enquire_link_interval,
        response_timeout=options.response_timeout,
        inactivity_timeout=options.inactivity_timeout,
        pdu_timeout=options.pdu_timeout,
    )
    conn = Connection(
        stream,
        Session(role, window=options.window),
        response_timeout=options.response_timeout,
        keepalive=keepalive,
        handler=handler,
        inbound_capacity=options.inbound_capacity,
    )
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(conn._run)
            try:
                yield conn
            finally:
                conn.close_reason = conn.close_reason or "closed locally"
                conn._cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The nursery runs only the connection, which handles its own errors: a lone
        # exception here is the caller's own and goes back to it unwrapped.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


@asynccontextmanager
async def connect(
    host: str,
    port: int,
    options: LinkOptions = LinkOptions(),
    *,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    handler: RequestHandler | None = None,
) -> AsyncIterator[Connection]:
    """Connect to a message centre as an ESME (TCP, or TLS with ``ssl_context``)."""
    with trio.fail_after(connect_timeout):
        if ssl_context is not None:
            stream: trio.abc.Stream = await trio.open_ssl_over_tcp_stream(
                host, port, ssl_context=ssl_context
            )
        else:
            stream = await trio.open_tcp_stream(host, port)
    async with open_connection(stream, Role.ESME, options, handler=handler) as conn:
        yield conn
