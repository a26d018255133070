"""The public routes on the engine's own HTTP server (Starlette).

The same answers as the public server (`engine.live.server`), from `engine.live.answers`:
``GET /api/v1/public/appeals/{appeal}/counter`` from `PublicCounters` (at most one Redis
read per appeal a second), ``GET /live/{appeal}`` the page (the same for every id: it holds
no data, its script asks for the counter), ``/live/static/*`` its files, and
``GET /live/{appeal}/events`` the counter as Server-Sent Events (`engine.live.events`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from engine.live import events
from engine.live.answers import (
    NOT_FOUND,
    Answer,
    counter_answer,
    file_answer,
    unavailable_answer,
)
from engine.live.counter import CounterUnavailable, PublicCounters

if TYPE_CHECKING:
    from engine.http.app import WebContext

__all__ = ["COUNTER_PATH", "EventStream", "live_routes", "routes"]

COUNTER_PATH = "/api/v1/public/appeals/{appeal:int}/counter"


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The engine's public route set (``engine.http.app.ROUTE_SETS``)."""
    return live_routes(PublicCounters(ctx.engine.store.appeals))


def live_routes(
    counters: PublicCounters,
    *,
    max_streams: int = events.MAX_STREAMS,
    heartbeat: float = events.HEARTBEAT,
) -> list[BaseRoute]:
    """The public routes over ``counters`` (tests pass their own, to count its reads)."""

    async def counter(request: Request) -> Response:
        try:
            snap = await counters.get(request.path_params["appeal"])
        except CounterUnavailable:
            return _response(unavailable_answer(counters.ttl))
        inm = request.headers.get("if-none-match")
        return _response(counter_answer(snap, inm, counters.ttl))

    async def page(request: Request) -> Response:
        answer = file_answer("live.html")
        assert answer is not None
        return _response(answer)

    async def static(request: Request) -> Response:
        answer = file_answer(request.path_params["name"])
        return Response(status_code=404) if answer is None else _response(answer)

    return [
        Route(COUNTER_PATH, counter, methods=["GET"]),
        Route("/live/static/{name}", static, methods=["GET"]),
        Route("/live/{appeal:int}", page, methods=["GET"]),
        Route(
            "/live/{appeal:int}/events",
            EventStream(counters, max_streams=max_streams, heartbeat=heartbeat),
            methods=["GET"],
        ),
    ]


def _response(answer: Answer) -> Response:
    return Response(answer.body, answer.status, dict(answer.headers))


class EventStream:
    """``/live/{appeal}/events`` as a raw ASGI app: the stream holds its slot for exactly as
    long as it runs, and ends as soon as the client's disconnect arrives."""

    def __init__(self, counters: PublicCounters, *, max_streams: int, heartbeat: float) -> None:
        self._counters = counters
        self._max = max_streams
        self._heartbeat = heartbeat
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.open >= self._max:
            await _plain(send, 503, b"too many live streams; poll the counter instead")
            return
        self.open += 1
        try:
            await self._serve(scope["path_params"]["appeal"], receive, send)
        finally:
            self.open -= 1

    async def _serve(self, appeal: int, receive: Receive, send: Send) -> None:
        try:
            snap = await self._counters.get(appeal)
        except CounterUnavailable:
            await _plain(send, 503, b"the counter is unavailable; try again shortly")
            return
        if snap.body is None:
            await _plain(send, 404, NOT_FOUND)
            return
        headers = [(k.lower().encode(), v.encode()) for k, v in events.HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def emit(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
            await events.pump(self._counters, appeal, snap, emit, heartbeat=self._heartbeat)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            nursery.cancel_scope.cancel()


async def _until_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def _plain(send: Send, status: int, body: bytes) -> None:
    kind = b"application/json" if body.startswith(b"{") else b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
