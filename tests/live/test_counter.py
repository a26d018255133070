"""The public counter and its event stream over real sockets on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import trio

from counters import Store
from engine.campaigns.model import AppealSpec
from engine.http import serving
from engine.live import PublicCounters
from smpp.simulator.ledger import Kind
from tests.campaigns.test_flow import (
    APPEAL,
    EXTRA,
    signers_in_ledger,
    sim_config,
    subscribe,
    wait_settled,
)
from tests.engine.support import rig
from tests.live.support import SERVERS, EventReader, appeal, serving_live
from tests.ops.client import get
from tests.waiting import poll_for, wait_for

COUNTER = "/api/v1/public/appeals/{}/counter"


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> str:
    """Each test below runs against both servers of the public routes."""
    return str(request.param)


async def test_only_sent_public_appeals_are_shown_and_all_others_look_alike(
    store: Store, server: str
) -> None:
    shown = await appeal(store, "Ahmed vrij")
    private = await appeal(store, "Alleen leden", public=False)
    draft = await appeal(store, "Nog niet uitgezonden", send=False)
    for subscriber in range(1, 4):
        await store.appeals.sign(shown, subscriber, text="JA", message_id=f"m{subscriber}")
    async with serving_live(PublicCounters(store.appeals), server) as port:
        reply = await get(port, COUNTER.format(shown))
        assert reply.status == 200
        body = reply.json()
        assert set(body) == {
            "appeal", "title", "count", "per_minute", "sent_at", "opened_at", "updated_at",
        }  # fmt: skip
        assert (body["appeal"], body["title"], body["count"]) == (shown, "Ahmed vrij", 3)
        assert len(body["per_minute"]) == 60
        assert body["per_minute"][-1] == 3  # signed this minute (the last entry is now)
        assert body["sent_at"].endswith("Z")
        assert reply.headers["cache-control"] == "public, max-age=1"
        assert reply.headers["access-control-allow-origin"] == "*"
        again = await get(
            port, COUNTER.format(shown), headers=(("If-None-Match", reply.headers["etag"]),)
        )
        assert again.status == 304
        anything = await get(port, COUNTER.format(shown), headers=(("If-None-Match", "*"),))
        assert anything.status == 304

        refusals = [await get(port, COUNTER.format(a)) for a in (private, draft, 999)]
        assert {r.status for r in refusals} == {404}
        assert len({r.body for r in refusals}) == 1  # unknown, private, draft: the same answer
        assert (await get(port, COUNTER.format(shown), method="POST")).status == 405


@pytest.mark.slow
async def test_many_concurrent_requests_cost_one_redis_read_a_second(
    store: Store, server: str
) -> None:
    shown = await appeal(store, "Drukte")
    counters = PublicCounters(store.appeals)
    async with serving_live(counters, server) as port:
        started = trio.current_time()
        statuses: list[int] = []

        async def client() -> None:
            for _ in range(5):
                statuses.append((await get(port, COUNTER.format(shown))).status)

        async with trio.open_nursery() as nursery:
            for _ in range(60):
                nursery.start_soon(client)
        elapsed = trio.current_time() - started
    assert statuses == [200] * 300
    # One read per appeal per second at most (the first one included), however many asked.
    assert 1 <= counters.reads <= int(elapsed / counters.ttl) + 1, (counters.reads, elapsed)


async def test_a_refresh_is_shared_by_everyone_waiting_for_it(store: Store) -> None:
    shown = await appeal(store, "Eén keer lezen")
    counters = PublicCounters(store.appeals, ttl=3600)
    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(counters.get, shown)
    assert counters.reads == 1


@pytest.mark.slow
async def test_the_event_stream_follows_the_count_and_is_bounded(store: Store, server: str) -> None:
    shown = await appeal(store, "Live")
    counters = PublicCounters(store.appeals, ttl=0.05)
    async with serving_live(counters, server, max_streams=1, heartbeat=0.1) as port:
        path = f"/live/{shown}/events"
        async with EventReader.open(port, path) as events:
            assert events.status == 200
            assert (await events.counter())["count"] == 0
            await store.appeals.sign(shown, 7, text="JA", message_id="m7")
            assert (await events.counter())["count"] == 1
            # Nothing new: a heartbeat keeps the stream open (an event may come first when
            # the minute turns and the hour's series moves, with the same count).
            while (block := await events.next())[0] == "message":
                assert json.loads(block[1])["count"] == 1
            assert block == ("comment", "heartbeat")
            # The server-wide cap: one more stream is refused (the page polls instead).
            async with EventReader.open(port, path) as refused:
                assert refused.status == 503
        async with EventReader.open(port, "/live/999/events") as unknown:
            assert unknown.status == 404

        # The first client went away: its slot comes free once the server reads the close
        # (no signal of that reaches the test, hence the polling).
        async def free() -> bool:
            async with EventReader.open(port, path) as retry:
                return retry.status == 200

        await poll_for(free, timeout=5, what="the stream's slot freed")


@pytest.mark.slow
async def test_the_engine_serves_the_count_of_a_whole_flow(store: Store) -> None:
    """Subscribers and strangers reply JA to a public appeal through the simulator; the
    engine's own server (``ROUTE_SETS``) then shows exactly the count Redis holds."""
    count = 200
    await subscribe(store, 31600000000, count)
    async with rig(store, sim_config(count), router=None, extra=EXTRA) as r:
        view = await r.engine.campaigns.create(AppealSpec(title="Flow", text=APPEAL, public=True))
        await r.engine.campaigns.send(view.id)
        shown = view.id
        await wait_for(
            lambda: r.sim.ledger.count(Kind.MT) >= count,
            on=r.sim.centre.changed,
            timeout=30,
            what="the appeal sent",
        )
        await wait_settled(r)
        async with serving(r.engine) as port:
            body = (await get(port, COUNTER.format(shown))).json()
        signed = await store.appeals.count(shown)
        assert body["count"] == signed == len(signers_in_ledger(r)) > 0
        assert sum(body["per_minute"]) == signed  # all within the last hour
        sent_at = dt.datetime.fromisoformat(body["sent_at"]).timestamp()
        assert abs(time.time() - sent_at) < 3600


async def test_random_ids_cost_one_index_read_and_no_figures_read(store: Store) -> None:
    shown = await appeal(store, "Echt")
    counters = PublicCounters(store.appeals, ttl=3600)
    assert (await counters.get(shown)).body is not None
    for wrong in range(shown + 1, shown + 500):
        assert (await counters.get(wrong)).body is None
    assert (counters.reads, counters.index_reads) == (1, 1)
    assert (await counters.get(shown)).body is not None  # still cached, not pushed out
