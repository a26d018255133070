"""The TV-burst benchmark runs end to end, checks itself exactly, and reports in the agreed
shape; speed is not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.burst import rate_series, steady_rate

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_is_exact_and_ends_with_the_json_report(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.burst", "--quick", "--json", "--url", redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("ja_per_second (JA/s")  # the human-readable table comes first
    report: dict[str, Any] = json.loads(lines[-1])

    assert report["benchmark"] == "burst"
    assert report["unit"] == "JA/s"
    rate = report["results"]["ja_per_second"]
    assert set(rate) == {"ja-engine", "naive"}
    for stats in rate.values():
        assert set(stats) == {"median", "min", "max"}
        assert 0 < stats["min"] <= stats["median"] <= stats["max"]
    assert set(report["ratios"]) == {"ja_per_second"}
    assert set(report["ratios"]["ja_per_second"]) == {"vs_naive"}
    assert report["ratios"]["ja_per_second"]["vs_naive"] > 0

    for name in ("thank_you_delay_p50", "thank_you_delay_p99"):
        delay = report["results"][name]
        assert (delay["unit"], delay["better"]) == ("ms", "lower")
        assert set(delay["ja-engine"]) == {"median", "min", "max"}
    p50 = report["results"]["thank_you_delay_p50"]["ja-engine"]["median"]
    assert p50 <= report["results"]["thank_you_delay_p99"]["ja-engine"]["median"]

    exactness = report["exactness"]
    assert exactness["passed"] is True
    runs = exactness["runs"]
    assert {(r["contender"], r["scenario"]) for r in runs} == {
        ("ja-engine", "throughput"),
        ("naive", "throughput"),
        ("ja-engine", "delay"),
    }
    for run in runs:
        assert run["ok"] is True
        assert run["signatures"] == run["expected"] == run["thanks"] > 0
        assert run["unacked"] == 0
        assert run["mo"] > run["expected"]  # the 20% repeats were sent and not counted


def test_steady_rate_reads_the_middle_of_the_progress() -> None:
    # 0 for a second, then 1,000 a second for 10 s, then flat: 800 between 10% and 90%
    samples = [(0.0, 0), (1.0, 0)]
    samples += [(1.0 + t / 10, t * 100) for t in range(1, 101)]
    samples += [(12.0, 10_000), (13.0, 10_000)]
    assert steady_rate(samples) == pytest.approx(1000.0)
    assert steady_rate([]) == 0.0
    assert steady_rate([(0.0, 0), (1.0, 0)]) == 0.0


def test_rate_series_bins_the_count_by_second() -> None:
    # 30 s sampled every 0.1 s: 100 a second for 20 s, then flat
    samples = [(100.0 + t / 10, min(t, 200) * 10) for t in range(301)]
    got = rate_series(samples, start=100.0)
    assert got["t"][:3] == [1.0, 2.0, 3.0]
    assert got["ja_per_s"][:20] == [100.0] * 20
    assert set(got["ja_per_s"][20:]) == {0.0}
    # Under 20 s, the bins shrink so that the chart still has about 20 points.
    short = rate_series([(0.0, 0), (2.0, 1000)], start=0.0)
    assert short["t"][:2] == [0.1, 0.2]
    assert sum(short["ja_per_s"]) * 0.1 == pytest.approx(1000.0)
    assert rate_series([], start=0.0) == {"t": [], "ja_per_s": []}
