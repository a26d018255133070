"""An engine killed (SIGKILL) in the middle of an appeal's fan-out, then started again."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio

from counters import Keys, Lane, Store
from engine.campaigns.appeals import Campaigns
from engine.campaigns.model import AppealSpec, AppealStatus
from engine.campaigns.settings import CampaignConfig
from smpp.simulator.server import open_simulator
from tests.campaigns.test_flow import FIRST, subscribe
from tests.engine.test_run_process import (
    engine_process,
    kill_after,
    simulator,
    wait_reached,
    write_config,
)
from tests.waiting import poll_for

PACED = """
[campaigns]
fanout_chunk = 512
fanout_high_water = 1000
"""


@pytest.mark.slow
async def test_killed_mid_fan_out_then_restarted_reaches_everyone_once(
    tmp_path: Path, redis_url: str, keys: Keys, store: Store
) -> None:
    """The fan-out's cursor and sent bitmap live in Redis: the restarted engine goes on where
    the dead one stopped. Only submits in flight at the kill (at most the window) may reach a
    handset twice, and each is counted."""
    count, window = 3000, 64
    await subscribe(store, FIRST, count)
    campaigns = Campaigns(store, CampaignConfig())  # the operator's side: no engine needed
    view = await campaigns.create(AppealSpec(title="Restart", text="Urgent: reply JA"))
    async with open_simulator(simulator()) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        path = write_config(tmp_path, "ja.toml", redis_url, keys, port, rate=1500, window=window)
        path.write_text(path.read_text() + PACED)
        await campaigns.send(view.id)
        async with engine_process(path) as first:
            await kill_after(sim, first, count // 3)
        assert sim.ledger.count() < count
        at_kill = await campaigns.show(view.id)
        assert at_kill.status is AppealStatus.SENDING
        assert at_kill.fanout.queued < count  # the fan-out itself was cut off, not only sending
        async with engine_process(path) as second:
            await wait_reached(sim, count, timeout=30)

            async def drained() -> bool:  # by the engine process: no signal reaches us
                return not await store.queues.length(Lane.BULK) and not await store.appeals.jobs()

            await poll_for(drained, timeout=30, what="the lane and the jobs empty")
            duplicates = await trio.to_thread.run_sync(
                second.sample, "ja_outbox_possible_duplicates_total"
            )
            second.process.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                await second.process.wait()
        received = [len(sim.ledger.received(FIRST + i)) for i in range(count)]
        extra = sum(n - 1 for n in received)
        assert min(received) == 1
        assert extra <= duplicates <= window, (extra, duplicates)
        shown = await campaigns.show(view.id)
        assert shown.status is AppealStatus.SENT
        assert shown.fanout.queued == count
