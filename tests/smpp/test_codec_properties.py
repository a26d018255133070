"""Properties of the codec: every PDU round-trips, and no input makes it crash.

The fuzz invariant (style guide item 24): bytes from anywhere, fed to ``FrameReader`` and
``decode_pdu``, yield frames or raise ``RemoteProtocolError`` (``UnparsableBodyError`` when
the header was readable), never anything else.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smpp.codec import Frame, FrameReader, decode_pdu, encode_pdu
from smpp.constants import GENERIC_NACK_BIT, HEADER_SIZE, CommandId
from smpp.errors import RemoteProtocolError, UnparsableBodyError
from smpp.pdu import Pdu
from tests.smpp.strategies import ALL_CLASSES, any_pdu, command_statuses, pdus, sequence_numbers

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STREAMS = settings(FAST, max_examples=100)
PER_CLASS = settings(FAST, max_examples=30)

_HEADER = struct.Struct(">IIII")


def _ids(classes: list[type[Pdu]]) -> list[str]:
    return [c.command_id.name.lower() for c in classes]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=_ids(ALL_CLASSES))
@PER_CLASS
@given(data=st.data(), seq=sequence_numbers, status=command_statuses)
def test_round_trip(cls: type[Pdu], data: st.DataObject, seq: int, status: int) -> None:
    pdu = data.draw(pdus(cls))
    raw = encode_pdu(pdu, seq, status)
    assert int.from_bytes(raw[:4], "big") == len(raw)
    assert decode_pdu(raw) == Frame(cls.command_id, status, seq, pdu)


@pytest.mark.slow
@STREAMS
@given(st.lists(st.tuples(any_pdu, sequence_numbers), max_size=5), st.data())
def test_stream_cut_anywhere_gives_the_same_frames(
    items: list[tuple[Pdu, int]], data: st.DataObject
) -> None:
    stream = b"".join(encode_pdu(p, s) for p, s in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = FrameReader()
    frames: list[Frame] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        reader.feed(stream[start:stop])
        while (raw := reader.next_raw()) is not None:
            frames.append(decode_pdu(raw))
    assert [(f.pdu, f.sequence_number) for f in frames] == items
    assert reader.buffered == 0


def _next(reader: FrameReader) -> bytes | RemoteProtocolError | None:
    try:
        return reader.next_raw()
    except RemoteProtocolError as exc:
        return exc


def _decode(raw: bytes) -> Frame | UnparsableBodyError:
    try:
        return decode_pdu(raw)
    except UnparsableBodyError as exc:
        return exc


def _drain(reader: FrameReader) -> list[Frame]:
    """Everything the reader yields, under the invariant: only RemoteProtocolError escapes
    (fatal from the framing, UnparsableBodyError naming the PDU from the body)."""
    frames: list[Frame] = []
    while True:
        raw = _next(reader)
        if isinstance(raw, RemoteProtocolError):
            assert raw.fatal
            return frames
        if raw is None:
            return frames
        result = _decode(raw)
        if isinstance(result, Frame):
            frames.append(result)
        else:
            assert not result.fatal
            assert result.command_id == int.from_bytes(raw[4:8], "big")


@FAST
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    reader = FrameReader(max_pdu_size=1024)
    reader.feed(data)
    _drain(reader)


_COMMAND_IDS = [*map(int, CommandId), 0x00000099, 0x80000099, 0x00000000]


@pytest.mark.parametrize("command_id", _COMMAND_IDS, ids=[f"0x{c:08x}" for c in _COMMAND_IDS])
@PER_CLASS
@given(body=st.binary(max_size=300), seq=sequence_numbers, status=command_statuses)
def test_fuzz_body_behind_a_valid_header(
    command_id: int, body: bytes, seq: int, status: int
) -> None:
    raw = _HEADER.pack(HEADER_SIZE + len(body), command_id, status, seq) + body
    frame = _decode(raw)
    if isinstance(frame, UnparsableBodyError):
        assert not frame.fatal
        assert (frame.command_id, frame.sequence_number) == (command_id, seq)
        return
    assert (frame.command_id, frame.command_status, frame.sequence_number) == (
        command_id,
        status,
        seq,
    )
    # Whatever we accept, we write back octet for octet. The exceptions are responses: one
    # without a body decodes to defaults (even with status 0, leniently), and an error
    # response with default fields is written without its body (§4.4.2).
    pdu = frame.pdu
    is_response = command_id & GENERIC_NACK_BIT
    if not (is_response and (not body or (status and pdu == type(pdu)()))):
        assert encode_pdu(pdu, seq, status) == raw


@pytest.mark.slow
@STREAMS
@given(pdu=any_pdu, data=st.data())
def test_fuzz_mutated_valid_pdu(pdu: Pdu, data: st.DataObject) -> None:
    """Corrupt a real PDU's body, so parsing gets deep before it fails."""
    raw = bytearray(encode_pdu(pdu, 7))
    body = raw[HEADER_SIZE:]
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(body)))
        if op == "flip" and at < len(body):
            body[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[at:]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    mutated = _HEADER.pack(HEADER_SIZE + len(body), *struct.unpack(">III", raw[4:16])) + body
    reader = FrameReader()
    reader.feed(bytes(mutated))
    frames = _drain(reader)
    assert len(frames) <= 1
