"""One SMPP session, both roles, no I/O and no clock (the h11 pattern).

Bytes in: ``receive_data(data)`` buffers, ``next_event()`` returns one event or ``NEED_DATA``;
``receive_data(b"")`` means EOF. Bytes out: ``send(pdu, now)`` assigns the sequence number,
records the request in the window and returns the bytes to write; ``respond(event, ...)``
answers a request; ``reject(event)`` answers a PDU we could not take. Time is passed in as
``now`` by the caller, so timeouts are decided by ``expire(now)`` and are testable on a fake
clock.

The session owns the window: every response is paired with its request here, so callers
never match sequence numbers themselves (style guide item 7).
"""

from __future__ import annotations

from collections import Counter

from smpp.codec import HEADER, FrameReader, decode_body, encode_pdu, framed
from smpp.constants import (
    DEFAULT_MAX_PDU_SIZE,
    MAX_SEQUENCE,
    REQUESTS_WITHOUT_RESPONSE,
    RESPONSE_ID,
    CommandId,
    CommandStatus,
)
from smpp.errors import LocalProtocolError, RemoteProtocolError, UnparsableBodyError
from smpp.events import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    NeedData,
    PduRejected,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnexpectedResponse,
)
from smpp.pdu import PDU_CLASSES, GenericNack, Pdu
from smpp.state import ALLOWED, BIND_STATES, Role, SessionState

__all__ = ["Session"]

_RESPONSE_BIT = 0x80000000
_BIND_RESPONSES: dict[int, SessionState] = {
    cid.response_id: state for cid, state in BIND_STATES.items()
}
_STATE_CHANGING_RESPONSES = frozenset({*_BIND_RESPONSES, CommandId.UNBIND_RESP})


