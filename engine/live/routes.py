"""The public routes: the counter JSON, the live page, its files and its event stream.

``GET /api/v1/public/appeals/{appeal}/counter`` answers from `PublicCounters` (at most one
Redis read per appeal a second). ``GET /live/{appeal}`` is the same static page for every
id (it holds no data; its script asks for the counter), ``/live/static/*`` its files from
the package, ``GET /live/{appeal}/events`` the counter as Server-Sent Events: an event when
the figures change, a comment line as a heartbeat, at most ``max_streams`` streams at once
server-wide (the page falls back to polling the counter), each ended when the client goes
away or after ``STREAM_MAX_AGE`` (the browser reconnects by itself).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from engine.live.counter import CounterUnavailable, PublicCounters, Snapshot

if TYPE_CHECKING:
    from engine.http.app import WebContext

__all__ = ["COUNTER_PATH", "HEARTBEAT", "MAX_STREAMS", "EventStream", "live_routes", "routes"]

COUNTER_PATH = "/api/v1/public/appeals/{appeal:int}/counter"
MAX_STREAMS = 500
"""Event streams open at once, server-wide; one more gets 503 and polls instead."""
HEARTBEAT = 15.0
"""Seconds without an event after which a comment line is sent (proxies close idle ones)."""
STREAM_MAX_AGE = 3600.0
"""Seconds a stream lasts; the browser's EventSource then reconnects."""
RETRY_MS = 3000
STATIC_TYPES = {
    "live.html": "text/html; charset=utf-8",
    "live.css": "text/css; charset=utf-8",
    "live.js": "text/javascript; charset=utf-8",
}
# The page loads nothing from anywhere else (a studio may be offline from every CDN).
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors *"
)
_NOT_FOUND = b'{"error":"no public appeal with this id"}'


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The engine's public route set (``engine.http.app.ROUTE_SETS``)."""
    return live_routes(PublicCounters(ctx.engine.store.appeals))


def live_routes(
    counters: PublicCounters, *, max_streams: int = MAX_STREAMS, heartbeat: float = HEARTBEAT
) -> list[BaseRoute]:
    """The public routes over ``counters`` (tests pass their own, to count its reads)."""
    files = {name: _static(name) for name in STATIC_TYPES}

    async def counter(request: Request) -> Response:
        try:
            snap = await counters.get(request.path_params["appeal"])
        except CounterUnavailable:
            return JSONResponse(
                {"error": "the counter is unavailable; try again shortly"},
                status_code=503,
                headers={"Retry-After": "1", **_public_headers(counters.ttl)},
            )
        return counter_response(snap, request.headers.get("if-none-match"), counters.ttl)

    async def page(request: Request) -> Response:
        return _file(files, "live.html", {"Content-Security-Policy": PAGE_POLICY})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        return _file(files, name, {}) if name in files else Response(status_code=404)

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


def counter_response(snap: Snapshot, if_none_match: str | None, ttl: float) -> Response:
    headers = _public_headers(ttl)
    if snap.body is None:
        return Response(_NOT_FOUND, 404, headers, media_type="application/json")
    headers["ETag"] = snap.etag
    if if_none_match is not None and snap.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    return Response(snap.body, 200, headers, media_type="application/json")


def _public_headers(ttl: float) -> dict[str, str]:
    # Anyone's web page may read it (no credentials, nothing private in it).
    return {
        "Cache-Control": f"public, max-age={max(1, round(ttl))}",
        "Access-Control-Allow-Origin": "*",
    }


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _file(files: dict[str, bytes], name: str, headers: dict[str, str]) -> Response:
    headers = {"Cache-Control": "public, max-age=300", **headers}
    return Response(files[name], 200, headers, media_type=STATIC_TYPES[name])


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
            await _plain(send, 404, _NOT_FOUND)
            return
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
            await self._pump(appeal, snap, send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            nursery.cancel_scope.cancel()

    async def _pump(self, appeal: int, snap: Snapshot, send: Send) -> None:
        async def event(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        await event(f"retry: {RETRY_MS}\n\n".encode())
        last, quiet_since = "", trio.current_time()
        with trio.move_on_after(STREAM_MAX_AGE):
            while snap.body is not None:
                if snap.etag != last:
                    await event(b"data: " + snap.body + b"\n\n")
                    last, quiet_since = snap.etag, trio.current_time()
                elif trio.current_time() - quiet_since >= self._heartbeat:
                    await event(b": heartbeat\n\n")
                    quiet_since = trio.current_time()
                await trio.sleep(self._counters.ttl)
                try:
                    snap = await self._counters.get(appeal)
                except CounterUnavailable:
                    pass  # keep the last figures; the heartbeat keeps the stream open
        if snap.body is None:  # no longer public: the page stops showing it
            await event(b"event: gone\ndata: {}\n\n")


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
