"""The public server as a process: ``ja-engine public``, started, restarted and stopped by
the engine (`engine.live.process.run_public_process`), and stopped when its engine is gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from counters import Keys, Store
from engine.cli import main
from engine.http import ListenError
from engine.live.process import run_public_process
from tests.live.support import appeal
from tests.ops.client import get
from tests.waiting import poll_for

pytestmark = pytest.mark.slow

CONFIG = """
short_code = "4777"
[redis]
url = "{url}"
namespace = "{namespace}"
[http]
public_port = 0
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = 2775
system_id = "ja"
password = "pw"
"""


def write_config(tmp_path: Path, url: str, keys: Keys) -> Path:
    path = tmp_path / "ja-engine.toml"
    text = CONFIG.format(url=url, namespace=keys.namespace)
    path.write_text(text if url else text.replace('url = ""\n', ""))
    return path


def children_serving(config: Path) -> list[int]:
    """Processes whose command line names ``config`` (this test's children only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(config).encode() in command and b"public" in command:
                found.append(int(entry.name))
    return found


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def count_at(port: int, shown: int) -> int:
    reply = await get(port, f"/api/v1/public/appeals/{shown}/counter")
    assert reply.status == 200, reply
    return int(reply.json()["count"])


async def test_the_engine_runs_it_restarts_it_and_stops_it(
    store: Store, keys: Keys, redis_url: str, tmp_path: Path
) -> None:
    shown = await appeal(store, "Apart proces")
    await store.appeals.sign(shown, 3, text="JA", message_id="m3")
    config = write_config(tmp_path, "", keys)  # no URL in the file: the engine passes its own
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(run_public_process, str(config), redis_url, stop.wait)
        assert await count_at(port_of(url), shown) == 1
        (child,) = children_serving(config)
        os.kill(child, signal.SIGKILL)

        async def restarted() -> bool:
            return [p for p in children_serving(config) if p != child] != []

        await poll_for(restarted, timeout=20, what="a new public server process")
        stop.set()
    assert children_serving(config) == []  # stopped with the engine, not left behind


async def test_it_stops_when_the_engine_that_started_it_is_gone(
    keys: Keys, redis_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, redis_url, keys)
    command = [sys.executable, "-m", "engine", "public", str(config), "--parent-pipe"]
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        with trio.fail_after(20):
            said = await process.stdout.receive_some(4096)
        assert said.startswith(b"public on http://127.0.0.1:"), said
        await process.stdin.aclose()  # what the kernel does when the engine dies
        with trio.fail_after(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_without_redis_or_a_port_it_says_what_to_set(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = write_config(tmp_path, "", keys)
    assert main(["public", str(config)]) == 2
    assert "set redis.url or REDIS_URL" in capsys.readouterr().err
    no_port = CONFIG.format(url="redis://127.0.0.1:6379/0", namespace="x")
    config.write_text(no_port.replace("public_port = 0", "port = 0"))
    assert main(["public", str(config)]) == 2
    assert "set [http] public_port or pass --port" in capsys.readouterr().err
    config.write_text(CONFIG.format(url="redis://127.0.0.1:1/0", namespace="x"))
    assert main(["public", str(config)]) == 3
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in capsys.readouterr().err


async def test_a_first_start_that_cannot_listen_is_an_error_naming_the_setting(
    keys: Keys, redis_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, redis_url, keys)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(config.read_text().replace("public_port = 0", f"public_port = {port}"))
        refused: list[ListenError] = []
        try:
            with trio.fail_after(30):
                await run_public_process(str(config), redis_url, trio.sleep_forever)
        except* ListenError as group:
            refused += [e for e in group.exceptions if isinstance(e, ListenError)]
    (error,) = refused
    assert "exited with status 4 before listening" in str(error)
    assert error.setting == "[http] public_host/public_port"
