"""Bytes to frames and frames to bytes, with no I/O.

Framing has three outcomes (style guide item 2):

* not enough bytes yet: ``FrameReader.next_raw()`` returns None;
* ``command_length`` below 16 or above the configured maximum: ``RemoteProtocolError`` with
  ``fatal=True``, decided from the first four octets alone, before the body is buffered;
* a readable header with a bad body: ``UnparsableBodyError`` carrying the header fields and
  the command_status to answer with; the stream stays in sync.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from smpp._compile import compile_codecs
from smpp.constants import (
    DEFAULT_MAX_PDU_SIZE,
    GENERIC_NACK_BIT,
    HEADER_SIZE,
    CommandId,
    CommandStatus,
)
from smpp.errors import LocalProtocolError, RemoteProtocolError, UnparsableBodyError
from smpp.pdu import PDU_CLASSES, Pdu

__all__ = [
    "HEADER",
    "Frame",
    "FrameReader",
    "decode_body",
    "decode_pdu",
    "encode_body",
    "encode_pdu",
    "framed",
]

HEADER: Final = struct.Struct(">IIII")
"""command_length, command_id, command_status, sequence_number."""
_LENGTH: Final = struct.Struct(">I")
_DECODERS, _ENCODERS = compile_codecs()
_CLASSES: Final[dict[int, type[Pdu]]] = {int(k): v for k, v in PDU_CLASSES.items()}
_EMPTY: Final[dict[int, Pdu]] = {k: cls() for k, cls in _CLASSES.items()}


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One PDU with its header fields."""

    command_id: int
    command_status: int
    sequence_number: int
    pdu: Pdu


_BIND_RESP = frozenset(
    {CommandId.BIND_RECEIVER_RESP, CommandId.BIND_TRANSMITTER_RESP, CommandId.BIND_TRANSCEIVER_RESP}
)


def encode_pdu(pdu: Pdu, sequence_number: int, command_status: int = 0) -> bytes:
    """The wire form of ``pdu``, header included.

    Raises:
        LocalProtocolError: a field does not fit its wire type (too long, out of range).
    """
    cid = pdu.command_id
    if command_status and cid & GENERIC_NACK_BIT and pdu == _EMPTY[cid] and cid not in _BIND_RESP:
        # "The body is not returned if the command_status field contains a non-zero
        # value" (§4.1.2, §4.4.2 and the other *_resp sections). A refused bind keeps its
        # body (an empty system_id) all the same: legal, and some clients (aiosmpplib)
        # cannot parse a header-only bind response and crash instead of reporting the
        # wrong password.
        body = b""
    else:
        body = _ENCODERS[cid](pdu)
    return framed(body, cid, sequence_number, command_status)


def encode_body(pdu: Pdu) -> bytes:
    """The body of ``pdu``'s wire form, without the header (``framed`` adds it).

    Raises:
        LocalProtocolError: a field does not fit its wire type (too long, out of range).
    """
    return _ENCODERS[pdu.command_id](pdu)


def framed(body: bytes, command_id: int, sequence_number: int, command_status: int = 0) -> bytes:
    """``body`` under its 16-octet header.

    Raises:
        LocalProtocolError: a header field is out of range.
    """
    try:
        header = HEADER.pack(HEADER_SIZE + len(body), command_id, command_status, sequence_number)
    except struct.error as exc:
        raise LocalProtocolError(f"header: {exc}") from exc
    return header + body


def decode_pdu(data: bytes) -> Frame:
    """Decode one complete PDU (``len(data)`` must equal its command_length).

    Raises:
        UnparsableBodyError: the body is not what the command_id requires.
    """
    _, command_id, status, sequence = HEADER.unpack_from(data, 0)
    return Frame(command_id, status, sequence, decode_body(data, command_id, sequence))


def decode_body(data: bytes, command_id: int, sequence: int) -> Pdu:
    """The PDU in ``data`` whose header the caller has read already (the session's hot path).

    Raises:
        UnparsableBodyError: the body is not what the command_id requires.
    """
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise UnparsableBodyError(
            f"unknown command_id 0x{command_id:08X}",
            CommandStatus.ESME_RINVCMDID,
            command_id=command_id,
            sequence_number=sequence,
        )
    length = len(data)
    if length == HEADER_SIZE and command_id & GENERIC_NACK_BIT:
        # A response that carries an error may omit its body (§3.2, e.g. submit_sm_resp).
        return _EMPTY[command_id]
    try:
        return decoder(data, HEADER_SIZE, length)
    except RemoteProtocolError as exc:
        raise UnparsableBodyError(
            f"{CommandId(command_id).name.lower()}: {exc}",
            exc.command_status_hint,
            command_id=command_id,
            sequence_number=sequence,
        ) from None


class FrameReader:
    """Buffers received bytes and cuts them into whole PDUs.

    Args:
        max_pdu_size: the largest command_length accepted; a larger one is refused as
            soon as its first four octets arrive, without buffering the body.
    """

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        if max_pdu_size < HEADER_SIZE:
            raise ValueError(f"max_pdu_size {max_pdu_size} < {HEADER_SIZE}")
        self.max_pdu_size = max_pdu_size
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes | bytearray) -> None:
        """Append received bytes."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Octets received but not yet cut into a PDU."""
        return len(self._buf) - self._pos

    def header_sequence(self) -> int:
        """The sequence_number of the buffered PDU's header, or 0 when fewer than 16 octets
        came: what a generic_nack for a framing error answers (§4.3: 0 when unknown)."""
        if self.buffered < HEADER_SIZE:
            return 0
        return int.from_bytes(self._buf[self._pos + 12 : self._pos + 16], "big")

    def next_raw(self) -> bytes | None:
        """The next whole PDU's bytes, or None if more bytes are needed.

        Raises:
            RemoteProtocolError: (fatal) command_length below 16 or above the maximum.
        """
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available < 4:
            return None
        (length,) = _LENGTH.unpack_from(buf, pos)
        if length < HEADER_SIZE or length > self.max_pdu_size:
            bound = f"< {HEADER_SIZE}" if length < HEADER_SIZE else f"> {self.max_pdu_size}"
            raise RemoteProtocolError(
                f"command_length {length} {bound}", CommandStatus.ESME_RINVCMDLEN, fatal=True
            )
        if available < length:
            return None
        self._pos = pos + length
        return bytes(buf[pos : pos + length])
