"""Pause, resume and cancel a running fan-out, with exact counts (the operator's controls)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio

from counters import Lane, Store
from engine.campaigns.model import AppealSpec, AppealView, CampaignError
from engine.campaigns.router import APPEALS_TTL
from tests.campaigns.test_flow import FIRST, subscribe
from tests.campaigns.test_inbound_rules import EXTRA, quiet_sim, send_mo
from tests.engine.support import Rig, rig
from tests.waiting import wait_for

COUNT = 2000
TEXT = "Urgente actie: antwoord JA"


async def wait_view(
    r: Rig, appeal: int, done: Callable[[AppealView], bool], timeout: float = 30.0
) -> AppealView:
    """The appeal's view once ``done(view)`` and the lane is empty. Only the outbox's writes
    to Redis send, set aside or drop messages and empty the lane: they are the signal."""
    views: list[AppealView] = []

    async def reached() -> bool:
        views.append(await r.engine.campaigns.show(appeal))
        return done(views[-1]) and not await r.store.queues.length(Lane.BULK)

    await wait_for(reached, on=r.engine.outbox.writeback.written, timeout=timeout,
                   what="the appeal's counts")  # fmt: skip
    return views[-1]


def received(r: Rig) -> Counter[str]:
    return Counter(rec.number for rec in r.sim.ledger if rec.text == TEXT)


@asynccontextmanager
async def sending(store: Store) -> AsyncIterator[tuple[Rig, AppealView]]:
    """An engine fanning an appeal out to ``COUNT`` subscribers at 400/s, 200 of them sent."""
    await subscribe(store, FIRST, COUNT)
    async with rig(store, quiet_sim(COUNT), router=None, extra=EXTRA, rate=400.0) as r:
        campaigns = r.engine.campaigns
        view = await campaigns.create(AppealSpec(title="P", text=TEXT))
        await campaigns.send(view.id)
        await wait_for(lambda: sum(received(r).values()) >= 200, on=r.sim.centre.changed,
                       timeout=20, what="200 sent")  # fmt: skip
        yield r, view


async def test_pause_sets_the_rest_aside_and_resume_sends_it_once(store: Store) -> None:
    async with sending(store) as (r, view):
        campaigns = r.engine.campaigns
        paused = await campaigns.pause(view.id)
        assert paused.paused
        # Everything queued is either sent or set aside, and nothing more goes out.
        view = await wait_view(
            r,
            view.id,
            lambda v: v.fanout.held > 0 and v.fanout.sent + v.fanout.held == v.fanout.queued,
        )
        assert sum(received(r).values()) == view.fanout.sent < COUNT
        assert view.fanout.remaining == COUNT - view.fanout.sent
        resumed = await campaigns.resume(view.id)
        assert not resumed.paused
        view = await wait_view(r, view.id, lambda v: v.fanout.sent == COUNT)
        assert (view.fanout.held, view.fanout.remaining) == (0, 0)
        assert set(received(r).values()) == {1}
        assert len(received(r)) == COUNT


async def test_cancel_stops_the_fan_out_and_keeps_the_signatures(store: Store) -> None:
    async with sending(store) as (r, view):
        campaigns = r.engine.campaigns
        first = min(received(r))
        send_mo(r.sim, int(first), "JA")
        await r.wait_routed(1)  # signed before the router acknowledged it
        assert await store.appeals.count(view.id) == 1
        cancelled = await campaigns.cancel(view.id)
        assert cancelled.cancelled
        view = await wait_view(
            r, view.id, lambda v: v.fanout.sent + v.fanout.cancelled == COUNT and not v.fanout.held
        )
        assert sum(received(r).values()) == view.fanout.sent < COUNT
        assert view.fanout.remaining == 0
        assert view.signatures == 1  # what was signed before the cancel stays
        second = max(received(r))
        await trio.sleep(APPEALS_TTL)  # the router trusts its copy of an appeal this long
        send_mo(r.sim, int(second), "JA")  # after the cancel: the appeal has closed
        await r.wait_routed(2)
        late = r.metrics.registry.get_sample_value("ja_campaign_ja_total", {"result": "late"})
        assert late == 1
        assert await store.appeals.count(view.id) == 1
        for verb in (campaigns.pause, campaigns.resume, campaigns.cancel):
            with pytest.raises(CampaignError, match="is cancelled"):
                await verb(view.id)
