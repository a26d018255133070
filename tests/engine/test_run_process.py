"""``ja-engine run`` as operators run it: a real process, /metrics over HTTP, signals, crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from counters import Keys, Lane, OutboundMessage, Store
from smpp.constants import CommandId
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.server import Simulator, open_simulator
from tests.engine.support import wait_until_delivered
from tests.waiting import poll_for, wait_for

CONFIG = """
short_code = "4777"
[redis]
url = "{redis_url}"
namespace = "{namespace}"
[metrics]
port = 0
[outbox]
consumer = "engine-under-test"
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = {port}
system_id = "ja"
password = "pw"
window = {window}
rate = {rate}
burst = 10
reconnect_initial = 0.05
"""


class EngineProcess:
    def __init__(self, process: trio.Process, metrics_url: str) -> None:
        self.process = process
        self.metrics_url = metrics_url

    def scrape(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            body: bytes = response.read()
        return body.decode()

    def sample(self, name: str) -> float:
        for line in self.scrape().splitlines():
            if line.startswith(name):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@asynccontextmanager
async def engine_process(config_path: Path) -> AsyncIterator[EngineProcess]:
    command = [sys.executable, "-m", "engine", "run", str(config_path)]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        buffer = b""
        with trio.fail_after(20):
            while b"metrics on " not in buffer:
                chunk = await process.stdout.receive_some(4096)
                assert chunk, "engine exited before serving metrics"
                buffer += chunk
        url = buffer.split(b"metrics on ", 1)[1].split(b"\n", 1)[0].decode().strip()
        yield EngineProcess(process, url)
    finally:
        if process.returncode is None:
            process.kill()
        with trio.move_on_after(10):
            await process.wait()


def write_config(
    tmp_path: Path, name: str, redis_url: str, keys: Keys, port: int, *, rate: float, window: int
) -> Path:
    path = tmp_path / name
    path.write_text(
        CONFIG.format(
            redis_url=redis_url, namespace=keys.namespace, port=port, rate=rate, window=window
        )
    )
    return path


def simulator() -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=100_000, reply_probability=0.0, stranger_probability=0.0),
    )


async def wait_bound(sim: Simulator) -> None:
    await wait_for(lambda: bool(sim.bound_links()), on=sim.centre.changed, timeout=20,
                   what="the engine bound")  # fmt: skip


async def kill_after(sim: Simulator, process: EngineProcess, sent: int) -> None:
    """SIGKILL the engine once the simulator has taken ``sent`` messages (mid-run)."""
    await wait_bound(sim)
    await wait_until_delivered(sim, sent, timeout=20)
    process.process.kill()
    await process.process.wait()


async def wait_reached(sim: Simulator, count: int, timeout: float = 30.0) -> None:
    """Until ``count`` distinct handsets have each received a message."""
    ledger = sim.ledger

    def reached() -> bool:  # counting first: reading every record costs more
        return ledger.count() >= count and len({r.number for r in ledger}) >= count

    await wait_for(reached, on=sim.centre.changed, timeout=timeout, what=f"{count} reached")


async def push(store: Store, count: int) -> None:
    async with trio.open_nursery() as nursery:
        for i in range(count):
            message = OutboundMessage(ref=f"m{i}", to=f"+{31600000000 + i}", text=f"appeal {i}")
            nursery.start_soon(store.queues.push, Lane.BULK, message)


@pytest.mark.slow
async def test_metrics_over_http_and_clean_stop_on_sigterm(
    tmp_path: Path, redis_url: str, keys: Keys, store: Store
) -> None:
    async with open_simulator(simulator()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        path = write_config(tmp_path, "ja.toml", redis_url, keys, port, rate=1000, window=64)
        async with engine_process(path) as engine:
            await wait_bound(sim)
            await push(store, 50)
            await wait_until_delivered(sim, 50, timeout=20)
            sent = 'ja_outbox_messages_total{lane="bulk",result="sent"} 50.0'

            async def counted() -> bool:  # the engine moves its tallies into metrics each second
                return sent in await trio.to_thread.run_sync(engine.scrape)

            await poll_for(counted, timeout=20, what="50 sent on /metrics")
            text = await trio.to_thread.run_sync(engine.scrape)
            assert 'ja_bind_up{bind="sim-1",carrier="sim"} 1.0' in text
            assert "ja_smpp_response_duration_seconds_bucket" in text
            engine.process.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                code = await engine.process.wait()
            assert code == 0
        assert sim.stats.pdus_in[CommandId.UNBIND] >= 1


@pytest.mark.slow
async def test_crash_then_restart_sends_the_rest_and_counts_duplicates(
    tmp_path: Path, redis_url: str, keys: Keys, store: Store
) -> None:
    """SIGKILL mid fan-out; the restarted engine sends what is left. Only submits that were in
    flight at the crash (at most the window) may arrive twice, and each is counted."""
    count, window = 3000, 64
    async with open_simulator(simulator()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        path = write_config(tmp_path, "ja.toml", redis_url, keys, port, rate=1500, window=window)
        await push(store, count)
        async with engine_process(path) as first:
            await kill_after(sim, first, count // 3)
        assert sim.ledger.count() < count
        async with engine_process(path) as second:
            await wait_reached(sim, count, timeout=30)

            async def drained() -> bool:  # acknowledged by the engine process
                return not await store.queues.length(Lane.BULK)

            await poll_for(drained, timeout=30, what="the lane empty")
            duplicates = await trio.to_thread.run_sync(
                second.sample, "ja_outbox_possible_duplicates_total"
            )
            second.process.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                await second.process.wait()
        received = [len(sim.ledger.received(31600000000 + i)) for i in range(count)]
        extra = sum(n - 1 for n in received)
        assert min(received) == 1
        assert extra <= duplicates <= window, (extra, duplicates)
        print(f"crash: {extra} duplicate deliveries, {duplicates:.0f} counted, window {window}")


async def test_unreachable_redis_at_start_is_one_line_and_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "ja.toml"
    path.write_text(
        'short_code = "4777"\n[redis]\nurl = "redis://user:secret@127.0.0.1:1/0"\n'
        '[carriers.sim]\n[[carriers.sim.binds]]\nname = "s"\nsystem_id = "ja"\npassword = "pw"\n'
    )
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-m", "engine", "run", str(path)], capture_stderr=True, check=False
        )
    err = done.stderr.decode()
    assert done.returncode == 3
    lines = [line for line in err.splitlines() if line.startswith("ja-engine:")]
    assert len(lines) == 1
    assert "cannot reach Redis at redis://user:***@127.0.0.1:1/0" in lines[0]
    assert "Traceback" not in err
    assert "secret" not in err
