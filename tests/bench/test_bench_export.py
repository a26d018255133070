"""`python -m bench.export --quick --json` runs and reports both contenders (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_export_benchmark_runs(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.export", "--quick", "--json", "--url", redis_url],
        capture_output=True,
        check=True,
        timeout=180,
    )
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert (report["benchmark"], report["better"]) == ("export", "lower")
    figures = report["results"]["peak_mib 10,000 signatures"]
    assert set(figures) == {"ja-engine", "naive"}
