"""``python -m bench.counters --quick`` runs and prints the JSON report last (speed not checked)."""

from __future__ import annotations

import json

import pytest

from bench import counters as bench


@pytest.mark.slow
def test_quick_benchmark_reports_in_the_agreed_format(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--quick", "--json", "--rounds", "1", "--url", redis_url]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["benchmark"] == "counters"
    assert report["unit"] == "JA/s"
    assert set(report["results"]["sign"]) == {"ja-engine", "redis-py-naive"}
    assert report["ratios"]["sign"]["vs_redis-py-naive"] > 0
    assert report["results"]["lone_ja_latency_p99"]["better"] == "lower"
    assert report["results"]["bytes_per_signer_dedupe"]["unit"].startswith("bytes")
