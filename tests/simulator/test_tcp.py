"""Over real TCP on 127.0.0.1: our client against the simulator, and the CLI end to end."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import trio

from smpp.pdu import BindTransceiver, SubmitSM, Unbind
from smpp.receipt import receipt_from_fields
from smpp.simulator import open_simulator
from smpp.transport import LinkOptions, connect
from tests.simulator.helpers import FIRST, Inbox, make_config

FAST = {
    "handsets": {"reply_probability": 1.0, "delay_min": 0.0, "delay_sigma": 0.3},
    "time_compression": 1e5,
    "receipts": {"delay": 0.01},
}


@pytest.mark.slow
async def test_bind_submit_receipt_and_ja_over_tcp() -> None:
    with trio.fail_after(10):
        async with open_simulator(make_config(**FAST)) as sim:
            host, port = await sim.listen(port=0)
            inbox = Inbox()
            async with connect(host, port, LinkOptions(window=32), handler=inbox) as conn:
                await conn.bind(BindTransceiver(system_id="ja", password="pw"))
                for i in range(20):
                    pdu = SubmitSM(
                        source_addr="4000",
                        destination_addr=str(FIRST + i),
                        registered_delivery=1,
                        short_message=b"Teken de oproep",
                    )
                    assert (await conn.request(pdu)).command_status == 0
                await inbox.wait_for(40)
                await conn.unbind()
            assert len(inbox.receipts) == 20
            assert {p.source_addr for p in inbox.mo} == {str(FIRST + i) for i in range(20)}
            receipt = receipt_from_fields(inbox.receipts[0].short_message, {})
            assert receipt is not None
            assert receipt.stat == "DELIVRD"


async def _read_until(stream: trio.abc.ReceiveStream, pattern: bytes) -> bytes:
    seen = b""
    while not re.search(pattern, seen):
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise AssertionError(f"simulator exited; output so far: {seen!r}")
        seen += chunk
    return seen


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.mark.slow
async def test_cli_listens_serves_metrics_and_shuts_down_cleanly(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    command = [
        sys.executable, "-m", "smpp.simulator", "--port", "0", "--metrics-port", "0",
        "--handsets", "1000", "--first-number", str(FIRST), "--reply-probability", "1",
        "--time-compression", "1e6", "--receipt-delay", "0.01", "--ledger", str(ledger),
    ]  # fmt: skip
    with trio.fail_after(20):
        process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            banner = (await _read_until(process.stdout, rb"listening on \S+\n")).decode()
            lines = banner.splitlines()
            assert "account sim:sim (default" in banner
            address = next(line for line in lines if line.startswith("listening on "))
            host, port = address.removeprefix("listening on ").rsplit(":", 1)
            metrics_url = next(line for line in lines if line.startswith("metrics on "))[11:]
            inbox = Inbox()
            async with connect(host, int(port), handler=inbox) as conn:
                await conn.bind(BindTransceiver(system_id="sim", password="sim"))
                pdu = SubmitSM(
                    source_addr="4000", destination_addr=str(FIRST), registered_delivery=1
                )
                await conn.request(pdu)
                await inbox.wait_for(2)
                text = await trio.to_thread.run_sync(_scrape, metrics_url)
                assert 'ja_sim_pdus_total{command="submit_sm",direction="in"} 1.0' in text
                assert 'ja_sim_binds_active{account="sim"} 1.0' in text
                process.send_signal(signal.SIGTERM)
                await conn.wait_closed()
            assert any(isinstance(p, Unbind) for p in inbox.others)
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            if process.stdout is not None:
                await process.stdout.aclose()
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [r["kind"] for r in records][:2] == ["mt", "ja"]  # maybe a duplicate JA after
    assert records[1]["acked_at"] is not None
