"""The TV call to action: the rate profile and the burst in virtual time."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from smpp.simulator import open_simulator
from smpp.simulator.tv import profile_count
from tests.simulator.helpers import FIRST, esme, make_config

RAMP = [(0.0, 0.0), (60.0, 1000.0), (120.0, 1000.0), (150.0, 0.0)]


def test_profile_integral() -> None:
    assert profile_count(RAMP, 60.0) == pytest.approx(30_000)
    assert profile_count(RAMP, 120.0) == pytest.approx(90_000)
    assert profile_count(RAMP, 1000.0) == pytest.approx(105_000)
    assert profile_count([(0.0, 10.0)], 5.0) == pytest.approx(50)
    assert profile_count([(0.0, math.inf), (10.0, 5.0)], 12.0) == pytest.approx(10)


def test_a_profile_that_steps_down_ends_the_burst() -> None:
    step = [(0.0, 1000.0), (30.0, 1000.0), (30.0, 0.0)]  # 30 s at 1,000/s, then nothing
    assert profile_count(step, 30.0) == pytest.approx(30_000)
    assert profile_count(step, 45.0) == pytest.approx(30_000)


@pytest.mark.slow
async def test_burst_follows_the_profile(autojump_clock: trio.testing.MockClock) -> None:
    tv = {"enabled": True, "profile": [(0.0, 0.0), (10.0, 100.0), (20.0, 100.0), (25.0, 0.0)]}
    config = make_config(tv=tv | {"duplicate_probability": 0.1})
    async with open_simulator(config) as sim, esme(sim, window=256) as (_conn, inbox):
        start = sim.started_at
        await trio.sleep_until(start + 10)
        assert sim.tv is not None
        assert sim.tv.emitted == pytest.approx(500, abs=2)
        await trio.sleep_until(start + 30)
        assert sim.tv.emitted == 1750
        await trio.sleep(1)
        assert len(inbox.mo) == 1750
        numbers = [int(p.source_addr) for p in inbox.mo]
        assert all(n >= 31690000000 for n in numbers)
        assert not any(FIRST <= n < FIRST + 1000 for n in numbers)
        repeats = 1750 - len(set(numbers))
        assert 110 < repeats < 250
        texts = {p.short_message for p in inbox.mo}
        assert texts <= {k.encode() for k in config.tv.keywords}
        assert sim.stats.replies["tv"] == 1750


async def test_max_rate_is_paced_by_the_client(autojump_clock: trio.testing.MockClock) -> None:
    config = make_config(tv={"enabled": True, "profile": [(0.0, math.inf), (1.0, 0.0)]})
    async with open_simulator(config) as sim:
        await trio.sleep(2)
        assert sim.tv is not None
        held = len(sim.account().outbox)
        assert held == sim.tv.emitted == 4096  # nobody bound: topped up, then held
