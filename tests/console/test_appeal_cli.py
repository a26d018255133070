"""``ja-engine appeal ...`` as an operator runs it: a real process against the Redis of a
running engine (in this test's process, bound to the simulator), output read as printed."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio

from counters import Lane, Store
from tests.campaigns.test_flow import FIRST, subscribe
from tests.campaigns.test_inbound_rules import EXTRA, quiet_sim
from tests.engine.support import Rig, rig
from tests.waiting import wait_for

COUNT = 500
TEXT = "Urgente actie: antwoord JA om te tekenen"


def cli_config(tmp_path: Path, redis_url: str, store: Store) -> Path:
    """The operator's copy of the engine's configuration (the same Redis and namespace; the
    binds only give the send command its ETA)."""
    path = tmp_path / "ja.toml"
    path.write_text(
        f'short_code = "4777"\n[redis]\nurl = "{redis_url}"\n'
        f'namespace = "{store.keys.namespace}"\n'
        '[carriers.sim]\n[[carriers.sim.binds]]\nname = "sim-1"\n'
        'system_id = "ja"\npassword = "pw"\nrate = 250\n'
    )
    return path


async def ja(config: Path | None, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    command = [sys.executable, "-m", "engine", "appeal", *args]
    if config is not None:
        command[5:5] = ["-c", str(config)]
    with trio.fail_after(60):
        done = await trio.run_process(
            command, stdin=stdin, capture_stdout=True, capture_stderr=True, check=False
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def as_json(out: str) -> Any:
    return json.loads(out)


async def sent_all(r: Rig, appeal: int) -> None:
    """Until every message of the appeal went and the lane is empty: the engine's writes of
    what it sent are the last step (the command line's resume only queued them again)."""

    async def done() -> bool:
        view = await r.engine.campaigns.show(appeal)
        return view.fanout.sent == COUNT and not await r.store.queues.length(Lane.BULK)

    await wait_for(done, on=r.engine.outbox.writeback.written, timeout=30, what="all sent")


@pytest.mark.slow
async def test_create_send_pause_resume_cancel_outcome_from_the_command_line(
    store: Store, redis_url: str, tmp_path: Path
) -> None:
    await subscribe(store, FIRST, COUNT)
    async with rig(store, quiet_sim(COUNT), router=None, extra=EXTRA, rate=250.0) as r:
        config = cli_config(tmp_path, redis_url, store)

        code, out, _ = await ja(config, "create", "--title", "X", "--text", TEXT, "--dry-run")
        assert code == 0
        assert out.splitlines()[:2] == ["A handset receives:", f"  {TEXT}"]
        assert "GSM 03.38" in out
        assert "Dank je! Jij en 4.211 anderen" in out
        assert await store.appeals.ids() == []  # a dry run stores nothing

        code, out, err = await ja(config, "create", "--title", "X", "--text", "é" * 10 + "ê" * 80)
        assert code == 1
        assert "segments" in err
        assert "force" in err

        code, out, _ = await ja(config, "create", "--title", "X", "--text", TEXT, "--json")
        assert code == 0
        appeal = as_json(out)["id"]
        assert as_json(out)["status"] == "draft"

        code, _, err = await ja(config, "send", str(appeal))  # not a terminal, no --yes
        assert code == 1
        assert f"to {COUNT:,} subscribers" in err
        assert "--yes" in err

        code, out, _ = await ja(config, "send", str(appeal), "--yes", "--json")
        assert code == 0
        assert as_json(out)["status"] == "sending"
        await r.wait_delivered(50, timeout=20)
        code, out, _ = await ja(config, "pause", str(appeal), "--json")
        assert (code, as_json(out)["paused"]) == (0, True)
        code, out, _ = await ja(config, "resume", str(appeal))
        assert code == 0
        assert f"appeal {appeal}: X (sending)" in out
        await sent_all(r, appeal)
        received = Counter(rec.number for rec in r.sim.ledger if rec.text == TEXT)
        assert len(received) == COUNT
        assert set(received.values()) == {1}

        code, out, _ = await ja(config, "show", str(appeal), "--json")
        shown = as_json(out)
        assert (shown["fanout"]["sent"], shown["signatures"]) == (COUNT, 0)
        code, out, _ = await ja(config, "list")
        assert code == 0
        assert f"{appeal:>5}  sent" in out

        code, out, _ = await ja(config, "outcome", str(appeal), "--text", "Goed nieuws!")
        assert code == 0
        assert "outcome" in out
        code, _, err = await ja(config, "outcome", str(appeal), "--text", "Nog eens")
        assert code == 1
        assert "sent already" in err
        code, out, _ = await ja(config, "cancel", str(appeal), "--json")
        assert (code, as_json(out)["cancelled"]) == (0, True)
        code, _, err = await ja(config, "pause", str(appeal))
        assert code == 1
        assert "is cancelled" in err


async def test_exit_codes_for_usage_and_an_unreachable_redis(tmp_path: Path) -> None:
    code, _, err = await ja(None, "list")
    assert code == 2
    assert "-c FILE" in err
    path = tmp_path / "ja.toml"
    path.write_text(
        'short_code = "4777"\n[redis]\nurl = "redis://127.0.0.1:1/0"\n'
        '[carriers.sim]\n[[carriers.sim.binds]]\nname = "s"\nsystem_id = "ja"\npassword = "pw"\n'
    )
    code, _, err = await ja(path, "list")
    assert code == 3
    assert err.startswith("ja-engine: ")
    assert len(err.strip().splitlines()) == 1
    code, _, err = await ja(path, "show", "x")
    assert code == 2
