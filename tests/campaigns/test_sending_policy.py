"""Sending policy: at most N appeals a week per subscriber (an urgent appeal goes to
everyone, recorded); an outcome that says how many signed."""

from __future__ import annotations

import msgspec
import pytest

from counters import Store
from engine.campaigns import AppealSpec, CampaignError, Campaigns
from engine.campaigns.fanout import FanOut
from engine.campaigns.settings import CampaignConfig
from engine.metrics import Metrics
from tests.campaigns.test_flow import FIRST, subscribe


async def fan_out(fanout: FanOut, appeal: int) -> None:
    """Expand the appeal's fan-out to its end (as the engines would)."""
    while True:
        await fanout.expand(appeal, "appeal")
        if not fanout.advanced:
            return


async def test_the_weekly_cap_holds_back_all_but_urgent_appeals(store: Store) -> None:
    await subscribe(store, FIRST, 10)
    await subscribe(store, FIRST + 10, 5)  # they received nothing yet
    config = msgspec.structs.replace(CampaignConfig(), max_appeals_per_week=1)
    campaigns = Campaigns(store, config)
    fanout = FanOut(store, config, Metrics())
    await store.queues.ensure_groups()

    first = await campaigns.create(AppealSpec(title="A", text="A: JA", audience_language="nl"))
    await store.subscribers.subscribe_many([f"+{FIRST + 10 + i}" for i in range(5)],
                                           source="test", language="en")  # fmt: skip
    await campaigns.send(first.id)
    await fan_out(fanout, first.id)
    assert (await campaigns.show(first.id)).fanout.queued == 10  # the Dutch ten

    second = await campaigns.create(AppealSpec(title="B", text="B: JA"))
    await campaigns.send(second.id)
    await fan_out(fanout, second.id)
    shown = (await campaigns.show(second.id)).fanout
    assert (shown.queued, shown.capped, shown.skipped) == (5, 10, 10)

    third = await campaigns.create(AppealSpec(title="C", text="C: JA", urgent=True))
    await campaigns.send(third.id)
    await fan_out(fanout, third.id)
    shown = (await campaigns.show(third.id)).fanout
    assert (shown.queued, shown.capped) == (15, 0)
    assert (await store.appeals.meta(third.id)).extra["urgent"] == "1"  # type: ignore[union-attr]


async def test_the_outcome_may_say_how_many_signed(store: Store) -> None:
    campaigns = Campaigns(store, CampaignConfig())
    view = await campaigns.create(AppealSpec(title="O", text="O: JA"))
    await campaigns.send(view.id)
    ids = await store.subscribers.ids([f"+3161000{n:04d}" for n in range(1200)])
    await store.appeals.sign_many([(view.id, i, "JA", f"m{i}") for i in ids])
    with pytest.raises(CampaignError, match=r"unknown placeholder \{name\}"):
        await campaigns.outcome(view.id, "Dank {name}!")
    shown = await campaigns.outcome(view.id, "Dankzij {count} handtekeningen is hij vrij.")
    assert shown.outcome_text == "Dankzij 1.200 handtekeningen is hij vrij."
