"""What SMPP 3.4 says a receiver answers to a frame: the fuzzer's reference (``bench.fuzz``).

Written apart from the code under test, so that the two can disagree: this module reads the
PDU layout table (``smpp.pdu.FIELDS``, the spec's §4 tables as data) with a plain
interpreter, not the generated decoders of ``smpp._compile``, and states the session rules
(table 2-1) per command, not per (role, state) as ``smpp.state`` does.

The rules, with the spec's reason for each status:

* framing (§3.2, §4.3): a ``command_length`` below 16 or above the receiver's maximum is
  fatal: generic_nack ESME_RINVCMDLEN, and the stream cannot be trusted any further;
* an unknown ``command_id`` (§4.3): generic_nack ESME_RINVCMDID, whatever its top bit;
* mandatory fields read in order (§4), the first defect decides:
  - the body ends inside a field, or a PDU without optional part has octets left over:
    the length is wrong, ESME_RINVCMDLEN;
  - a C-octet string with no NUL within its maximum size (§3.1): the field's own status
    (ESME_RINVSRCADR for source_addr...); with no NUL before the body ends, and fewer
    octets left than the maximum, the body is what is short: ESME_RINVCMDLEN;
  - ``sm_length`` over 254 (§4.4.1: short_message is 0-254 octets) or past the end of
    the body: ESME_RINVMSGLEN;
  - ``number_of_dests`` over 254: ESME_RINVNUMDESTS; a ``dest_flag`` other than 1 or 2:
    ESME_RINVDESTFLAG (§4.5.1.1); ``no_unsuccess`` over 254 (there are no more
    destinations than that): ESME_RINVNUMDESTS;
* optional part (§5.3, TLVs): a TLV header or value cut by the end of the body:
  ESME_RINVOPTPARSTREAM;
* a response may be header-only (16 octets), whatever its status (§3.2);
* a request the sender may not issue in the receiver's state (table 2-1): ESME_RINVBNDSTS,
  or ESME_RALYBND for a bind on a bound session.

One thing the engine accepts on purpose is counted, not failed (``Leniency``): a standard
TLV whose value length is outside the spec's size for its tag. 3.4 has a status for it
(ESME_RINVPARLEN) but does not oblige a receiver to check TLVs it does not use; ``smpp.tlv``
keeps TLVs raw and types them on request, and the receipt reader ignores a bad one rather
than lose the receipt.
"""

from __future__ import annotations

import struct
from enum import Enum
from typing import Final, NamedTuple

from smpp._wire import COctet, DestAddresses, Int, ShortMessage, UnsuccessSmes
from smpp.constants import GENERIC_NACK_BIT, HEADER_SIZE, CommandId, CommandStatus
from smpp.pdu import FIELDS, PDU_CLASSES
from smpp.state import Role, SessionState
from smpp.tlv import TLV_TYPES

__all__ = ["OK", "Cut", "Frame", "Leniency", "cut", "frame_status", "may_issue", "refusal"]

OK: Final = 0
S = CommandStatus
_TL: Final = struct.Struct(">HH")
_U32: Final = struct.Struct(">I")


class Leniency(Enum):
    """Accepted although the spec's letter would allow a refusal (see the module doc)."""

    TLV_LENGTH = "tlv_length_outside_spec"


class Frame(NamedTuple):
    """One PDU cut from a stream: ``data[start:end]`` and the status the spec gives it."""

    start: int
    end: int
    status: int
    leniency: Leniency | None


class Cut(NamedTuple):
    """A byte string cut into frames: ``fatal_at`` is where a bad command_length stops the
    stream; ``partial`` says octets of an unfinished PDU remain."""

    frames: list[Frame]
    fatal_at: int | None
    partial: bool


# --- the mandatory fields, as simple operations ----------------------------------------------

_INT, _CSTR, _SM, _DESTS, _UNSUCCESS = range(5)
_Op = tuple[int, int, int]
"""(kind, size or max_size, status for an over-long C-octet string)."""


def _ops(cid: CommandId) -> tuple[tuple[_Op, ...], bool]:
    ops: list[_Op] = []
    for _, kind in FIELDS[cid]:
        if isinstance(kind, Int):
            ops.append((_INT, kind.size, 0))
        elif isinstance(kind, COctet):
            ops.append((_CSTR, kind.max_size, kind.status))
        elif isinstance(kind, ShortMessage):
            ops.append((_SM, 0, 0))
        elif isinstance(kind, DestAddresses):
            ops.append((_DESTS, 0, 0))
        elif isinstance(kind, UnsuccessSmes):
            ops.append((_UNSUCCESS, 0, 0))
    return tuple(ops), "tlvs" in PDU_CLASSES[cid].__struct_fields__


_LAYOUTS: Final = {int(cid): _ops(cid) for cid in FIELDS}


