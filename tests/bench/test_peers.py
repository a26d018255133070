"""The peer clients take their receipts and, when the simulator pushes back (its receipt
queue is full: ESME_RMSGQFUL), send the refused messages again, so that every contender of
the fan-out delivers every message; speed is not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench._peers import PEERS, missing
from bench.fanout import simulator, simulator_toml

# Receipts due at once, taken four at a time per bind, and a queue of 20 before the
# simulator refuses submits: the first window of submits fills it at once.
PUSHING_BACK = """
[delivery]
window = 4
hold_limit = 20
queue_limit = 20
"""


@pytest.mark.slow
@pytest.mark.parametrize("peer", sorted(PEERS))
def test_peer_takes_receipts_and_resends_what_was_refused(peer: str, tmp_path: Path) -> None:
    if missing(peer) is not None:
        pytest.skip(f"{peer} does not install here")
    config = tmp_path / "simulator.toml"
    config.write_text(
        simulator_toml(True).replace("delay = 1.0\njitter = 2.0", "delay = 0.0\njitter = 0.0")
        + PUSHING_BACK
    )
    with simulator(config) as sim:
        done = subprocess.run(
            [sys.executable, "-m", "bench._peers", peer, "--host", sim.host, "--port",
             str(sim.port), "--messages", "300", "--binds", "2", "--window", "100",
             "--receipts"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["ok"], result["errors"]) == (300, 0), done.stderr[-2000:]
    assert result["refused"] > 0  # pushed back, and every refused message sent again
    assert result["receipts"] > 0
