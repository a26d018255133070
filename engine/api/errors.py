"""Errors as JSON: ``{"error": {"code": ..., "message": ..., "field": ...}}``.

``code`` is for programs (stable, snake_case), ``message`` for people (one sentence saying
what to change), ``field`` names the body field at fault when there is one (``title``,
``tags[2]``), as the configuration errors do.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from starlette.responses import Response

__all__ = ["ApiError", "ErrorBody", "ErrorDetail", "json_response"]

_encode = msgspec.json.Encoder().encode


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    """Machine-readable: unauthorized, forbidden, invalid_json, invalid_body, not_found,
    conflict codes such as already_sent or opted_out (docs/api.md lists them)."""
    message: str
    """A sentence for a person: what was wrong and what to do."""
    field: str | None = None
    """The body field at fault, as a path (``title``, ``tags[2]``)."""


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


def json_response(
    value: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``value`` (Structs, lists, dicts...) encoded by msgspec."""
    return Response(_encode(value), status, headers, media_type="application/json")


class ApiError(Exception):
    """A refusal answered as JSON with ``status``; raised anywhere in a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(code=code, message=message, field=field)
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response(ErrorBody(self.detail), self.status, self.headers)