class _Bad(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def _cstr(data: bytes, pos: int, end: int, max_size: int, status: int) -> int:
    """The position after a C-octet string of at most ``max_size`` octets, NUL included."""
    nul = data.find(0, pos, min(pos + max_size, end))
    if nul >= 0:
        return nul + 1
    raise _Bad(S.ESME_RINVCMDLEN if end - pos < max_size else status)


def _need(pos: int, size: int, end: int) -> int:
    """The position after ``size`` more octets; ESME_RINVCMDLEN if the body ends first."""
    if pos + size > end:
        raise _Bad(S.ESME_RINVCMDLEN)
    return pos + size


def _u8(data: bytes, pos: int, end: int) -> int:
    if pos >= end:
        raise _Bad(S.ESME_RINVCMDLEN)
    return data[pos]


def _dests(data: bytes, pos: int, end: int) -> int:
    count = _u8(data, pos, end)
    pos += 1
    if count > 254:
        raise _Bad(S.ESME_RINVNUMDESTS)
    for _ in range(count):
        flag = _u8(data, pos, end)
        pos += 1
        if flag == 1:
            pos = _cstr(data, _need(pos, 2, end), end, 21, S.ESME_RINVDSTADR)
        elif flag == 2:
            pos = _cstr(data, pos, end, 21, S.ESME_RINVDLNAME)
        else:
            raise _Bad(S.ESME_RINVDESTFLAG)
    return pos


def _unsuccess(data: bytes, pos: int, end: int) -> int:
    count = _u8(data, pos, end)
    pos += 1
    if count > 254:
        raise _Bad(S.ESME_RINVNUMDESTS)
    for _ in range(count):
        pos = _cstr(data, _need(pos, 2, end), end, 21, S.ESME_RINVDSTADR)
        pos = _need(pos, 4, end)
    return pos


def _tlvs(data: bytes, pos: int, end: int) -> Leniency | None:
    leniency = None
    while pos < end:
        if pos + 4 > end:
            raise _Bad(S.ESME_RINVOPTPARSTREAM)
        tag, length = _TL.unpack_from(data, pos)
        pos += 4 + length
        if pos > end:
            raise _Bad(S.ESME_RINVOPTPARSTREAM)
        spec = TLV_TYPES.get(tag)
        if spec is not None and not spec[1] <= length <= spec[2]:
            leniency = Leniency.TLV_LENGTH
    return leniency


def frame_status(data: bytes, start: int, end: int) -> tuple[int, Leniency | None]:
    """The status SMPP 3.4 gives the PDU in ``data[start:end]`` (its header included)."""
    cid = _U32.unpack_from(data, start + 4)[0]
    layout = _LAYOUTS.get(cid)
    if layout is None:
        return S.ESME_RINVCMDID, None
    if end - start == HEADER_SIZE and cid & GENERIC_NACK_BIT:
        return OK, None
    ops, has_tlvs = layout
    pos = start + HEADER_SIZE
    leniency = None
    try:
        for kind, size, status in ops:
            if kind == _INT:
                pos = _need(pos, size, end)
            elif kind == _CSTR:
                pos = _cstr(data, pos, end, size, status)
            elif kind == _SM:
                n = _u8(data, pos, end)
                pos += 1
                if n > 254 or pos + n > end:
                    raise _Bad(S.ESME_RINVMSGLEN)
                pos += n
            elif kind == _DESTS:
                pos = _dests(data, pos, end)
            else:
                pos = _unsuccess(data, pos, end)
        if has_tlvs:
            leniency = _tlvs(data, pos, end)
        elif pos != end:
            return S.ESME_RINVCMDLEN, None
    except _Bad as bad:
        return bad.status, None
    return OK, leniency


def cut(data: bytes, max_pdu_size: int) -> Cut:
    """Cut ``data`` into frames as a receiver must (§3.2: command_length counts the header)."""
    frames: list[Frame] = []
    pos, size = 0, len(data)
    while size - pos >= 4:
        length = _U32.unpack_from(data, pos)[0]
        if length < HEADER_SIZE or length > max_pdu_size:
            return Cut(frames, pos, False)
        if pos + length > size:
            break
        status, leniency = frame_status(data, pos, pos + length)
        frames.append(Frame(pos, pos + length, status, leniency))
        pos += length
    return Cut(frames, None, pos < size)


# --- table 2-1: who may issue each request, in which states ---------------------------------

_ESME, _MC = frozenset({Role.ESME}), frozenset({Role.MC})
_BOTH = _ESME | _MC
_OPEN = frozenset({SessionState.OPEN})
_TX, _RX, _TRX = SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX
_BOUND = frozenset({_TX, _RX, _TRX})
_SENDING = frozenset({_TX, _TRX})
_RECEIVING = frozenset({_RX, _TRX})
C = CommandId

_ISSUERS: Final[dict[int, tuple[frozenset[Role], frozenset[SessionState]]]] = {
    C.BIND_TRANSMITTER: (_ESME, _OPEN),
    C.BIND_RECEIVER: (_ESME, _OPEN),
    C.BIND_TRANSCEIVER: (_ESME, _OPEN),
    C.OUTBIND: (_MC, _OPEN),
    C.UNBIND: (_BOTH, _BOUND),
    C.SUBMIT_SM: (_ESME, _SENDING),
    C.SUBMIT_MULTI: (_ESME, _SENDING),
    C.QUERY_SM: (_ESME, _SENDING),
    C.CANCEL_SM: (_ESME, _SENDING),
    C.REPLACE_SM: (_ESME, _SENDING),
    C.DELIVER_SM: (_MC, _RECEIVING),
    C.ALERT_NOTIFICATION: (_MC, _RECEIVING),
    # The engine also takes enquire_link before the bind (smpp.state: SMPP 5.0 allows it).
    C.ENQUIRE_LINK: (_BOTH, _BOUND | _OPEN),
}
"""Table 2-1. data_sm is listed for both sides in every bound state; each side may only
send it in a state where it sends messages, as SMPP 5.0's table 2-1 spells out."""


def may_issue(role: Role, state: SessionState, cid: int) -> bool:
    """Whether ``role`` may send the request ``cid`` in ``state`` (table 2-1)."""
    if cid == C.DATA_SM:
        return state in (_SENDING if role is Role.ESME else _RECEIVING)
    issuers, states = _ISSUERS[cid]
    return role in issuers and state in states


def refusal(state: SessionState, cid: int) -> int:
    """The status for a request that is well formed but not allowed in ``state``."""
    if cid in (C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER) and state in _BOUND:
        return S.ESME_RALYBND
    return S.ESME_RINVBNDSTS
