"""Hypercorn's Trio worker serving the engine's app in the caller's nursery.

``await nursery.start(serve_engine, engine, settings, stop)`` returns the bound port (the real
one when ``settings.port`` is 0) once the socket listens; the server runs until ``stop``
returns, then finishes the requests in flight (at most ``GRACE`` seconds) and returns.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, cast

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from hypercorn.typing import Framework
from starlette.types import ASGIApp

from engine.config import HttpConfig
from engine.http.app import RouteSet, WebContext, create_app
from engine.http.health import Readiness, RedisCheck
from engine.http.scrape import OffLoop

if TYPE_CHECKING:
    from engine.app import Engine

__all__ = [
    "GRACE",
    "ListenError",
    "serve_app",
    "serve_engine",
    "serving",
    "url_host",
]

GRACE = 2.0
"""Seconds requests in flight get to finish once the server is asked to stop."""
READ_TIMEOUT = 30
"""Seconds a client may take to send its request (a connection that says nothing is closed)."""

Trigger = Callable[[], Awaitable[None]]


class ListenError(Exception):
    """The HTTP server could not listen on its address (in use, not ours, not allowed);
    ``setting`` names what to change."""

    def __init__(self, message: str, setting: str = "[http] host/port") -> None:
        super().__init__(message)
        self.setting = setting


def url_host(host: str) -> str:
    """``host`` as it stands in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def hypercorn_config(settings: HttpConfig) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"{url_host(settings.host)}:{settings.port}"]
    config.errorlog = logging.getLogger("hypercorn.error")  # ours to format, not Hypercorn's
    config.accesslog = None
    config.graceful_timeout = GRACE
    config.read_timeout = READ_TIMEOUT
    config.include_server_header = False
    return config


async def serve_app(
    app: ASGIApp,
    settings: HttpConfig,
    stop: Trigger,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``settings.host``/``port`` until ``stop`` returns.

    Raises:
        ListenError: the address could not be bound (before ``task_status.started``).
    """
    started = False
    try:
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                # Starlette's and Hypercorn's ASGI types describe the same protocol.
                partial(
                    serve, cast(Framework, app), hypercorn_config(settings), shutdown_trigger=stop
                )
            )
            started = True
            task_status.started(int(binds[0].rsplit(":", 1)[1]))
    except* OSError as group:
        if started:
            raise
        cause = _first(group)
        where = f"{url_host(settings.host)}:{settings.port}"
        raise ListenError(f"cannot listen on {where} ({cause.strerror or cause})") from cause


def _first(group: BaseExceptionGroup[OSError]) -> OSError:
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup):
        inner = inner.exceptions[0]
    assert isinstance(inner, OSError)
    return inner


async def serve_engine(
    engine: Engine,
    settings: HttpConfig,
    stop: Trigger,
    *,
    extra: Iterable[RouteSet] = (),
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the engine's routes (and ``extra``) with the Redis check that ``/readyz`` reads.

    Raises:
        ListenError: as `serve_app`.
    """
    redis = RedisCheck(engine.store.batcher)
    counts = OffLoop(engine.store.collector())
    registry = engine.metrics.registry
    registry.register(counts)
    try:
        readiness = Readiness(engine.pools, engine.binds, redis)
        app = create_app(WebContext(engine, readiness, registry, [counts]), extra)
        await redis.ping()  # the first probe already knows: no "not asked yet"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(redis.run)
            await serve_app(app, settings, stop, task_status=task_status)
            nursery.cancel_scope.cancel()
    finally:
        registry.unregister(counts)


@asynccontextmanager
async def serving(engine: Engine, settings: HttpConfig | None = None) -> AsyncIterator[int]:
    """`serve_engine` for the duration of a block (the demo, tests); yields the bound port
    (``settings`` default: a free loopback port)."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(
            serve_engine, engine, settings or HttpConfig(port=0), stop.wait
        )
        try:
            yield port
        finally:
            stop.set()
