"""Public appeals for the live tests, and a small Server-Sent Events reader over h11."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import h11
import trio
from starlette.applications import Starlette

from counters import Store
from engine.campaigns.appeals import Campaigns
from engine.campaigns.model import AppealSpec
from engine.campaigns.settings import CampaignConfig
from engine.config import HttpConfig
from engine.http import serve_app
from engine.live import PublicCounters, live_routes
from engine.live.server import PublicServer, serve_public

TEXT = "Stop de marteling van Ahmed. Antwoord JA om te tekenen."


async def appeal(store: Store, title: str, *, public: bool = True, send: bool = True) -> int:
    campaigns = Campaigns(store, CampaignConfig())
    view = await campaigns.create(AppealSpec(title=title, text=TEXT, public=public))
    if send:
        await campaigns.send(view.id)
    return view.id


SERVERS = ("asgi", "public")
"""The two servers of the public routes: the engine's own (Starlette on Hypercorn) and the
public server (`engine.live.server`)."""


@asynccontextmanager
async def serving_live(
    counters: PublicCounters, server: str = "public", **options: Any
) -> AsyncIterator[int]:
    """Only the public routes over ``counters``, by ``server``, on a free loopback port."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        if server == "asgi":
            app = Starlette(routes=live_routes(counters, **options))
            port: int = await nursery.start(serve_app, app, HttpConfig(port=0), stop.wait)
        else:
            public = PublicServer(counters, **options)
            port = await nursery.start(serve_public, public, "127.0.0.1", 0, stop.wait)
        try:
            yield port
        finally:
            stop.set()


class EventReader:
    """One ``GET`` of an event stream, read event by event."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._conn = h11.Connection(h11.CLIENT)
        self._buffer = b""
        self.status = 0

    @classmethod
    @asynccontextmanager
    async def open(cls, port: int, path: str) -> AsyncIterator[EventReader]:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            reader = cls(stream)
            request = h11.Request(method="GET", target=path, headers=[("Host", "127.0.0.1")])
            await stream.send_all(
                reader._conn.send(request) + reader._conn.send(h11.EndOfMessage())
            )
            while not reader.status:
                await reader._more()
            yield reader

    async def _more(self) -> bool:
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                self._conn.receive_data(await self._stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                self.status = event.status_code
                return True
            elif isinstance(event, h11.Data):
                self._buffer += bytes(event.data)
                return True
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return False

    async def next(self) -> tuple[str, str]:
        """The next block: ("message", data) for an event, ("comment", text) for a
        heartbeat, ("end", "") once the stream has ended."""
        while b"\n\n" not in self._buffer:
            if not await self._more():
                return ("end", "")
        block, _, self._buffer = self._buffer.partition(b"\n\n")
        lines = block.decode().split("\n")
        if all(line.startswith(":") for line in lines):
            return ("comment", lines[0][1:].strip())
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        if "data" not in fields:
            return await self.next()  # ``retry:`` alone
        return (fields.get("event", "message"), fields["data"])

    async def counter(self) -> dict[str, Any]:
        """The next counter event's JSON (heartbeats skipped)."""
        while True:
            kind, data = await self.next()
            if kind == "message":
                return dict(json.loads(data))
            assert kind == "comment", (kind, data)
