"""``/metrics``: prometheus-client's ASGI app over the engine's registry, on the event loop.

The engine's collectors read plain dicts and counters that the Trio tasks update (PDU counts
per bind, latency histograms per carrier). Served from the event loop, a scrape and an update
never interleave: the ``RuntimeError: dictionary changed size during iteration`` that a
scrape from the exporter's thread could hit while a new carrier or command appeared cannot
happen here.

The one collector that does I/O, the counters package's (Redis-held counts), must not block
the loop: `OffLoop` wraps it. Before each scrape the endpoint runs it in a worker thread
(``prefetch``) and hands its families to the same task through a context variable, so
concurrent scrapes each see their own. Outside a scrape (a test's ``get_sample_value``) it
collects directly, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

import trio
from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from engine.http.app import WebContext

__all__ = ["MetricsApp", "OffLoop", "routes"]

_PREFETCHED: ContextVar[dict[int, list[Metric]] | None] = ContextVar("_PREFETCHED", default=None)
"""Families collected off the loop for the scrape running in this task, by collector id."""


class OffLoop(Collector):
    """A collector that does blocking I/O, run in a worker thread before each scrape."""

    def __init__(self, inner: Collector) -> None:
        self._inner = inner

    def describe(self) -> Iterator[Metric]:
        describe = getattr(self._inner, "describe", None)
        return iter(describe() if describe is not None else ())

    def collect(self) -> Iterator[Metric]:
        prefetched = _PREFETCHED.get()
        if prefetched is not None and id(self) in prefetched:
            return iter(prefetched[id(self)])
        return iter(self._inner.collect())

    async def prefetch(self) -> list[Metric]:
        return await trio.to_thread.run_sync(
            lambda: list(self._inner.collect()), abandon_on_cancel=True
        )


class MetricsApp:
    """The exposition (text or OpenMetrics, gzip, ``name[]`` filters: prometheus-client's own)
    after the `OffLoop` collectors' thread work."""

    def __init__(self, registry: CollectorRegistry, off_loop: list[OffLoop]) -> None:
        self._app = make_asgi_app(registry)
        self._off_loop = off_loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefetched = {id(c): await c.prefetch() for c in self._off_loop}
        token = _PREFETCHED.set(prefetched)
        try:
            await self._app(scope, receive, send)
        finally:
            _PREFETCHED.reset(token)


def routes(ctx: WebContext) -> list[BaseRoute]:
    # An instance, not a function: Starlette passes it the raw ASGI call.
    return [Route("/metrics", MetricsApp(ctx.registry, ctx.off_loop), methods=["GET"])]
