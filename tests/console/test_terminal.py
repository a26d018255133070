"""The console as a person sees it: a pseudo-terminal gets tables and a question; a pipe
gets plain lines; ``--json`` gets JSON."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import trio

from counters import Store
from engine.campaigns import AppealSpec, Campaigns
from engine.campaigns.settings import CampaignConfig
from tests.campaigns.test_flow import FIRST, subscribe
from tests.console.test_subscribers_cli import SECRET, config


def run_in_pty(argv: list[str], *, answer: bytes = b"", timeout: float = 60.0) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal (120 columns); type ``answer`` at a [y/N] question."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "JA_FORGET_SECRET": SECRET}
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                if answer and b"[y/N]" in out:
                    os.write(master, answer)
                    answer = b""
            elif process.poll() is not None:
                break
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return code, out.decode(errors="replace")


@pytest.mark.slow
async def test_tables_on_a_terminal_plain_lines_in_a_pipe(
    store: Store, redis_url: str, tmp_path: Path
) -> None:
    await subscribe(store, FIRST, 3)
    campaigns = Campaigns(store, CampaignConfig())
    view = await campaigns.create(AppealSpec(title="Gevangene X", text="Urgent: antwoord JA"))
    path = config(tmp_path, redis_url, store)
    base = [sys.executable, "-m", "engine", "appeal"]

    code, screen = await trio.to_thread.run_sync(run_in_pty, [*base, "list", "-c", str(path)])
    assert code == 0
    assert "Appeals" in screen
    assert "│" in screen or "┃" in screen  # a drawn table
    assert "Gevangene X" in screen

    env = {**os.environ, "JA_FORGET_SECRET": SECRET}
    with trio.fail_after(60):
        piped = await trio.run_process(
            [*base, "list", "-c", str(path)], capture_stdout=True, env=env
        )
    assert piped.stdout.decode() == f"{view.id:>5}  draft              0 signatures  Gevangene X\n"
    with trio.fail_after(60):
        piped = await trio.run_process(
            [*base, "list", "-c", str(path), "--json"], capture_stdout=True, env=env
        )
    assert [v["title"] for v in json.loads(piped.stdout)] == ["Gevangene X"]

    send = [*base, "send", "-c", str(path), str(view.id)]
    code, screen = await trio.to_thread.run_sync(lambda: run_in_pty(send, answer=b"y\n"))
    assert code == 0
    assert f"Send appeal {view.id} ('Gevangene X') to 3 subscribers" in screen
    assert "[y/N]" in screen
    assert (await campaigns.show(view.id)).status.value == "sending"
