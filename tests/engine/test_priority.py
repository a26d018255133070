"""A thank-you is never stuck behind a bulk appeal."""

from __future__ import annotations

import time

import pytest
import redis
import trio

from counters import Lane, OutboundMessage, Store
from counters.records import encode
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from tests.engine.support import rig


def fill_bulk(client: redis.Redis, key: str, count: int) -> None:
    with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            message = OutboundMessage(ref=f"b{i}", to=f"+{31610000000 + i}", text="appeal")
            pipe.xadd(key, {"e": encode(message)})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()


@pytest.mark.slow
async def test_thank_you_behind_100k_bulk_goes_out_within_a_second_of_due(
    store: Store, redis_client: redis.Redis
) -> None:
    sim = SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(
            count=20_000_000, first_number="31600000000", reply_probability=0.0,
            stranger_probability=0.0,
        ),
    )  # fmt: skip
    async with rig(store, sim, rate=2000.0, burst=20) as r:
        await trio.to_thread.run_sync(fill_bulk, redis_client, store.keys.lane(Lane.BULK), 100_000)
        with trio.fail_after(10):
            while r.sim.ledger.count() < 2000:  # the fan-out is well under way
                await trio.sleep(0.05)
        due = time.time() + 0.3
        thanks = OutboundMessage(ref="thanks-1", to="+31600000001", text="Dank je! 1234 mensen")
        await store.queues.schedule(Lane.TRANSACTIONAL, thanks, due)
        with trio.fail_after(5):
            while not r.sim.ledger.received(31600000001):
                await trio.sleep(0.005)
        delay = time.time() - due
        print(f"thank-you out {delay:.3f} s after due")
        assert delay < 1.0, f"thank-you went out {delay:.3f} s after it was due"
        assert await store.queues.length(Lane.BULK) > 50_000  # the appeal was still going
