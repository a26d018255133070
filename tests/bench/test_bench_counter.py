"""The public-counter benchmark runs end to end (quiet and hammered bursts, exact both
times) and reports in its shape; speed is not asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench._report import OURS
from bench.counter import QUIET, Polled, wrk_figures

ROOT = Path(__file__).resolve().parents[2]

WRK = """\
Running 1m test @ http://127.0.0.1:18080/api/v1/public/appeals/1/counter
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    46.77ms  111.98ms 987.38ms   93.43%
    Req/Sec     5.11k     1.65k   10.77k    82.76%
  Latency Distribution
     50%   19.76ms
     75%   22.21ms
     90%   38.88ms
     99%    1.02s{space}
  29505 requests in 3.01s, 14.35MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:   9815.45
Transfer/sec:      4.77MB
""".format(space=" ")  # wrk pads a latency in seconds with a space


def test_wrk_summary_is_read_with_its_units() -> None:
    assert wrk_figures(WRK) == Polled(29505, 10, 3.01, 19.76, 1020.0)
    with pytest.raises(ValueError, match="unexpected wrk output"):
        wrk_figures("wrk: command not found")


LOADS = [
    "python",
    pytest.param(
        "wrk", marks=pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed")
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("load", LOADS)
def test_quick_run_hammers_the_counter_during_the_burst(redis_url: str, load: str) -> None:
    command = [sys.executable, "-m", "bench.counter", "--quick", "--json", "--url", redis_url]
    done = subprocess.run(
        [*command, "--load", load],
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
    assert set(results["ja_per_second"]) == {"unit", OURS, QUIET}
    for name in (OURS, QUIET):
        assert results["ja_per_second"][name]["median"] > 0
    for case in ("counter_requests_per_second", "counter_p50_ms", "counter_p99_ms"):
        assert results[case][OURS]["median"] > 0, case
    assert report["ratios"]["ja_per_second"][f"vs_{QUIET}"] > 0
    assert report["counter_errors"] == 0
    assert isinstance(report["burst_rate_drop"], float)
    assert report["exactness"]["passed"] is True
    assert report["settings"]["load"] == load
