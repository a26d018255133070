"""The API's route set: every endpoint under ``/api/v1``, each behind its token check.

A request is answered in this order: the token (401), the endpoint's scopes (403), then the
handler, whose refusals (``ApiError``) and a Redis outage (503) come back as JSON errors.
Endpoints sharing a path are one Starlette route, so another method gets 405.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from counters import StoreUnavailable
from engine.api import appeals, export, messages, openapi, subscribers
from engine.api.auth import Tokens, require
from engine.api.endpoints import Api, Call, Endpoint
from engine.api.errors import ApiError

if TYPE_CHECKING:
    from engine.http.app import WebContext

__all__ = ["ENDPOINTS", "routes"]

ENDPOINTS: list[Endpoint] = [
    *appeals.ENDPOINTS,
    *export.ENDPOINTS,
    *subscribers.ENDPOINTS,
    *messages.ENDPOINTS,
    Endpoint("GET", "/openapi.json", openapi.serve, (), "This API's OpenAPI document",
             answer=None),
]  # fmt: skip
"""Every endpoint, in match order (the OpenAPI document lists them in this order too)."""


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The route set for ``engine.http.app.ROUTE_SETS``."""
    api = Api(ctx.engine, ctx.engine.config.api, openapi.render(ENDPOINTS))
    tokens = Tokens(api.config.tokens)
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    return [
        Route(openapi.PREFIX + path, _serve(methods, api, tokens), methods=list(methods))
        for path, methods in by_path.items()
    ]


def _serve(
    methods: dict[str, Endpoint], api: Api, tokens: Tokens
) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        endpoint = methods[request.method if request.method != "HEAD" else "GET"]
        try:
            token = tokens.identify(request.headers.get("authorization"))
            require(token, endpoint.scopes)
            return await endpoint.handler(Call(request, token, api))
        except ApiError as exc:
            return exc.response()
        except StoreUnavailable:
            refusal = ApiError(503, "store_unavailable", "Redis is not answering: try again")
            return refusal.response()

    return serve
