"""The fan-out benchmark runs end to end and reports in the agreed shape; speed is not asserted."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from bench import fanout
from bench._peers import missing
from bench.fanout import CASES
from engine.metrics import Metrics

PEERS = ("smpplib", "aiosmpplib", "smpp34")


@pytest.mark.slow
def test_quick_run_ends_with_the_json_report(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fanout.main(["--quick", "--json", "--url", redis_url]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("fanout_receipts_on (msg/s")  # the headline table comes first
    report: dict[str, Any] = json.loads(lines[-1])

    assert report["benchmark"] == "fanout"
    assert report["unit"] == "msg/s"
    assert report["headline"] == "fanout_receipts_on"
    cases = [f"{name}_{case}" for case in CASES for name in ("fanout", "client_cpu_per_message")]
    assert set(report["results"]) == {*cases, "submit_p99_half_load"}
    skipped = report.get("skipped", {})
    peers = {p for p in PEERS if p not in skipped}
    assert all(missing(p) is None for p in PEERS if p not in skipped)
    assert "smpplib" in peers  # a hard dependency: it always installs

    ours = {"ja-engine", "ja-engine x2"}  # one engine process, and two sharing the binds
    for case in CASES:
        throughput = report["results"][f"fanout_{case}"]
        assert set(throughput) == ours | peers
        for stats in throughput.values():
            assert set(stats) == {"median", "min", "max"}
            assert 0 < stats["min"] <= stats["median"] <= stats["max"]
        cpu = report["results"][f"client_cpu_per_message_{case}"]
        assert (cpu["unit"], cpu["better"]) == ("us/msg", "lower")
        assert set(cpu) == {"unit", "better"} | ours | peers
        assert all(cpu[name]["median"] > 0 for name in ours | peers)
        # Throughput over time, read from each contender's simulator: every message counted.
        series = report["series"][f"fanout_{case}"]
        assert set(series) == ours | peers
        for name, one in series.items():
            assert len(one["t"]) == len(one["msg_per_s"]) == len(one["held"]) > 0
            sent = report["settings"]["smpplib_messages" if name == "smpplib" else "messages"]
            assert one["totals"]["submitted"] == sent
            assert one["totals"]["dropped"] == 0
    ratio_keys = {
        f"{prefix}_{case}" for prefix in ("fanout", "client_cpu_per_message") for case in CASES
    }
    ratio_keys |= {f"fanout_{case} ja-engine x2" for case in CASES}
    assert set(report["ratios"]) == ratio_keys
    for case in report["ratios"]:
        assert set(report["ratios"][case]) == {f"vs_{p}" for p in peers}
        assert all(r > 0 for r in report["ratios"][case].values())

    latency = report["results"]["submit_p99_half_load"]
    assert latency["unit"] == "ms"
    assert latency["better"] == "lower"
    for name in ours:
        assert 0 < latency[name]["min"] <= latency[name]["max"]
        buckets = report["latency_buckets"][name]
        assert buckets[-1][0] is None  # +Inf, as JSON null
        assert buckets[-1][1] > 0


def test_p99_is_interpolated_inside_its_histogram_bucket() -> None:
    metrics = Metrics()
    for _ in range(90):
        metrics.submit_latency.observe("sim", 0.0005)  # bucket le=0.001
    for _ in range(10):
        metrics.submit_latency.observe("sim", 0.004)  # bucket le=0.005 (0.0025 .. 0.005]
    p99, upper = fanout.histogram_quantile(metrics, 0.99)
    assert upper == 0.005
    # rank 99 of 100: 9 of the 10 observations in (0.0025, 0.005] -> 0.0025 + 0.9 * 0.0025
    assert math.isclose(p99, 0.00475)
    assert math.isnan(fanout.histogram_quantile(Metrics(), 0.99)[0])


def test_quantile_of_buckets_added_up_from_several_processes() -> None:
    one = [(0.001, 50.0), (0.005, 90.0), (0.01, 100.0), (math.inf, 100.0)]
    two = [(0.001, 10.0), (0.005, 50.0), (0.01, 98.0), (math.inf, 100.0)]
    merged = [(le, a + b) for (le, a), (_, b) in zip(one, two, strict=True)]
    p99, upper = fanout.bucket_quantile(merged, 0.99)
    # rank 198 of 200: 58 observations in (0.005, 0.01], 140 below -> 0.005 + 58/58 * 0.005
    assert upper == 0.01
    assert math.isclose(p99, 0.01)
    p50, upper = fanout.bucket_quantile(merged, 0.5)
    assert upper == 0.005  # rank 100: 60 at or below 1 ms, 80 more up to 5 ms
    assert math.isclose(p50, 0.001 + 0.004 * (40 / 80))
    assert math.isnan(fanout.bucket_quantile([], 0.99)[0])
