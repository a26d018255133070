"""Hostile peers, as regression tests: slow bodies, bad lengths, unknown command ids,
connection floods. Each one once got the engine or the simulator to hang, crash or close
without a word; the transport is the same on both sides, so these run against both roles."""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing

from smpp.codec import encode_pdu
from smpp.constants import CommandId, CommandStatus
from smpp.pdu import BindTransceiver, EnquireLink
from smpp.simulator.server import open_simulator
from smpp.state import Role
from smpp.transport import LinkOptions, open_connection
from tests.simulator.helpers import make_config

OPTIONS = LinkOptions(response_timeout=5.0, enquire_link_interval=30.0)


async def read_pdu(stream: trio.abc.ReceiveStream) -> tuple[int, int, int] | None:
    """(command_id, command_status, sequence_number) of the next PDU, or None at EOF."""
    buf = b""
    while len(buf) < 16:
        chunk = await stream.receive_some(16 - len(buf))
        if not chunk:
            return None
        buf += chunk
    length, cid, status, seq = struct.unpack(">IIII", buf)
    rest = length - 16
    while rest:
        chunk = await stream.receive_some(rest)
        if not chunk:
            return None
        rest -= len(chunk)
    return cid, status, seq


async def read_until_eof(stream: trio.abc.ReceiveStream) -> list[tuple[int, int, int]]:
    pdus = []
    while (pdu := await read_pdu(stream)) is not None:
        pdus.append(pdu)
    return pdus


@pytest.mark.parametrize("role", [Role.ESME, Role.MC])
async def test_a_pdu_trickled_one_octet_a_second_is_cut_off(
    role: Role, autojump_clock: trio.testing.MockClock
) -> None:
    """A bound peer sends the header of a 64 KiB PDU, then one octet a second. Counting
    octets as life kept such a link open about 18 hours per PDU; now the PDU must arrive
    whole within the PDU deadline (the response timeout)."""
    ours, theirs = trio.testing.memory_stream_pair()
    async with open_connection(ours, role, OPTIONS) as conn:
        header = struct.pack(">IIII", 65_000, CommandId.DELIVER_SM, 0, 7)
        await theirs.send_all(header)
        started = trio.current_time()
        with trio.fail_after(60):
            while not conn.closed:
                await theirs.send_all(b"\x00")
                await trio.sleep(1.0)
        waited = trio.current_time() - started
    assert "incomplete" in conn.close_reason
    assert OPTIONS.response_timeout <= waited <= OPTIONS.response_timeout + 1.0


async def test_a_busy_link_whose_reads_end_mid_pdu_stays_open(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The deadline is per PDU: a link where every read ends inside a PDU but PDUs keep
    completing is alive, however long it runs."""
    ours, theirs = trio.testing.memory_stream_pair()
    probe = encode_pdu(EnquireLink(), 1)
    async with open_connection(ours, Role.MC, OPTIONS) as conn:
        await theirs.send_all(probe[:10])
        for seq in range(2, 40):  # 38 s, each PDU finished 1 s after it began
            await trio.sleep(1.0)
            nxt = encode_pdu(EnquireLink(), seq)
            await theirs.send_all(probe[10:] + nxt[:10])
            probe = nxt
            answer = await read_pdu(theirs)
            assert answer is not None
            assert answer[0] == CommandId.ENQUIRE_LINK_RESP
        assert not conn.closed


@pytest.mark.parametrize("length", [0, 8, 15, 70_000, 0xFFFFFFFF])
async def test_a_bad_command_length_is_answered_before_closing(
    length: int, autojump_clock: trio.testing.MockClock
) -> None:
    """command_length below 16 or above the maximum: generic_nack ESME_RINVCMDLEN (with the
    header's sequence number when it came), then the connection closes."""
    ours, theirs = trio.testing.memory_stream_pair()
    async with open_connection(ours, Role.MC, OPTIONS) as conn:
        await theirs.send_all(struct.pack(">IIII", length, CommandId.SUBMIT_SM, 0, 42))
        with trio.fail_after(5):
            pdus = await read_until_eof(theirs)
    assert pdus == [(CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDLEN, 42)]
    assert "command_length" in conn.close_reason


async def test_a_short_header_gets_sequence_zero(autojump_clock: trio.testing.MockClock) -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    async with open_connection(ours, Role.ESME, OPTIONS):
        await theirs.send_all(struct.pack(">I", 3))
        with trio.fail_after(5):
            pdus = await read_until_eof(theirs)
    assert pdus == [(CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDLEN, 0)]


async def test_unknown_command_ids_are_nacked_and_the_link_carries_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    async with open_connection(ours, Role.MC, OPTIONS) as conn:
        for seq, cid in enumerate((0x00000099, 0x0001FFFF, 0x7FFFFFFF), start=1):
            await theirs.send_all(struct.pack(">IIII", 16, cid, 0, seq))
            assert await read_pdu(theirs) == (
                CommandId.GENERIC_NACK,
                CommandStatus.ESME_RINVCMDID,
                seq,
            )
        await theirs.send_all(encode_pdu(EnquireLink(), 9))
        assert await read_pdu(theirs) == (CommandId.ENQUIRE_LINK_RESP, 0, 9)
        assert not conn.closed
        assert conn.rejected_pdus == 3


async def test_a_connection_flood_is_shed_and_a_real_client_still_binds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """500 connections that never bind are closed at the bind timeout; meanwhile a real
    client binds and is answered."""
    config = make_config(bind_timeout=10.0)
    async with open_simulator(config) as sim:
        flood = [sim.connect_memory() for _ in range(500)]
        client = sim.connect_memory()
        async with open_connection(client, Role.ESME, OPTIONS) as esme:
            await esme.bind(BindTransceiver(system_id="ja", password="pw"))
            assert esme.session.is_bound()
            with trio.fail_after(30):
                for stream in flood:
                    assert await read_until_eof(stream) == []
            assert sim.stats.faults["bind_timeout"] == 500
            assert not esme.closed
