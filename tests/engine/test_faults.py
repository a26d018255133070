"""Carrier faults: every message still reaches its handset exactly once, apart from the
resends of submits whose outcome was unknown, which are counted."""

from __future__ import annotations

from typing import Any

import pytest

from counters import Lane, Store
from smpp.simulator.config import (
    AccountConfig,
    FaultConfig,
    HandsetConfig,
    ReceiptConfig,
    SimulatorConfig,
)
from tests.engine.support import rig

COUNT = 1500


def sim_with(faults: FaultConfig, *, tps: float = 0.0) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw", tps=tps)],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=100_000, reply_probability=0.0, stranger_probability=0.0),
        faults=faults,
    )


FAULTS = {
    "throttling": (FaultConfig(), 300.0),
    "dropped_binds": (FaultConfig(drop_bind_after_seconds=0.7), 0.0),
    "withheld_responses": (FaultConfig(withhold_fraction=0.02), 0.0),
    "refused_binds": (FaultConfig(refuse_binds_for=1.0), 0.0),
    "error_statuses": (FaultConfig(error_fraction=0.05, error_status="ESME_RSYSERR"), 0.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_exactly_once_apart_from_counted_duplicates(store: Store, fault: str) -> None:
    faults, tps = FAULTS[fault]
    options: dict[str, Any] = {"rate": 1000.0, "response_timeout": 0.5, "binds": 2}
    extra = "[outbox]\nretry_initial = 0.05\nretry_max = 0.2\nmax_attempts = 20"
    async with rig(store, sim_with(faults, tps=tps), extra=extra, **options) as r:
        await r.push(COUNT)
        await r.settle(COUNT, timeout=60)  # every one finished as sent: nothing more to come
        assert await store.queues.length(Lane.BULK) == 0
        assert await store.queues.scheduled() == 0
        received = r.received(0, COUNT)
        extra_copies = sum(n - 1 for n in received)
        duplicates = (
            r.metrics.registry.get_sample_value(
                "ja_outbox_possible_duplicates_total", {"lane": "bulk"}
            )
            or 0.0
        )
        assert min(received) == 1
        assert extra_copies <= duplicates, (extra_copies, duplicates)
        if fault == "throttling":
            assert r.sim.account("ja").throttled > 0
            assert extra_copies == 0
        if fault == "refused_binds":
            assert r.sim.stats.binds["refused"] > 0
