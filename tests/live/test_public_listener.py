"""``[http] public_port``: a second listener with only the public counter and the live page,
so a website or a studio screen can reach them without /metrics or the API."""

from __future__ import annotations

import trio

from counters import Store
from engine.config import HttpConfig
from engine.http import serve_public
from tests.campaigns.test_inbound_rules import quiet_sim
from tests.engine.support import rig
from tests.live.support import appeal
from tests.ops.client import get


async def test_the_public_listener_serves_only_the_public_routes(store: Store) -> None:
    shown = await appeal(store, "Ahmed vrij")
    await store.appeals.sign(shown, 1, text="JA", message_id="m1")
    async with rig(store, quiet_sim()) as r, trio.open_nursery() as nursery:
        stop = trio.Event()
        settings = HttpConfig(port=0, public_port=0)
        port = await nursery.start(serve_public, r.engine, settings, stop.wait)
        counter = await get(port, f"/api/v1/public/appeals/{shown}/counter")
        assert counter.status == 200
        assert counter.json()["count"] == 1
        assert (await get(port, f"/live/{shown}")).status == 200
        for hidden in ("/metrics", "/readyz", "/api/v1/appeals", "/api/v1/openapi.json"):
            assert (await get(port, hidden)).status == 404, hidden
        stop.set()
