"""The codec benchmark runs and reports in the agreed shape; its speeds are not asserted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import codec

CASES = {"encode_submit_sm", "decode_deliver_sm_mo", "decode_deliver_sm_receipt"}


@pytest.mark.slow
def test_quick_run_ends_with_the_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert codec.main(["--quick", "--json", "--rounds", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "encode_submit_sm" in lines[1]  # the human-readable table comes first
    report: dict[str, Any] = json.loads(lines[-1])

    peers = {"smpplib"} | ({"smpp34"} if codec.smpp34 is not None else set())
    assert report["benchmark"] == "codec"
    assert report["unit"] == "PDU/s"
    assert "better" not in report  # throughputs: more is better
    assert set(report["results"]) == CASES
    assert set(report["ratios"]) == CASES
    for case in CASES:
        per_contender = report["results"][case]
        assert set(per_contender) == {"ja-engine"} | peers
        for stats in per_contender.values():
            assert set(stats) == {"median", "min", "max"}
            assert 0 < stats["min"] <= stats["median"] <= stats["max"]
        assert set(report["ratios"][case]) == {f"vs_{p}" for p in peers}
        assert all(r > 0 for r in report["ratios"][case].values())


def test_every_contender_does_the_same_work() -> None:
    codec.check_same_work()
