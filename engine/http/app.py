"""The ASGI application: one Starlette app whose routes come from route sets.

A route set is a function ``(WebContext) -> list[BaseRoute]`` (Starlette ``Route`` or
``Mount``). ``ROUTE_SETS`` lists the engine's own; a module that serves more (the integration
API under ``/api/v1``, the live page) writes its own function and is added there, or passed
as ``extra`` to ``create_app`` (tests, embedding). Route sets get the running engine and the
shared parts through `WebContext`, never through globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from engine import live
from engine.api import routes as api
from engine.api.errors import ApiError
from engine.http import health, scrape
from engine.http.health import Readiness
from engine.http.scrape import OffLoop

if TYPE_CHECKING:
    from engine.app import Engine

__all__ = ["ROUTE_SETS", "RouteSet", "WebContext", "create_app"]


@dataclass
class WebContext:
    """What route sets may use."""

    engine: Engine
    readiness: Readiness
    registry: CollectorRegistry
    off_loop: list[OffLoop] = field(default_factory=list)
    """Collectors in ``registry`` that do blocking I/O (run in a thread per scrape)."""


RouteSet = Callable[[WebContext], list[BaseRoute]]

ROUTE_SETS: tuple[RouteSet, ...] = (health.routes, scrape.routes, live.routes, api.routes)
"""Every route the engine serves, in match order."""


def create_app(ctx: WebContext, extra: Iterable[RouteSet] = ()) -> Starlette:
    """The application serving ``ROUTE_SETS`` and then ``extra``."""
    routes = [route for route_set in (*ROUTE_SETS, *extra) for route in route_set(ctx)]
    handlers = {404: _unrouted, 405: _unrouted}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]


async def _unrouted(request: Request, exc: HTTPException) -> Response:
    """No such path, or not with this method: JSON under ``/api/`` (as every API error),
    plain text elsewhere."""
    headers = dict(exc.headers or {})
    if not request.url.path.startswith("/api/"):
        return PlainTextResponse(exc.detail, exc.status_code, headers)
    if exc.status_code == 405:
        allowed = headers.get("Allow", "")
        error = ApiError(405, "method_not_allowed", f"This path takes {allowed}.", headers=headers)
    else:
        error = ApiError(404, "not_found", "No such path in this API; see /api/v1/openapi.json.")
    return error.response()
