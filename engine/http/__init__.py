"""The engine's one HTTP server, on its Trio event loop.

Hypercorn's Trio worker serves a Starlette application in the engine's own nursery: no
thread, so every handler reads the engine's state between two of its steps, never during one.
Routes today: ``/metrics`` (`engine.http.scrape`), ``/healthz`` and ``/readyz``
(`engine.http.health`). More mount on the same server through route sets
(`engine.http.app`). Loopback by default; ``[http] host``/``port`` in the configuration (see
docs/operations.md).
"""

from engine.http.app import ROUTE_SETS, RouteSet, WebContext, create_app
from engine.http.health import Readiness, RedisCheck
from engine.http.scrape import MetricsApp, OffLoop
from engine.http.server import (
    ListenError,
    serve_app,
    serve_engine,
    serving,
    url_host,
)

__all__ = [
    "ROUTE_SETS",
    "ListenError",
    "MetricsApp",
    "OffLoop",
    "Readiness",
    "RedisCheck",
    "RouteSet",
    "WebContext",
    "create_app",
    "serve_app",
    "serve_engine",
    "serving",
    "url_host",
]
