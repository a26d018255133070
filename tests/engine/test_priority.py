"""A thank-you is never stuck behind a bulk appeal."""

from __future__ import annotations

import time

import pytest
import redis
import trio

from counters import Lane, OutboundMessage, Store
from counters.records import encode
from engine.outbox import READ_AHEAD
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from tests.engine.support import rig
from tests.waiting import wait_for


def fill_bulk(client: redis.Redis, key: str, count: int) -> None:
    with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            message = OutboundMessage(ref=f"b{i}", to=f"+{31610000000 + i}", text="appeal")
            pipe.xadd(key, {"e": encode(message)})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()


@pytest.mark.slow
async def test_thank_you_behind_100k_bulk_goes_before_the_bulk_in_memory(
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
        await r.wait_delivered(2000)  # the fan-out is well under way
        due_in = 0.3
        thanks = OutboundMessage(ref="thanks-1", to="+31600000001", text="Dank je! 1234 mensen")
        due = trio.current_time() + due_in  # on the simulator's clock
        await store.queues.schedule(Lane.TRANSACTIONAL, thanks, time.time() + due_in)
        ledger = r.sim.ledger
        await wait_for(
            lambda: bool(ledger.received(31600000001)),
            on=r.sim.centre.changed,
            what="the thank-you sent",
        )
        (sent,) = ledger.received(31600000001)
        # Counted in messages, not seconds (a slow machine sends fewer of both): what of the
        # appeal went out after the thank-you was due and before it. Not the half second of
        # bulk waiting in the engine's memory (it goes to the front of that queue): only what
        # went while the scheduler's 0.1 s tick came round and the batches already admitted.
        ahead = sum(1 for record in ledger if due <= record.t < sent.t)
        print(f"thank-you out {sent.t - due:.3f} s after due, {ahead} bulk messages ahead")
        in_memory = int(2000 * READ_AHEAD)
        assert ahead < in_memory / 2, f"{ahead} bulk messages went first"
        assert await store.queues.length(Lane.BULK) > 50_000  # the appeal was still going
