"""``python -m bench --quick`` runs every scenario and writes the JSON results, the Markdown
report and the charts where it is told (never over the committed report); nothing about
speed is asserted."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from bench import markdown, suite
from bench.__main__ import paths_for

ROOT = Path(__file__).resolve().parents[2]
CHARTS = {"fanout-receipts-on", "fanout-receipts-off", "latency", "burst-ja-per-second"}


def assert_drawn(path: Path) -> None:
    """A real chart: a sizeable image, mostly background, with lines in several colours."""
    pixels = imread(path)[:, :, :3]
    assert pixels.shape[0] > 200
    assert pixels.shape[1] > 400
    ink = np.any(pixels < 0.9, axis=2).mean()
    assert 0.01 < ink < 0.6, f"{path.name}: {ink:.1%} of the pixels are not background"
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 16, f"{path.name}: {len(colours)} colours"


@pytest.mark.slow
def test_quick_suite_writes_results_report_and_charts(redis_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--url", redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]
    assert f"report: {tmp_path / 'benchmarks.md'}" in done.stdout

    document: dict[str, Any] = json.loads((tmp_path / "latest.json").read_text())
    assert (document["size"], document["command"]) == ("quick", "python -m bench --quick")
    assert document["machine"]["cpus"] >= 1
    assert list(document["scenarios"]) == list(suite.SCENARIOS)
    for name, entry in document["scenarios"].items():
        assert "error" not in entry, f"{name}: {entry.get('error')}"
        assert entry["size"] == "quick"
        assert entry["report"]["results"], name
    fanout = document["scenarios"]["fanout"]["report"]
    assert fanout["headline"] == "fanout_receipts_on"
    assert {"fanout_receipts_on", "fanout_receipts_off"} <= set(fanout["results"])
    for case in ("fanout_receipts_on", "fanout_receipts_off"):
        assert {"ja-engine", "smpplib"} <= set(fanout["series"][case])
    assert document["scenarios"]["burst"]["report"]["series"]["ja-engine"]["t"]

    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("# Benchmarks", "## Reproduce", "## Machine", "## Fan-out", "## TV burst"):
        assert heading in report
    assert ".venv/bin/python -m bench" in report
    assert "| ja-engine |" in report
    assert "vs this" in report
    linked = set(re.findall(r"!\[[^\]]*\]\((bench/[^)]+\.png)\)", report))
    assert {f"bench/{name}.png" for name in CHARTS} == linked
    for chart in linked:
        assert_drawn(tmp_path / chart)


def test_the_committed_report_is_only_written_by_a_full_run() -> None:
    committed = paths_for(None)
    assert committed.results == ROOT / "bench/results/latest.json"
    assert committed.report == ROOT / "docs/benchmarks.md"
    assert committed.charts == ROOT / "docs/bench"
    elsewhere = paths_for(Path("/tmp/x"))
    assert elsewhere.report == Path("/tmp/x/benchmarks.md")


def test_only_keeps_the_other_scenarios_of_the_same_size() -> None:
    previous = {"size": "full", "scenarios": {"codec": {"seconds": 1}, "fanout": {"seconds": 2}}}
    fresh = {"fanout": {"seconds": 3}}
    merged = suite.merge(previous, fresh, "full")
    assert merged == {"codec": {"seconds": 1}, "fanout": {"seconds": 3}}
    assert suite.merge(previous, fresh, "quick") == fresh  # never mixes sizes


def test_results_are_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    suite.write_document(path, {"ratio": math.inf, "p99": [math.nan, 1.5]})
    assert json.loads(path.read_text()) == {"ratio": None, "p99": [None, 1.5]}


def test_a_case_table_has_medians_ranges_and_ratios() -> None:
    report = {
        "unit": "msg/s",
        "results": {
            "fanout_receipts_on": {
                "ja-engine": {"median": 20000.0, "min": 19000.0, "max": 21000.0},
                "ja-engine x2": {"median": 30000.0, "min": 29000.0, "max": 31000.0},
                "smpplib": {"median": 10000.0, "min": 9000.0, "max": 11000.0},
            }
        },
        "ratios": {
            "fanout_receipts_on": {"vs_smpplib": 2.0},
            "fanout_receipts_on ja-engine x2": {"vs_smpplib": 3.0},
        },
    }
    lines = markdown.case_table(report, "fanout_receipts_on")
    assert lines[0] == "**fanout_receipts_on** (msg/s, higher is better)"
    assert "| contender | median | min-max | ja-engine vs this | ja-engine x2 vs this |" in lines
    assert "| smpplib | 10,000 | 9,000-11,000 | 2.00x | 3.00x |" in lines


def test_an_unknown_scenario_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "no scenario nope" in done.stderr


def test_the_summary_names_each_headline_with_its_ratios() -> None:
    stats = {"median": 10.0, "min": 9.0, "max": 11.0}
    scenarios = {
        "export": {
            "report": {
                "unit": "MiB",
                "results": {
                    "peak_mib 10 signatures": {"ja-engine": stats, "naive": stats},
                    "peak_mib 100 signatures": {"ja-engine": stats, "naive": stats},
                },
                "ratios": {"peak_mib 100 signatures": {"vs_naive": 4.0}},
            }
        }
    }
    rows = markdown.summary(scenarios)
    assert rows[2] == "| Export, peak memory (largest appeal) (MiB) | 10.0 | naive 4.00x |"
    assert markdown.summary({}) == []
