"""The fault suite at its quick size, one test per scenario: every invariant must hold.

Each test runs ``python -m bench.faults --quick --only NAME`` as its own process (the
scenarios start engine processes, a simulator and, for the Redis restart, a redis-server of
their own, and stop them all however they end) and reads the rows it writes with ``--json``.
Nothing about speed is asserted; the table is printed for the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.faults import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 180.0
"""Seconds one quick scenario may take before the test gives up (about 5 to 30 here)."""


def run_quick(name: str, redis_url: str, tmp_path: Path) -> tuple[int, str, dict[str, Any]]:
    report = tmp_path / "faults.json"
    argv = [sys.executable, "-m", "bench.faults", "--quick", "--only", name]
    argv += ["--json", str(report), "--url", redis_url, "--keep-logs", str(tmp_path / "logs")]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=LIMIT, check=False
    )
    print(done.stdout)
    rows: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    return done.returncode, done.stderr[-4000:], rows


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_quick_scenario_keeps_its_invariants(name: str, redis_url: str, tmp_path: Path) -> None:
    code, stderr, report = run_quick(name, redis_url, tmp_path)
    assert report, f"no report written:\n{stderr}"
    rows = report["scenarios"]
    assert rows, stderr
    for row in rows:
        assert row["error"] == "", f"{row['scenario']}: {row['error']}\n{stderr}"
        failed = [f"{c['name']}: {c['detail']}" for c in row["checks"] if not c["ok"]]
        assert not failed, f"{row['scenario']}: " + "; ".join(failed)
        assert row["checks"], f"{row['scenario']} checked nothing"
        assert row["lost"] == 0, row
        assert row["messages"] > 0, row
        assert (row["peak_rss_mib"] or 0) > 0, row
    assert report["passed"] is True
    assert code == 0, stderr
