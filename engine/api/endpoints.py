"""One endpoint, declared once: method, path, scopes, body and answer types, handler.

``routes`` turns each into a Starlette route (token check, body decoding, errors as JSON);
``openapi`` turns the same declarations into the OpenAPI document, so the description and
the behaviour come from one table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from counters import Store
from engine.api.auth import require
from engine.api.bodies import decode
from engine.api.errors import ApiError
from engine.api.settings import ApiConfig, ApiToken, Scope
from engine.campaigns import Campaigns

if TYPE_CHECKING:
    from engine.app import Engine

__all__ = ["Api", "Call", "Endpoint", "Handler"]

T = TypeVar("T")


@dataclass
class Api:
    """What handlers share: the running engine and the API's settings."""

    engine: Engine
    config: ApiConfig
    openapi: bytes = b""
    """The OpenAPI document, encoded once."""

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def campaigns(self) -> Campaigns:
        return self.engine.campaigns


@dataclass
class Call:
    """One authorised request."""

    request: Request
    token: ApiToken
    api: Api

    def param(self, name: str) -> Any:
        return self.request.path_params[name]

    def require(self, *scopes: Scope) -> None:
        """A scope some requests need beyond the endpoint's own (``?unmasked=1``)."""
        require(self.token, scopes)

    async def body(self, kind: type[T]) -> T:
        """The request body decoded as ``kind``.

        Raises:
            ApiError: 413 over ``[api] max_body``; 400 or 422 as `engine.api.bodies.decode`.
        """
        limit = self.api.config.max_body
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        data = bytearray()
        async for chunk in self.request.stream():
            data += chunk
            if len(data) > limit:
                raise _too_large(limit)
        return decode(bytes(data), kind)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is over {limit:,} bytes")


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """Under ``/api/v1``, Starlette's syntax: ``/appeals/{appeal:int}``."""
    handler: Handler
    scopes: tuple[Scope, ...]
    summary: str
    body: type | None = None
    answer: type | None = None
    """The JSON answer's type; None with ``media_type`` for other answers."""
    status: int = 200
    errors: tuple[int, ...] = ()
    """Statuses besides 401/403 (every endpoint) that it may answer with."""
    media_type: str = "application/json"
    query: tuple[tuple[str, str, str], ...] = field(default=())
    """(name, JSON type, description) of its query parameters."""
