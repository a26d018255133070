"""What each public URL answers, whichever server serves it (sans-IO).

The engine's own HTTP server (Starlette, on the operator's port) and the public server
(`engine.live.server`, the listener a website reaches) give the same answers from the same
functions: the status, the header fields and the body, built here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from engine.live.counter import Snapshot

__all__ = [
    "NOT_FOUND",
    "PAGE_POLICY",
    "STATIC_TYPES",
    "Answer",
    "Route",
    "counter_answer",
    "file_answer",
    "resolve",
    "unavailable_answer",
]

STATIC_TYPES = {
    "live.html": "text/html; charset=utf-8",
    "live.css": "text/css; charset=utf-8",
    "live.js": "text/javascript; charset=utf-8",
}
# The page loads nothing from anywhere else (a studio may be offline from every CDN).
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors *"
)
NOT_FOUND = b'{"error":"no public appeal with this id"}'
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Route:
    """A public URL understood: ``kind`` is counter, page, events or static."""

    kind: str
    appeal: int = 0
    name: str = ""


_ROUTES = (
    (re.compile(r"/api/v1/public/appeals/([0-9]{1,18})/counter"), "counter"),
    (re.compile(r"/live/([0-9]{1,18})"), "page"),
    (re.compile(r"/live/([0-9]{1,18})/events"), "events"),
    (re.compile(r"/live/static/([a-z]+\.[a-z]+)"), "static"),
)


def resolve(path: str) -> Route | None:
    """The public route for ``path`` (no query string), or None."""
    for pattern, kind in _ROUTES:
        if (match := pattern.fullmatch(path)) is not None:
            if kind == "static":
                return Route(kind, name=match[1])
            return Route(kind, appeal=int(match[1]))
    return None


def public_headers(ttl: float) -> list[tuple[str, str]]:
    """Anyone's web page may read the counter (no credentials, nothing private in it)."""
    return [
        ("Cache-Control", f"public, max-age={max(1, round(ttl))}"),
        ("Access-Control-Allow-Origin", "*"),
    ]


def counter_answer(snap: Snapshot, if_none_match: str | None, ttl: float) -> Answer:
    headers = public_headers(ttl)
    if snap.body is None:
        return Answer(404, [*headers, ("Content-Type", JSON)], NOT_FOUND)
    headers.append(("ETag", snap.etag))
    if if_none_match is not None and (snap.etag in if_none_match or if_none_match == "*"):
        return Answer(304, headers, b"")
    return Answer(200, [*headers, ("Content-Type", JSON)], snap.body)


def unavailable_answer(ttl: float) -> Answer:
    body = b'{"error":"the counter is unavailable; try again shortly"}'
    headers = [*public_headers(ttl), ("Retry-After", "1"), ("Content-Type", JSON)]
    return Answer(503, headers, body)


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


_FILES = {name: _static(name) for name in STATIC_TYPES}


def file_answer(name: str) -> Answer | None:
    """The live page (``live.html``) or one of its files; None for any other name."""
    if name not in _FILES:
        return None
    headers = [("Cache-Control", "public, max-age=300"), ("Content-Type", STATIC_TYPES[name])]
    if name == "live.html":
        headers.append(("Content-Security-Policy", PAGE_POLICY))
    return Answer(200, headers, _FILES[name])
