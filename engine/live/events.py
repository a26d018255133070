"""The counter as Server-Sent Events, written through whatever sends the bytes.

An event when the figures change (the snapshot's ETag), a comment line after ``heartbeat``
quiet seconds (proxies close idle streams), and after ``max_age`` the stream ends (the
browser's EventSource reconnects by itself). Once an appeal is no longer public, one
``gone`` event and the end: the page stops showing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from engine.live.counter import CounterUnavailable, PublicCounters, Snapshot

__all__ = ["HEADERS", "HEARTBEAT", "MAX_STREAMS", "RETRY_MS", "STREAM_MAX_AGE", "pump"]

MAX_STREAMS = 500
"""Event streams open at once, per server; one more gets 503 and polls instead."""
HEARTBEAT = 15.0
"""Seconds without an event after which a comment line is sent (proxies close idle ones)."""
STREAM_MAX_AGE = 3600.0
"""Seconds a stream lasts; the browser's EventSource then reconnects."""
RETRY_MS = 3000
HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Accel-Buffering", "no"),  # nginx: pass each event on at once
]

Emit = Callable[[bytes], Awaitable[None]]


async def pump(
    counters: PublicCounters,
    appeal: int,
    snap: Snapshot,
    emit: Emit,
    *,
    heartbeat: float = HEARTBEAT,
    max_age: float = STREAM_MAX_AGE,
) -> None:
    """Write ``appeal``'s events through ``emit``, starting from ``snap`` (already read, and
    public), until ``max_age`` or until the appeal is no longer shown."""
    await emit(f"retry: {RETRY_MS}\n\n".encode())
    last, quiet_since = "", trio.current_time()
    with trio.move_on_after(max_age):
        while snap.body is not None:
            if snap.etag != last:
                await emit(b"data: " + snap.body + b"\n\n")
                last, quiet_since = snap.etag, trio.current_time()
            elif trio.current_time() - quiet_since >= heartbeat:
                await emit(b": heartbeat\n\n")
                quiet_since = trio.current_time()
            await trio.sleep(counters.ttl)
            try:
                snap = await counters.get(appeal)
            except CounterUnavailable:
                pass  # keep the last figures; the heartbeat keeps the stream open
    if snap.body is None:
        await emit(b"event: gone\ndata: {}\n\n")
