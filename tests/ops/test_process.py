"""``ja-engine run`` as operators run it: its HTTP endpoints, JSON logs, a port in use."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from counters import Keys
from smpp.simulator.server import open_simulator
from tests.engine.test_run_process import simulator, wait_bound
from tests.ops.client import get
from tests.redis_support import free_port
from tests.waiting import poll_for

CONFIG = """
short_code = "4777"
[redis]
url = "{redis_url}"
namespace = "{namespace}"
[http]
port = {http_port}
[logging]
format = "json"
[outbox]
consumer = "ops-under-test"
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = {port}
system_id = "ja"
password = "pw"
reconnect_initial = 0.05
"""


def write_config(tmp_path: Path, redis_url: str, keys: Keys, port: int, http_port: int) -> Path:
    path = tmp_path / "ja.toml"
    text = CONFIG.format(
        redis_url=redis_url, namespace=keys.namespace, port=port, http_port=http_port
    )
    path.write_text(text)
    return path


async def start(path: Path, stderr: Path) -> trio.Process:
    with stderr.open("wb") as err:
        return await trio.lowlevel.open_process(
            [sys.executable, "-m", "engine", "run", str(path)],
            stdout=subprocess.PIPE,
            stderr=err,
        )


async def read_port(process: trio.Process) -> int:
    """The port of the ``metrics on http://HOST:PORT/metrics`` line."""
    assert process.stdout is not None
    buffer = b""
    with trio.fail_after(20):
        while b"/metrics\n" not in buffer:
            chunk = await process.stdout.receive_some(4096)
            assert chunk, "the engine exited before serving HTTP"
            buffer += chunk
    line = buffer.split(b"metrics on ", 1)[1].split(b"\n", 1)[0].decode()
    assert line.startswith("http://127.0.0.1:")
    return int(line.removesuffix("/metrics").rsplit(":", 1)[1])


@pytest.mark.slow
async def test_run_serves_the_endpoints_and_logs_json(
    tmp_path: Path, redis_url: str, keys: Keys
) -> None:
    async with open_simulator(simulator()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        path = write_config(tmp_path, redis_url, keys, port, http_port=0)
        process = await start(path, tmp_path / "stderr")
        try:
            http = await read_port(process)
            await wait_bound(sim)

            async def ready() -> bool:  # the engine marks the bind up in its own process
                return (await get(http, "/readyz")).status == 200

            await poll_for(ready, timeout=20, what="/readyz 200")
            assert (await get(http, "/healthz")).json() == {"alive": True}
            scrape = (await get(http, "/metrics")).text
            assert 'ja_bind_up{bind="sim-1",carrier="sim"} 1.0' in scrape
            assert "ja_store_up 1.0" in scrape
            process.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    lines = [json.loads(line) for line in (tmp_path / "stderr").read_text().splitlines()]
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    up = next(line for line in lines if line["message"].startswith("bind sim-1 up"))
    assert (up["carrier"], up["bind"]) == ("sim", "sim-1")
    assert any(line["message"].startswith(f"metrics on http://127.0.0.1:{http}") for line in lines)


@pytest.mark.slow
async def test_a_port_in_use_is_one_line_and_exit_4(
    tmp_path: Path, redis_url: str, keys: Keys
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        http_port = taken.getsockname()[1]
        path = write_config(tmp_path, redis_url, keys, free_port(), http_port)
        with trio.fail_after(60):
            done = await trio.run_process(
                [sys.executable, "-m", "engine", "run", str(path)],
                capture_stderr=True,
                capture_stdout=True,
                check=False,
            )
    err = done.stderr.decode()
    assert done.returncode == 4, err
    said = [line for line in err.splitlines() if line.startswith("ja-engine:")]
    assert said == [
        f"ja-engine: HTTP server: cannot listen on 127.0.0.1:{http_port} (Address already in "
        "use); free the port or change [http] host/port in the configuration"
    ]
    assert "Traceback" not in err
