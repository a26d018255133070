"""The public server: the counter, the live page and its event stream, and nothing else.

This is the listener a website, a CDN or a studio screen reaches (``[http] public_port``).
It runs in a process of its own (`engine.live.process`), so a flood of requests on the
night of a TV appeal costs that process's CPU, never the event loop that takes the
signatures. Each request is answered from `PublicCounters` (one Redis read per appeal a
second, however many clients) with a hand-checked HTTP/1.1 subset (`engine.live.wire`):
about a tenth of the Python per request of the engine's own ASGI server.

Limits, each answered rather than left to pile up: at most ``max_rate`` answers a second
across all connections (`Pacer`: more wait their turn, so a flood of requests costs the
machine a bounded amount of CPU however hard it pushes; refusals, which close their
connection, are not paced), ``max_connections`` at once (one more gets 503 and is
closed), a request head must arrive whole within ``head_timeout`` seconds
of the server starting to wait for it (a client that trickles it is closed), event streams
are capped at ``max_streams`` (then 503: the page polls instead), and requests on one
connection are answered in order (pipelining works, one at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from engine.live import events
from engine.live.answers import (
    NOT_FOUND,
    Answer,
    counter_answer,
    file_answer,
    resolve,
    unavailable_answer,
)
from engine.live.counter import CounterUnavailable, PublicCounters
from engine.live.wire import MAX_HEAD, BadRequest, RequestHead, head_end, parse_head, render

__all__ = ["HEAD_TIMEOUT", "MAX_CONNECTIONS", "MAX_RATE", "Pacer", "PublicServer", "serve_public"]

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 10_000
MAX_RATE = 2000.0
"""Answers a second, server-wide: 2,000 browsers polling every second (more: a CDN)."""
HEAD_TIMEOUT = 30.0
"""Seconds a request head may take to arrive, idle keep-alive time included."""
SEND_TIMEOUT = 30.0
"""Seconds a client may take to read an answer (or an event) before it is given up."""
READ_SIZE = 65536
LINGER, LINGER_BYTES = 1.0, 1 << 20
"""After a refusal: how long and how much more of the client's bytes are read (dropped)."""
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError)

Trigger = Callable[[], Awaitable[None]]


class Pacer:
    """At most ``rate`` a second, ``burst`` of them back to back after a quiet spell; each
    caller is given the next free slot, so they go in the order they came (no stampede of
    waiters retrying at once)."""

    def __init__(self, rate: float, burst: float) -> None:
        self._interval = 1.0 / rate
        self._slack = (burst - 1) / rate
        self._next = -float("inf")

    def slot(self, now: float) -> float:
        """When the caller may go (``now`` or later); reserves that slot."""
        at = max(self._next, now - self._slack)
        self._next = at + self._interval
        return max(at, now)


