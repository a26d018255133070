"""The demo, in process, against the test Redis: it must exit 0 with every figure reconciled."""

from __future__ import annotations

import re

import pytest
import redis
import trio

from counters import Keys
from engine.demo import DemoOptions, run_demo


@pytest.mark.slow
async def test_demo_reconciles_every_figure(redis_url: str, redis_client: redis.Redis) -> None:
    lines: list[str] = []
    # 10,000 handsets: JA variants, duplicates, STOP, HELP, typos, strangers on a public appeal.
    options = DemoOptions(recipients=10_000, redis_url=redis_url, write=lines.append)
    with trio.fail_after(120):
        code = await run_demo(options)
    output = "\n".join(lines)
    assert code == 0, output

    checks = [line.strip() for line in lines if line.strip()[:1] in ("✓", "✗")]
    assert not [c for c in checks if c.startswith("✗")], output
    summary = re.search(r"✓ all (\d+) checks passed", output)
    assert summary is not None, output
    assert int(summary[1]) == len(checks) - 1 >= 10, output  # the last line is the verdict
    for topic in ("appeal:", "receipts:", "signatures", "duplicates rejected", "opt-outs",
                  "HELP answered", "thank-yous", "outcome recipients"):  # fmt: skip
        assert any(c[2:].startswith(topic) for c in checks), f"no check on {topic}\n{output}"

    # Fresh data each run: the run's namespace is gone afterwards.
    found = re.search(r"namespace (demo[\w-]+) deleted", output)
    assert found is not None, output
    for pattern in Keys(found[1]).pattern():
        assert not list(redis_client.scan_iter(match=pattern, count=1000)), pattern
