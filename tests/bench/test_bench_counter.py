"""The public-counter benchmark runs end to end (quiet and hammered bursts, exact both
times) and reports in its shape; speed is not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_hammers_the_counter_during_the_burst(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.counter", "--quick", "--json", "--url", redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("burst JA/s: quiet")
    report: dict[str, Any] = json.loads(lines[-1])
    assert report["benchmark"] == "counter"
    results = report["results"]
    assert set(results["ja_per_second"]) == {"quiet", "hammered"}
    for stats in results["ja_per_second"].values():
        assert stats["median"] > 0
    assert results["counter_requests_per_second"]["median"] > 0
    assert results["counter_p99_ms"]["median"] > 0
    assert results["counter_errors"] == 0
    assert isinstance(report["burst_rate_drop"], float)
    assert report["exactness"]["passed"] is True
