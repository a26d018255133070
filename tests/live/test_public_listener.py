"""The public server (`engine.live.server`) over real sockets: only the public routes, and a
clear answer (then a close) for every request it will not serve."""

from __future__ import annotations

from typing import Any, cast

import pytest
import trio
import trio.testing

from counters import Store
from engine.live import PublicCounters
from engine.live.server import PublicServer, serve_public
from tests.live.support import appeal, serving_live
from tests.ops.client import get


async def test_it_serves_only_the_public_routes(store: Store) -> None:
    shown = await appeal(store, "Ahmed vrij")
    await store.appeals.sign(shown, 1, text="JA", message_id="m1")
    async with serving_live(PublicCounters(store.appeals)) as port:
        counter = await get(port, f"/api/v1/public/appeals/{shown}/counter?cache=no")
        assert counter.status == 200
        assert counter.json()["count"] == 1
        assert counter.headers["x-content-type-options"] == "nosniff"
        head = await get(port, f"/api/v1/public/appeals/{shown}/counter", method="HEAD")
        assert (head.status, head.body) == (200, b"")
        page = await get(port, f"/live/{shown}")
        assert page.status == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        script = await get(port, "/live/static/live.js")
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
        hidden = ("/metrics", "/readyz", "/api/v1/appeals", "/api/v1/openapi.json",
                  "/live/static/../../engine/app.py", "/live/static/secret.txt")  # fmt: skip
        for path in hidden:
            assert (await get(port, path)).status == 404, path


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(data)
            received = b""
            while chunk := await stream.receive_some(65536):
                received += chunk
            return received


REFUSED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /live/1 HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"POST /live/1/events HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /live/1 HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET /live/1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
    (b"GET ftp://elsewhere/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /live/1 HTTP/1.1\nHost: x\n\n", 400),  # bare LF: refused at once
    (b"GET /live/1 HTTP/1.1\r\nHost: a b/c@d\r\n\r\n", 400),
    (b"GET /live/1 HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    (b"GET /live/1 HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400),
    (b"GET /live/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400),
    (b"GET /live/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"DELETE /live/1 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"BREW /live/1 HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
]


@pytest.mark.parametrize(("data", "status"), REFUSED)
async def test_a_request_it_will_not_serve_gets_its_status_and_a_close(
    store: Store, data: bytes, status: int
) -> None:
    async with serving_live(PublicCounters(store.appeals)) as port:
        answer = await exchange(port, data)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:80]
    assert b"\r\nConnection: close\r\n" in answer
    if status == 405:
        assert b"\r\nAllow: GET, HEAD\r\n" in answer


async def test_pipelined_requests_are_answered_in_order_and_http10_closes(store: Store) -> None:
    shown = await appeal(store, "Op volgorde")
    async with serving_live(PublicCounters(store.appeals)) as port:
        two = (
            b"GET /live/static/live.css HTTP/1.1\r\nHost: x\r\n\r\n"
            + f"GET /api/v1/public/appeals/{shown}/counter HTTP/1.1\r\nHost: x\r\n".encode()
            + b"Connection: close\r\n\r\n"
        )
        answers = await exchange(port, two)
        first, second = answers.split(b"HTTP/1.1 ")[1:]
        assert first.startswith(b"200 ")
        assert b"text/css" in first
        assert second.startswith(b"200 ")
        assert b'"title":"Op volgorde"' in second
        # Empty lines before a request, a later HTTP/1.x, the absolute form: all served.
        lenient = b"\r\n\r\nGET http://live.example.org/live/static/live.css HTTP/1.2\r\n"
        lenient += b"Host: live.example.org:443\r\nConnection: close\r\n\r\n"
        assert (await exchange(port, lenient)).startswith(b"HTTP/1.1 200 ")
        events = f"HEAD /live/{shown}/events HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".encode()
        streamed = await exchange(port, events)  # the head alone, then the close
        assert streamed.startswith(b"HTTP/1.1 200 ")
        assert streamed.endswith(b"\r\n\r\n")
        assert b"text/event-stream" in streamed
        old = await exchange(port, b"GET /live/static/live.css HTTP/1.0\r\n\r\n")
        assert old.startswith(b"HTTP/1.1 200 ")
        assert b"\r\nConnection: close\r\n" in old
        kept = b"GET /live/static/live.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        with trio.fail_after(10):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(kept)
                answer = b""
                while b"\r\n\r\n" not in answer:
                    answer += await stream.receive_some(65536)
                assert b"\r\nConnection: keep-alive\r\n" in answer


async def test_a_head_that_does_not_arrive_in_time_gets_408(store: Store) -> None:
    async with serving_live(PublicCounters(store.appeals), head_timeout=0.2) as port:
        answer = await exchange(port, b"GET /live/1 HTTP/1.1\r\nHost:")
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert await exchange(port, b"") == b""  # idle: closed without a word


async def test_a_connection_over_the_limit_gets_503(store: Store) -> None:
    server = PublicServer(PublicCounters(store.appeals), max_connections=1)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_public, server, "127.0.0.1", 0, stop.wait)
        with trio.fail_after(10):
            held = await trio.open_tcp_stream("127.0.0.1", port)
            async with held:
                await held.send_all(b"GET /live/static/live.css HTTP/1.1\r\nHost: x\r\n\r\n")
                assert (await held.receive_some(65536)).startswith(b"HTTP/1.1 200 ")
                assert server.connections == 1  # kept alive, so the limit is reached
                refused = await exchange(port, b"GET /live/1 HTTP/1.1\r\nHost: x\r\n\r\n")
                assert refused.startswith(b"HTTP/1.1 503 ")
        stop.set()


async def test_answers_are_paced_server_wide(autojump_clock: trio.testing.MockClock) -> None:
    # Static files only: no Redis behind them, so virtual time is the only clock here.
    server = PublicServer(PublicCounters(cast(Any, None)), max_rate=1.0)
    client, served = trio.testing.memory_stream_pair()
    arrived: list[float] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle, served)
        request = b"GET /live/static/live.css HTTP/1.1\r\nHost: x\r\n\r\n"
        await client.send_all(request * 3)
        received = b""
        while len(arrived) < 3:
            received += await client.receive_some()
            arrived += [trio.current_time()] * (received.count(b"HTTP/1.1 200 ") - len(arrived))
        await client.aclose()
    assert arrived == pytest.approx([arrived[0], arrived[0] + 1, arrived[0] + 2])


async def test_an_event_stream_client_that_stops_reading_ends_only_its_own_connection(
    store: Store,
) -> None:
    shown = await appeal(store, "Niet lezen")
    server = PublicServer(PublicCounters(store.appeals, ttl=0.01), send_timeout=0.2)
    # Lockstep: every write waits for the client to read it, as a full socket buffer would.
    client, served = trio.testing.lockstep_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.handle, served)
            await client.send_all(f"GET /live/{shown}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert (await client.receive_some()).startswith(b"HTTP/1.1 200 ")
            assert server.streams == 1
            # ... and reads nothing more: the next event's write times out, and handle()
            # returns (before the fix, it raised and took the whole server down).
    assert (server.streams, server.connections) == (0, 0)
