"""The fuzzer's checker (``bench.fuzz``): sessions under test, and every outcome held
against the reference (``bench._fuzz_spec``).

A ``Lane`` is one Session in a role and a home state, with the spec's view of it beside:
its state and our outstanding requests. A ``Fuzzer`` (one per task, one PRNG) makes each
PDU, feeds it to a fresh ``FrameReader`` and ``decode_pdu`` (the codec) and to a lane
(the session), and compares: the codec's status hint, the session's event, the answer
(``respond``/``reject``), the state. A disagreement raises ``WrongAnswer``; it and any
exception the code raises are counted in the ``Tally`` and the first few kept as findings.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from bench._fuzz_mutate import Mutator, Seed
from bench._fuzz_spec import OK, Cut, Frame, cut, may_issue, refusal
from smpp.codec import HEADER, FrameReader, decode_pdu, encode_body, encode_pdu
from smpp.codec import Frame as CodecFrame
from smpp.constants import (
    DEFAULT_MAX_PDU_SIZE,
    GENERIC_NACK_BIT,
    HEADER_SIZE,
    REQUESTS_WITHOUT_RESPONSE,
    RESPONSE_ID,
    CommandId,
    CommandStatus,
    status_name,
)
from smpp.errors import RemoteProtocolError, UnparsableBodyError
from smpp.events import (
    NEED_DATA,
    ConnectionClosed,
    PduRejected,
    RequestReceived,
    ResponseReceived,
    UnexpectedResponse,
)
from smpp.pdu import (
    PDU_CLASSES,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSM,
    EnquireLink,
    Pdu,
    SubmitSM,
)
from smpp.session import Session
from smpp.state import Role, SessionState

__all__ = ["FINDINGS_KEPT", "LANES", "Fuzzer", "Lane", "Tally", "WrongAnswer", "status_label"]

WINDOW: Final = 8
IN_FLIGHT: Final = 4
"""Requests each session keeps outstanding, so that responses can be paired."""
FINDINGS_KEPT: Final = 10
MAX_PDU_SIZE: Final = DEFAULT_MAX_PDU_SIZE

_BIT: Final = GENERIC_NACK_BIT
_TX, _RX, _TRX = SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX
_OPEN = SessionState.OPEN
_BINDS: Final[dict[int, tuple[type[Pdu], SessionState]]] = {
    CommandId.BIND_TRANSMITTER: (BindTransmitter, _TX),
    CommandId.BIND_RECEIVER: (BindReceiver, _RX),
    CommandId.BIND_TRANSCEIVER: (BindTransceiver, _TRX),
}
_BIND_FOR: Final = {state: cls for cls, state in _BINDS.values()}
LANES: Final = [(role, state) for role in Role for state in (_TX, _RX, _TRX, _OPEN)]


# --- the result --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a run (or one task of it) saw: counts, and the first findings."""

    pdus: int = 0
    frames: int = 0
    valid_decoded: int = 0
    rejected: Counter[int] = field(default_factory=Counter)
    fatal_framing: int = 0
    unfinished: int = 0
    events: Counter[str] = field(default_factory=Counter)
    leniencies: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    unexpected_exceptions: int = 0
    wrong_answers: int = 0
    findings: list[dict[str, str]] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts to these (findings: while fewer than FINDINGS_KEPT)."""
        self.pdus += other.pdus
        self.frames += other.frames
        self.valid_decoded += other.valid_decoded
        self.rejected.update(other.rejected)
        self.fatal_framing += other.fatal_framing
        self.unfinished += other.unfinished
        self.events.update(other.events)
        self.leniencies.update(other.leniencies)
        self.mutations.update(other.mutations)
        self.unexpected_exceptions += other.unexpected_exceptions
        self.wrong_answers += other.wrong_answers
        self.findings += other.findings[: FINDINGS_KEPT - len(self.findings)]


class WrongAnswer(Exception):
    """The code under test disagreed with the reference (not raised by the code itself)."""


# --- one session under test --------------------------------------------------------------------


class Lane:
    """A Session in one role and home state, and what the spec says about it meanwhile:
    its state and our outstanding requests (sequence -> expected response id, request)."""

    def __init__(self, role: Role, home: SessionState) -> None:
        self.role = role
        self.home = home
        self.name = f"{role.name.lower()}/{home.name.lower()}"
        message: Pdu = SubmitSM(destination_addr="447700900123", short_message=b"JA")
        if role is Role.MC:
            message = DeliverSM(source_addr="447700900123", short_message=b"JA")
        self._requests: tuple[Pdu, ...] = (EnquireLink(), message)
        self.reset()

    def reset(self) -> None:
        self.session = Session(self.role, window=WINDOW, max_pdu_size=MAX_PDU_SIZE)
        self.state = _OPEN
        self.pending: dict[int, tuple[int, Pdu]] = {}
        if self.home is not _OPEN:
            self._bind()

    def _bind(self) -> None:
        bind = _BIND_FOR[self.home]()
        if self.role is Role.MC:
            self.session.receive_data(encode_pdu(bind, 1))
            request = self.session.next_event()
            assert isinstance(request, RequestReceived), request
            self.session.respond(request)
        else:
            self.session.send(bind)
            self.session.receive_data(encode_pdu(PDU_CLASSES[RESPONSE_ID[bind.command_id]](), 1))
            self.session.next_event()
        self.state = self.home
        if self.session.state is not self.home:
            raise WrongAnswer(f"{self.name}: bind gave {self.session.state}")

    def top_up(self, rng: random.Random) -> None:
        """Send requests until IN_FLIGHT are outstanding (those the spec allows here)."""
        while len(self.pending) < IN_FLIGHT:
            pdu = rng.choice(self._requests)
            cid = pdu.command_id
            if not may_issue(self.role, self.state, cid):
                pdu, cid = self._requests[0], CommandId.ENQUIRE_LINK
            data = self.session.send(pdu)
            self.pending[HEADER.unpack_from(data)[3]] = (RESPONSE_ID[cid], pdu)
        if self.session.in_flight != len(self.pending):
            raise WrongAnswer(f"{self.name}: in_flight")


# --- one task ----------------------------------------------------------------------------------


class Fuzzer:
    """Feeds mutated PDUs to the codec and to the lanes, and checks every outcome."""

    def __init__(self, corpus: Sequence[Seed], seed: int) -> None:
        self.rng = random.Random(seed)
        self.mutator = Mutator(corpus, self.rng)
        self.lanes = [Lane(role, state) for role, state in LANES]
        self.tally = Tally()

    def run(self, count: int) -> Tally:
        for _ in range(count):
            self.one()
        return self.tally

    def one(self) -> None:
        rng, tally = self.rng, self.tally
        lane = rng.choice(self.lanes)
        data, names = self._make(lane)
        tally.pdus += 1
        tally.mutations.update(names or ("none",))
        try:
            plan = cut(data, MAX_PDU_SIZE)
            self.check_codec(data, plan)
            self.check_session(lane, data, plan)
        except (WrongAnswer, RemoteProtocolError) as exc:
            # A protocol error where the spec sees none (or another) is a wrong answer.
            tally.wrong_answers += 1
            self._finding("wrong answer", f"{type(exc).__name__}: {exc}", lane, data, names)
            lane.reset()
        except Exception as exc:  # the point of the exercise: record, never stop
            tally.unexpected_exceptions += 1
            self._finding("exception", f"{type(exc).__name__}: {exc}", lane, data, names)
            lane.reset()

    def _make(self, lane: Lane) -> tuple[bytes, tuple[str, ...]]:
        """A PDU; sometimes a response (or generic_nack) carrying one of lane's sequences."""
        rng = self.rng
        if not lane.pending or rng.random() >= 0.15:
            return self.mutator.pdu()
        seq, (expected, _) = rng.choice(list(lane.pending.items()))
        data, names = self.mutator.pdu(expected if rng.random() < 0.85 else CommandId.GENERIC_NACK)
        if len(data) >= HEADER_SIZE:
            data = data[:12] + seq.to_bytes(4, "big") + data[16:]
        return data, names

    def _finding(
        self, kind: str, detail: str, lane: Lane, data: bytes, names: Iterable[str]
    ) -> None:
        if len(self.tally.findings) < FINDINGS_KEPT:
            self.tally.findings.append(
                {
                    "kind": kind,
                    "detail": detail,
                    "lane": lane.name,
                    "mutations": ",".join(names),
                    "input_hex": data.hex(),
                }
            )

    # --- (a) the codec -------------------------------------------------------------------------

    def check_codec(self, data: bytes, plan: Cut) -> None:
        reader = FrameReader(MAX_PDU_SIZE)
        reader.feed(data)
        for frame in plan.frames:
            raw = reader.next_raw()
            if raw != data[frame.start : frame.end]:
                raise WrongAnswer(f"codec cut {raw!r} at {frame}")
            assert raw is not None
            self._decode(raw, frame)
        if plan.fatal_at is None:
            if reader.next_raw() is not None:
                raise WrongAnswer("codec: a frame the spec does not see")
        else:
            _expect_framing_error("codec", reader.next_raw)

    def _decode(self, raw: bytes, frame: Frame) -> None:
        tally = self.tally
        tally.frames += 1
        decoded: CodecFrame | None = None
        try:
            decoded = decode_pdu(raw)
            status = OK
        except UnparsableBodyError as exc:
            status = exc.command_status_hint
        if status != frame.status:
            raise WrongAnswer(f"codec: {status_label(status)}, spec: {status_label(frame.status)}")
        if decoded is None:
            return
        tally.valid_decoded += 1
        if frame.leniency is not None:
            tally.leniencies[frame.leniency.value] += 1
        if len(raw) > HEADER_SIZE or not decoded.command_id & _BIT:
            body = encode_body(decoded.pdu)
            if body != raw[HEADER_SIZE:]:
                raise WrongAnswer(f"round trip: {raw.hex()} -> {body.hex()}")

    # --- (b) the session -----------------------------------------------------------------------

    def check_session(self, lane: Lane, data: bytes, plan: Cut) -> None:
        rng, session, frames = self.rng, lane.session, plan.frames
        if not data:
            return  # nothing arrived (receive_data(b"") would mean EOF)
        stops = [len(data)]
        if len(data) > 1 and rng.random() < 1 / 16:
            stops = sorted({*rng.sample(range(1, len(data)), min(3, len(data) - 1)), len(data)})
        fed = done = 0
        for stop in stops:
            session.receive_data(data[fed:stop])
            fed = stop
            while done < len(frames) and frames[done].end <= fed:
                self.on_frame(lane, data[frames[done].start : frames[done].end], frames[done])
                done += 1
            if plan.fatal_at is not None and fed >= plan.fatal_at + 4:
                _expect_framing_error("session", session.next_event)
                self.tally.fatal_framing += 1
                lane.reset()
                return
            event = session.next_event()
            if event is not NEED_DATA:
                raise WrongAnswer(f"session: {event!r}, spec: need more data")
        if plan.partial:
            self.tally.unfinished += 1
            if rng.random() < 0.25:
                session.receive_data(b"")
                event = session.next_event()
                if not isinstance(event, ConnectionClosed):
                    raise WrongAnswer(f"EOF gave {event!r}")
                self.tally.events["connection_closed"] += 1
            lane.reset()
        elif lane.state is not lane.home:
            lane.reset()
        else:
            lane.top_up(rng)

    def on_frame(self, lane: Lane, raw: bytes, frame: Frame) -> None:
        _, cid, status, seq = HEADER.unpack_from(raw)
        event = lane.session.next_event()
        if cid & _BIT:
            self._on_response(lane, event, frame, cid, status, seq)
        elif frame.status != OK:
            self._on_rejected(lane, event, cid, seq, frame.status, None)
        elif may_issue(lane.role.peer, lane.state, cid):
            self._on_request(lane, event, cid, seq)
        else:
            self._on_rejected(lane, event, cid, seq, refusal(lane.state, cid), None)
        self.tally.events[type(event).__name__] += 1
        if lane.session.state is not lane.state:
            raise WrongAnswer(f"state {lane.session.state}, spec {lane.state}")

    def _on_response(
        self, lane: Lane, event: object, frame: Frame, cid: int, status: int, seq: int
    ) -> None:
        entry = lane.pending.get(seq)
        ours = entry is not None and cid in (entry[0], CommandId.GENERIC_NACK)
        request = lane.pending.pop(seq)[1] if entry is not None and ours else None
        if frame.status != OK:
            self._on_rejected(lane, event, cid, seq, frame.status, request)
        elif request is not None:
            if not (
                isinstance(event, ResponseReceived)
                and event.request is request
                and (event.sequence_number, event.command_status) == (seq, status)
            ):
                raise WrongAnswer(f"session: {event!r}, spec: the response to #{seq}")
        else:
            if not (
                isinstance(event, UnexpectedResponse)
                and (event.sequence_number, event.command_status) == (seq, status)
            ):
                raise WrongAnswer(f"session: {event!r}, spec: an unexpected response #{seq}")

    def _on_request(self, lane: Lane, event: object, cid: int, seq: int) -> None:
        if not (
            isinstance(event, RequestReceived)
            and event.sequence_number == seq
            and event.pdu.command_id == cid
        ):
            raise WrongAnswer(f"session: {event!r}, spec: request 0x{cid:08X} #{seq}")
        assert isinstance(event, RequestReceived)
        if cid == CommandId.UNBIND:
            lane.state = SessionState.UNBINDING
        if cid in REQUESTS_WITHOUT_RESPONSE:
            return
        answer = lane.session.respond(event)
        if HEADER.unpack_from(answer)[1:] != (RESPONSE_ID[cid], 0, seq):
            raise WrongAnswer(f"respond {answer!r}")
        if cid == CommandId.UNBIND:
            lane.state = SessionState.CLOSED
        elif cid in _BINDS and lane.role is Role.MC:
            lane.state = _BINDS[cid][1]

    def _on_rejected(
        self, lane: Lane, event: object, cid: int, seq: int, status: int, request: Pdu | None
    ) -> None:
        if not (
            isinstance(event, PduRejected)
            and (event.command_id, event.sequence_number) == (cid, seq)
            and event.command_status == status
        ):
            raise WrongAnswer(f"session: {event!r}, spec: {status_label(status)}")
        assert isinstance(event, PduRejected)
        if event.request is not request:
            raise WrongAnswer(f"rejected response paired with {event.request!r}")
        self.tally.rejected[status] += 1
        answer = lane.session.reject(event)
        if cid & _BIT and cid in PDU_CLASSES:
            if answer:
                raise WrongAnswer(f"a response was answered: {answer!r}")
            return
        if len(answer) < HEADER_SIZE:
            raise WrongAnswer(f"no answer to 0x{cid:08X}, spec {status_label(status)}")
        answered = decode_pdu(answer)
        expected_id = CommandId.GENERIC_NACK
        if cid in PDU_CLASSES and cid not in REQUESTS_WITHOUT_RESPONSE and not cid & _BIT:
            expected_id = RESPONSE_ID[cid]
        got = (answered.command_id, answered.command_status, answered.sequence_number)
        if got != (expected_id, status, seq):
            raise WrongAnswer(
                f"answer {_describe(*got)}, spec {_describe(expected_id, status, seq)}"
            )


def _expect_framing_error(where: str, call: Callable[[], object]) -> None:
    """``call()`` must refuse a bad command_length: fatal, ESME_RINVCMDLEN (§4.3)."""
    try:
        got = call()
    except RemoteProtocolError as exc:
        error = exc
    else:
        raise WrongAnswer(f"{where}: {got!r}, spec: a bad command_length, fatal")
    if not error.fatal or error.command_status_hint != CommandStatus.ESME_RINVCMDLEN:
        raise WrongAnswer(f"{where}: {error!r}, fatal={error.fatal}; spec: ESME_RINVCMDLEN, fatal")


def _describe(command_id: int, status: int, seq: int) -> str:
    name = CommandId(command_id).name.lower() if command_id in PDU_CLASSES else hex(command_id)
    return f"{name} {status_label(status)} #{seq}"


def status_label(status: int) -> str:
    """ "OK", or the status's name in the spec (a hex string for a reserved value)."""
    return "OK" if status == OK else status_name(status)