class Session:
    """The protocol state of one connection.

    Args:
        role: ESME (we bind) or MC (we accept binds).
        window: the most requests we may have outstanding; ``send`` refuses more.
        max_pdu_size: larger command_length values from the peer close the connection.
    """

    def __init__(
        self, role: Role, *, window: int = 64, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.role = role
        self.window = window
        self.state = SessionState.OPEN
        self._reader = FrameReader(max_pdu_size)
        self._eof = False
        self._closed_reported = False
        self._next_seq = 1
        self._pending: dict[int, tuple[Pdu, float, int]] = {}
        """Our outstanding requests: sequence -> (request, sent at, its response's command_id)."""
        self._unanswered: dict[int, int] = {}
        self.pdus_in: Counter[int] = Counter()
        """Whole PDUs received, by command_id (plain ints: the engine exports them)."""
        self.pdus_out: Counter[int] = Counter()
        """PDUs encoded for sending, by command_id."""
        self._set_state(SessionState.OPEN)

    # --- state ---------------------------------------------------------------------------

    def _set_state(self, state: SessionState) -> None:
        self.state = state
        self._we_may_send = ALLOWED[(self.role, state)]
        self._peer_may_send = ALLOWED[(self.role.peer, state)]

    def is_bound(self) -> bool:
        return self.state.is_bound

    @property
    def in_flight(self) -> int:
        """Our requests still waiting for their response."""
        return len(self._pending)

    @property
    def unanswered(self) -> int:
        """The peer's requests we have not answered yet."""
        return len(self._unanswered)

    def can_send(self) -> bool:
        """True when the window has a free slot."""
        return len(self._pending) < self.window

    # --- sending -------------------------------------------------------------------------

    def send(self, pdu: Pdu, now: float = 0.0, body: bytes | None = None) -> bytes:
        """Encode a request, assign its sequence number and take a window slot.

        ``body``: the PDU's body already encoded (``smpp.template``), which must be exactly
        what encoding ``pdu`` gives; only the header is then added here.

        Raises:
            LocalProtocolError: not allowed in this state, or the window is full.
        """
        cid = pdu.command_id
        if cid not in self._we_may_send:
            raise LocalProtocolError(
                f"can't send {cid.name.lower()} in state {self.state.name} as {self.role.name}",
                CommandStatus.ESME_RINVBNDSTS,
            )
        expects_response = cid not in REQUESTS_WITHOUT_RESPONSE
        if expects_response and len(self._pending) >= self.window:
            raise LocalProtocolError(f"window full: {len(self._pending)} requests outstanding")
        seq = self._allocate_sequence()
        data = encode_pdu(pdu, seq) if body is None else framed(body, cid, seq)
        self.pdus_out[cid] += 1
        if expects_response:
            self._pending[seq] = (pdu, now, RESPONSE_ID[cid])
        if cid == CommandId.UNBIND:
            self._set_state(SessionState.UNBINDING)
        return data

    def _allocate_sequence(self) -> int:
        seq = self._next_seq
        while seq in self._pending:
            seq = seq + 1 if seq < MAX_SEQUENCE else 1
        self._next_seq = seq + 1 if seq < MAX_SEQUENCE else 1
        return seq

    def respond(self, request: RequestReceived, pdu: Pdu | None = None, status: int = 0) -> bytes:
        """Answer ``request``; ``pdu`` defaults to the empty response of the right type."""
        req_cid = request.pdu.command_id
        if self._unanswered.pop(request.sequence_number, None) is None:
            raise LocalProtocolError(
                f"{req_cid.name.lower()} #{request.sequence_number} is not awaiting an answer"
            )
        resp_cid = req_cid.response_id
        if pdu is None:
            pdu = PDU_CLASSES[resp_cid]()
        elif pdu.command_id != resp_cid:
            raise LocalProtocolError(
                f"{pdu.command_id.name.lower()} does not answer {req_cid.name.lower()}"
            )
        data = encode_pdu(pdu, request.sequence_number, status)
        self.pdus_out[resp_cid] += 1
        if status == 0 and self.role is Role.MC and req_cid in BIND_STATES:
            self._set_state(BIND_STATES[req_cid])
        elif req_cid == CommandId.UNBIND:
            self._set_state(SessionState.CLOSED)
        return data

    def nack(self, request: RequestReceived, status: int) -> bytes:
        """Answer a parsed request with generic_nack instead of its own response (§4.3)."""
        if self._unanswered.pop(request.sequence_number, None) is None:
            raise LocalProtocolError(f"#{request.sequence_number} is not awaiting an answer")
        self.pdus_out[CommandId.GENERIC_NACK] += 1
        return encode_pdu(GenericNack(), request.sequence_number, status)

    def reject(self, event: PduRejected) -> bytes:
        """The answer to a rejected PDU: its own _resp for a known request, else generic_nack.

        Responses are never answered (returns b""). An unknown command_id is, top bit set
        or not: it gets generic_nack ESME_RINVCMDID (§4.3), which no peer answers.
        """
        cid = event.command_id
        if cid & _RESPONSE_BIT and cid in PDU_CLASSES:
            return b""
        self._unanswered.pop(event.sequence_number, None)
        if cid in PDU_CLASSES and cid not in REQUESTS_WITHOUT_RESPONSE:
            resp = PDU_CLASSES[CommandId(cid).response_id]()
        else:
            resp = GenericNack()
        self.pdus_out[resp.command_id] += 1
        return encode_pdu(resp, event.sequence_number, event.command_status)

    def framing_nack(self, error: RemoteProtocolError) -> bytes:
        """The generic_nack to send before closing on a fatal framing error (a command_length
        below 16 or above the maximum: ESME_RINVCMDLEN), so the peer learns why."""
        self.pdus_out[CommandId.GENERIC_NACK] += 1
        seq = self._reader.header_sequence()
        return encode_pdu(GenericNack(), seq, error.command_status_hint)

    @property
    def buffered(self) -> int:
        """Octets received that do not yet make a whole PDU."""
        return self._reader.buffered

    def enquire_link_due(self) -> bool:
        """Whether an enquire_link may be sent now (bound, or OPEN, and a slot free)."""
        return CommandId.ENQUIRE_LINK in self._we_may_send and self.can_send()

    # --- receiving -----------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray) -> None:
        """Feed received bytes; ``b""`` means the peer closed the connection."""
        if data:
            self._reader.feed(data)
        else:
            self._eof = True

    def next_event(self) -> Event | NeedData:
        """The next event, or NEED_DATA when no whole PDU is buffered.

        Raises:
            RemoteProtocolError: framing is lost (bad command_length); close the connection.
        """
        raw = self._reader.next_raw()
        if raw is None:
            if self._eof and not self._closed_reported:
                self._closed_reported = True
                self._set_state(SessionState.CLOSED)
                return ConnectionClosed()
            return NEED_DATA
        _, cid, status, seq = HEADER.unpack_from(raw)
        self.pdus_in[cid] += 1
        try:
            pdu = decode_body(raw, cid, seq)
        except UnparsableBodyError as exc:
            request = None
            entry = self._pending.get(seq) if cid & _RESPONSE_BIT else None
            if entry is not None and cid in (entry[2], CommandId.GENERIC_NACK):
                # Only a response of the awaited type (or generic_nack) settles the request,
                # as in _on_response; a garbled PDU of another type is not its answer.
                del self._pending[seq]
                request = entry[0]
            return PduRejected(cid, seq, exc.command_status_hint, str(exc), request)
        if cid & _RESPONSE_BIT:
            return self._on_response(seq, pdu, cid, status)
        if cid not in self._peer_may_send:
            return self._refuse(cid, seq)
        if cid not in REQUESTS_WITHOUT_RESPONSE:
            self._unanswered[seq] = cid
        if cid == CommandId.UNBIND:
            self._set_state(SessionState.UNBINDING)
        return RequestReceived(seq, pdu)

    def _refuse(self, cid: int, seq: int) -> PduRejected:
        if cid in BIND_STATES and self.state.is_bound:
            status = CommandStatus.ESME_RALYBND
        else:
            status = CommandStatus.ESME_RINVBNDSTS
        name = CommandId(cid).name.lower()
        return PduRejected(
            cid,
            seq,
            status,
            f"{name} not allowed in state {self.state.name} from {self.role.peer.name}",
        )

    def _on_response(
        self, seq: int, pdu: Pdu, cid: int, status: int
    ) -> ResponseReceived | UnexpectedResponse:
        entry = self._pending.get(seq)
        if entry is None:
            return UnexpectedResponse(seq, pdu, status)
        request, sent_at, expected = entry
        if cid != expected:
            if cid != CommandId.GENERIC_NACK:
                # A response of the wrong type for this sequence number: not an answer to it.
                return UnexpectedResponse(seq, pdu, status)
        elif cid in _STATE_CHANGING_RESPONSES:
            if cid == CommandId.UNBIND_RESP:
                self._set_state(SessionState.CLOSED)
            elif status == 0 and self.role is Role.ESME:
                self._set_state(_BIND_RESPONSES[cid])
        del self._pending[seq]
        return ResponseReceived(seq, request, pdu, status, sent_at)

    def expire(self, now: float, timeout: float) -> list[RequestTimedOut]:
        """Give up on requests sent more than ``timeout`` seconds before ``now``."""
        expired: list[RequestTimedOut] = []
        for seq, (pdu, sent_at, _) in self._pending.items():
            if sent_at + timeout > now:  # the same sum the caller sleeps until
                break
            expired.append(RequestTimedOut(seq, pdu, sent_at))
        for event in expired:
            del self._pending[event.sequence_number]
        return expired

    def oldest_sent_at(self) -> float | None:
        """When the oldest outstanding request was sent, or None."""
        for _, sent_at, _ in self._pending.values():
            return sent_at
        return None

    def abandon_outstanding(self) -> list[tuple[int, Pdu, float]]:
        """Drop every outstanding request (the connection is gone); their outcome is unknown."""
        dropped = [(seq, pdu, sent_at) for seq, (pdu, sent_at, _) in self._pending.items()]
        self._pending.clear()
        return dropped
