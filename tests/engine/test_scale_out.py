"""Several engine processes on one Redis: the lanes' consumer group shares the queue, and an
engine never takes over what a live one still holds (only what a dead one left)."""

from __future__ import annotations

import trio

from counters import Lane, Store
from engine.app import open_engine
from engine.metrics import Metrics
from smpp.simulator.server import open_simulator
from tests.engine.support import Rig, engine_config
from tests.engine.test_outbound import quiet_sim

OUTBOX = '[outbox]\nconsumer = "{name}"\nreclaim_idle = 1.2\n'


async def test_a_live_engines_slow_backlog_is_not_taken_over(store: Store) -> None:
    """Engine "slow" holds 40 messages behind a 25/s bind for 1.6 s, longer than the 1.2 s
    after which engine "fast" takes over idle entries: "slow" keeps them (it holds them
    every 0.4 s), so every handset gets its message once."""
    async with open_simulator(quiet_sim()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        slow_config = engine_config(
            port, store.keys.namespace, rate=25.0, burst=1, response_timeout=0.5,
            extra=OUTBOX.format(name="slow"),
        )  # fmt: skip
        fast_config = engine_config(
            port, store.keys.namespace, response_timeout=0.5, extra=OUTBOX.format(name="fast")
        )
        async with open_engine(slow_config, metrics=Metrics(), store=store) as slow:
            rig = Rig(sim, slow, store, Metrics())
            await rig.push(40)
            with trio.fail_after(5):
                while slow.outbox.backlog_size() < 30:  # read into memory, waiting for tokens
                    await trio.sleep(0.01)
            fast_metrics = Metrics()
            async with open_engine(fast_config, metrics=fast_metrics, store=store):
                await rig.wait_delivered(40, timeout=10)
                await trio.sleep(0.5)  # a duplicate would arrive now
        assert rig.received(0, 40) == [1] * 40
        assert await store.queues.length(Lane.BULK) == 0
        taken = fast_metrics.registry.get_sample_value(
            "ja_outbox_messages_total", {"lane": "bulk", "result": "sent"}
        )
        assert taken is None  # "fast" sent nothing: there was nothing for it to take
