"""The OpenAPI 3.1 document, built from the endpoint table and msgspec's JSON schemas.

Served at ``/api/v1/openapi.json`` and kept in the repository as docs/api/openapi.json (a
test fails when that copy is stale). Regenerate it with::

    python -m engine.api.openapi            # writes docs/api/openapi.json
    python -m engine.api.openapi --check    # exit 1 if the file differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from starlette.responses import Response

from engine.api.endpoints import Call, Endpoint
from engine.api.errors import ErrorBody

__all__ = ["DOCUMENT_PATH", "PREFIX", "document", "render", "serve"]

PREFIX = "/api/v1"
DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_REF = "#/components/schemas/{name}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted: the engines carry it out",
    400: "The body is not JSON (invalid_json)",
    401: "No token, or not a valid one (unauthorized); WWW-Authenticate: Bearer",
    403: "The token lacks a scope this request needs (forbidden)",
    404: "No such appeal or subscriber (not_found)",
    409: "Refused in the current state (already_sent, opted_out, not_subscribed, ...)",
    413: "The body is too large (body_too_large)",
    422: "A field is missing, unknown or wrong (invalid_body, with its name in field)",
    503: "Redis is not answering (store_unavailable): try again shortly",
}


async def serve(call: Call) -> Response:
    return Response(call.api.openapi, media_type="application/json")


def document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    kinds = list(dict.fromkeys([ErrorBody, *_types(endpoints)]))
    schemas, components = msgspec.json.schema_components(kinds, ref_template=_REF)
    refs = dict(zip(kinds, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        path = PREFIX + _PARAM.sub(r"{\1}", e.path)
        paths.setdefault(path, {})[e.method.lower()] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ja-engine integration API",
            "version": "1",
            "description": "Subscribers, appeals, transactional messages and signature "
            "exports. Every request needs a bearer token; each operation lists the scopes "
            "it needs (docs/api.md).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def render(endpoints: Sequence[Endpoint]) -> bytes:
    """The document as the file holds it (stable order, indented, a final newline)."""
    return (json.dumps(document(endpoints), indent=2, ensure_ascii=False) + "\n").encode()


def _types(endpoints: Sequence[Endpoint]) -> list[type]:
    return [t for e in endpoints for t in (e.body, e.answer) if t is not None]


def _operation(e: Endpoint, refs: dict[type, Any]) -> dict[str, Any]:
    slug = re.sub(r"[^a-z0-9]+", "_", _PARAM.sub(r"\1", e.path).lower()).strip("_")
    op: dict[str, Any] = {
        "operationId": f"{e.method.lower()}_{slug}",
        "summary": e.summary,
        "security": [{"bearer": list(e.scopes)}],
        "x-scopes": list(e.scopes),
    }
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer" if kind == "int" else "string"}}
        for name, kind in _PARAM.findall(e.path)
    ] + [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind},
         "description": text}
        for name, kind, text in e.query
    ]  # fmt: skip
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[e.body]}},
        }
    answer = refs[e.answer] if e.answer is not None else {"type": "string"}
    responses = {str(e.status): _response(e.status, e.media_type, answer)}
    for status in sorted({401, 403, *e.errors}):
        responses[str(status)] = _response(status, "application/json", refs[ErrorBody])
    op["responses"] = responses
    return op


def _response(status: int, media_type: str, schema: Any) -> dict[str, Any]:
    return {"description": _STATUS_TEXT[status], "content": {media_type: {"schema": schema}}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.api.openapi", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DOCUMENT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    from engine.api.routes import ENDPOINTS  # the table imports this module

    current = render(ENDPOINTS)
    if args.check:
        stale = not args.path.exists() or args.path.read_bytes() != current
        print(f"{args.path}: {'stale: run python -m engine.api.openapi' if stale else 'current'}")
        return 1 if stale else 0
    args.path.write_bytes(current)
    print(f"{args.path}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
