"""Stopping is orderly from the first instant: a SIGTERM while ``ja-engine run`` is still
starting (here: Redis accepted the connection but has not answered yet) ends the process
with exit 0 and a log line, not exit -15."""

from __future__ import annotations

import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import trio

from counters import Keys
from tests.engine.test_run_process import write_config


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_during_start_up_stops_the_engine_in_order(
    tmp_path: Path, keys: Keys, signum: signal.Signals
) -> None:
    accepted = trio.Event()
    held: list[trio.SocketStream] = []

    async def silent_redis(stream: trio.SocketStream) -> None:
        held.append(stream)  # accept, read nothing, answer nothing: start-up hangs here
        accepted.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, silent_redis, 0, host="127.0.0.1"))
        redis_port = listeners[0].socket.getsockname()[1]
        url = f"redis://127.0.0.1:{redis_port}/0"
        path = write_config(tmp_path, "ja.toml", url, keys, 9, rate=10, window=8)
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "engine", "run", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            with trio.fail_after(20):
                await accepted.wait()
            process.send_signal(signum)
            with trio.fail_after(20):
                code = await process.wait()
            assert process.stderr is not None
            err = b""
            while chunk := await process.stderr.receive_some(65536):
                err += chunk
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            nursery.cancel_scope.cancel()
    assert code == 0, err.decode()
    assert f"signal {int(signum)}: stopping".encode() in err
    assert b"Traceback" not in err