class PublicServer:
    """Connections to the public routes over ``counters``; `serve_public` listens."""

    def __init__(
        self,
        counters: PublicCounters,
        *,
        max_rate: float = MAX_RATE,
        max_connections: int = MAX_CONNECTIONS,
        max_streams: int = events.MAX_STREAMS,
        heartbeat: float = events.HEARTBEAT,
        head_timeout: float = HEAD_TIMEOUT,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self._counters = counters
        self._max_connections = max_connections
        self._max_streams = max_streams
        self._heartbeat = heartbeat
        self._head_timeout = head_timeout
        self._send_timeout = send_timeout
        self._pacer = Pacer(max_rate, burst=max(1.0, max_rate / 10)) if max_rate > 0 else None
        self.connections = 0
        self.streams = 0
        self.requests = 0

    async def handle(self, stream: trio.abc.Stream) -> None:
        """Serve one connection until the client or a limit ends it. Whatever goes wrong
        ends this connection only (errors come out of nurseries in groups, hence
        ``except*``)."""
        try:
            async with stream:
                await self._connection(stream)
        except* _GONE:
            pass  # the client went away or stopped reading: nothing to answer
        except* Exception:
            log.exception("public server: a connection ended in an unexpected error")

    async def _send(self, stream: trio.abc.Stream, data: bytes) -> None:
        with trio.fail_after(self._send_timeout):
            await stream.send_all(data)

    async def _refuse(self, stream: trio.abc.Stream, data: bytes) -> None:
        """Send a last answer, then stop sending and read (and drop) what the client still
        sends, for a moment: closing with its bytes unread would reset the connection, and
        the client could lose the answer before reading it (RFC 9112, section 9.6)."""
        await self._send(stream, data)
        if isinstance(stream, trio.abc.HalfCloseableStream):
            await stream.send_eof()
        with trio.move_on_after(LINGER):
            drained = 0
            while drained < LINGER_BYTES and (more := await stream.receive_some(READ_SIZE)):
                drained += len(more)

    async def _connection(self, stream: trio.abc.Stream) -> None:
        if self.connections >= self._max_connections:
            body = b"too many connections; try again shortly"
            await self._refuse(stream, render(503, _plain(), body, keep_alive=False))
            return
        self.connections += 1
        try:
            await self._requests(stream)
        finally:
            self.connections -= 1

    async def _requests(self, stream: trio.abc.Stream) -> None:
        buffer = bytearray()
        while True:
            try:
                with trio.move_on_after(self._head_timeout) as waited:
                    end = await _read_head(stream, buffer)
                if waited.cancelled_caught:
                    if buffer:
                        await self._refuse(stream, render(408, _plain(), b"", keep_alive=False))
                    return
                if end < 0:
                    return  # closed between requests
                head = parse_head(bytes(buffer[:end]))
                del buffer[:end]
            except BadRequest as refused:
                body = refused.reason.encode()
                extra = [("Allow", "GET, HEAD")] if refused.status == 405 else []
                await self._refuse(stream, render(refused.status, [*_plain(), *extra], body,
                                           keep_alive=False))  # fmt: skip
                return
            self.requests += 1
            if self._pacer is not None:
                await trio.sleep_until(self._pacer.slot(trio.current_time()))
            if not await self._answer(stream, head):
                return

    async def _answer(self, stream: trio.abc.Stream, head: RequestHead) -> bool:
        """Answer one request; False when the connection is to close after it."""
        route = resolve(head.path)
        answer: Answer | None
        if route is None:
            answer = Answer(404, _plain(), b"not found")
        elif route.kind == "counter":
            try:
                snap = await self._counters.get(route.appeal)
                answer = counter_answer(snap, head.if_none_match, self._counters.ttl)
            except CounterUnavailable:
                answer = unavailable_answer(self._counters.ttl)
        elif route.kind == "events":
            await self._events(stream, route.appeal, head_only=head.method == "HEAD")
            return False
        else:
            answer = file_answer("live.html" if route.kind == "page" else route.name)
            if answer is None:
                answer = Answer(404, _plain(), b"not found")
        data = render(answer.status, [*answer.headers, _NOSNIFF], answer.body,
                      keep_alive=head.keep_alive, head_only=head.method == "HEAD",
                      http10=head.http10)  # fmt: skip
        await self._send(stream, data)
        return head.keep_alive

    async def _events(self, stream: trio.abc.Stream, appeal: int, *, head_only: bool) -> None:
        """The event stream: its answer is open-ended, so the connection closes after (for
        HEAD, right after the head)."""
        if self.streams >= self._max_streams:
            body = b"too many live streams; poll the counter instead"
            headers = [*_plain(), ("Retry-After", "5")]
            await self._refuse(stream, render(503, headers, body, keep_alive=False))
            return
        self.streams += 1
        try:
            try:
                snap = await self._counters.get(appeal)
            except CounterUnavailable:
                no = unavailable_answer(self._counters.ttl)
                data = render(503, no.headers, no.body, keep_alive=False, head_only=head_only)
                await self._refuse(stream, data)
                return
            if snap.body is None:
                headers = [("Content-Type", "application/json")]
                await self._refuse(stream, render(404, headers, NOT_FOUND, keep_alive=False,
                                                  head_only=head_only))  # fmt: skip
                return
            await self._send(stream, render(200, [*events.HEADERS, _NOSNIFF], b"", keep_alive=False,
                                       streaming=True))  # fmt: skip
            if head_only:
                return

            async def emit(data: bytes) -> None:
                await self._send(stream, data)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_closed, stream, nursery.cancel_scope)
                await events.pump(self._counters, appeal, snap, emit, heartbeat=self._heartbeat)
                nursery.cancel_scope.cancel()
        finally:
            self.streams -= 1


def _plain() -> list[tuple[str, str]]:
    return [("Content-Type", "text/plain; charset=utf-8")]


async def _read_head(stream: trio.abc.Stream, buffer: bytearray) -> int:
    """Read into ``buffer`` until it holds a whole request head; where it ends, or -1 when
    the client closed before sending one. The buffer never grows past one head's limit:
    what is read is at most what could still complete a head."""
    while True:
        while buffer.startswith(b"\r\n"):  # empty lines before a request: skipped (RFC 9112)
            del buffer[:2]
        if (end := head_end(buffer)) >= 0:
            return end
        data = await stream.receive_some(MAX_HEAD + 4 - len(buffer))
        if not data:
            return -1
        buffer += data


async def _until_closed(stream: trio.abc.Stream, scope: trio.CancelScope) -> None:
    """An event stream's client says nothing more; when it closes, the stream ends."""
    try:
        while await stream.receive_some(READ_SIZE):
            pass
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    scope.cancel()


async def serve_public(
    server: PublicServer,
    host: str,
    port: int,
    stop: Trigger,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host``/``port`` (0: a free port) and serve until ``stop`` returns; the
    bound port is reported through ``task_status``. Requests in flight and open event
    streams are cancelled at the stop (every answer is complete or not sent).

    Raises:
        OSError: the address could not be bound (before ``task_status.started``).
    """
    listeners = await trio.open_tcp_listeners(port, host=host, backlog=4096)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, server.handle, listeners)
        task_status.started(int(listeners[0].socket.getsockname()[1]))
        await stop()
        nursery.cancel_scope.cancel()
