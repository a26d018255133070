"""Quiet hours in each recipient's time zone, and appeals that close while held."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from counters import Lane, OutboundMessage, QueuedMessage, Store
from engine.campaigns import AppealSpec, Campaigns
from engine.campaigns.quiet import QuietHours, parse_window
from engine.campaigns.settings import CampaignConfig
from engine.preflight import Preflight
from smpp.simulator.ledger import Kind
from tests.campaigns.test_flow import FIRST, subscribe
from tests.campaigns.test_inbound_rules import quiet_sim
from tests.engine.support import rig
from tests.waiting import wait_for

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(zone: str, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, 30, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def test_quiet_until_the_end_of_the_local_night() -> None:
    quiet = QuietHours("21:00-08:00", "31")
    assert (
        quiet.until("+31612345678", at("Europe/Amsterdam", 22, 30))
        == at("Europe/Amsterdam", 8) + 86400
    )
    assert quiet.until("+31612345678", at("Europe/Amsterdam", 7, 59)) == at("Europe/Amsterdam", 8)
    assert quiet.until("+31612345678", at("Europe/Amsterdam", 12)) is None
    # 21:30 in London is 22:30 in Amsterdam: quiet in both, each until its own 08:00.
    london = at("Europe/London", 21, 30)
    assert quiet.until("+447700900123", london) == at("Europe/London", 8) + 86400
    assert quiet.until("+447700900123", at("Europe/London", 20, 30)) is None
    assert not QuietHours("", "31").enabled
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_window("21:00")


async def test_preflight_holds_appeals_at_night_and_drops_closed_ones(store: Store) -> None:
    campaigns = Campaigns(store, CampaignConfig())
    view = await campaigns.create(AppealSpec(title="Q", text="Q: JA"))
    await campaigns.send(view.id)
    night = at("Europe/Amsterdam", 23)
    preflight = Preflight(store, quiet=QuietHours("21:00-08:00", "31"), wall=lambda: night)

    def entry(n: int, kind: str) -> QueuedMessage:
        message = OutboundMessage(ref=f"r{n}", to="+31612345678", text="x", kind=kind,
                                  appeal=view.id, subscriber=0)  # fmt: skip
        return QueuedMessage(entry_id=f"1-{n}", message=message)

    send, skip = await preflight.check([entry(1, "appeal"), entry(2, "thanks")])
    assert [e.message.kind for e in send] == ["thanks"]  # a reply is never held
    assert skip == [(entry(1, "appeal"), f"quiet:{at('Europe/Amsterdam', 8) + 86400}")]
    late = Preflight(store, wall=lambda: time.time() + 30 * 86400)  # past the reply window
    send, skip = await late.check([entry(3, "appeal")])
    assert (send, skip) == ([], [(entry(3, "appeal"), "expired")])


@pytest.mark.slow
async def test_an_appeal_waits_for_the_end_of_quiet_hours(store: Store) -> None:
    await subscribe(store, FIRST, 20)
    now = dt.datetime.now(AMSTERDAM)
    end = (now + dt.timedelta(seconds=2)).replace(microsecond=0)
    window = f"{(now - dt.timedelta(minutes=1)):%H:%M:%S}-{end:%H:%M:%S}"
    extra = f'[campaigns]\nquiet_hours = "{window}"\n'
    async with rig(store, quiet_sim(), router=None, extra=extra) as r:
        view = await r.engine.campaigns.create(AppealSpec(title="Q", text="Q: antwoord JA"))
        await r.engine.campaigns.send(view.id)
        await wait_for(lambda: r.sim.ledger.count(Kind.MT) >= 20, on=r.sim.centre.changed,
                       timeout=20, what="20 sent once the night is over")  # fmt: skip
        ledger = r.sim.ledger
        first = min(rec.t for rec in ledger if rec.direction == "mt") + ledger.clock_offset
        assert first >= end.timestamp() - 0.05  # nothing before the night was over
        parked = r.metrics.registry.get_sample_value(
            "ja_outbox_messages_total", {"lane": Lane.BULK.value, "result": "parked"}
        )
        assert parked is not None
        assert parked >= 20
