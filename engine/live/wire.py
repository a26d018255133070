"""Just enough HTTP/1.1 for the public server: GET and HEAD, no request bodies (sans-IO).

Why not h11 or Hypercorn here: the public counter is the one URL a website under load may
ask for thousands of times a second, and h11 alone costs about 50 µs of Python per request
(Hypercorn and Starlette about 500 µs). The public routes take no body, no upload, no
upgrade, so the grammar they need is small enough to check strictly by hand: a request line
in origin form, header fields without folding, ``Host`` on HTTP/1.1, and no
``Content-Length`` other than 0 nor any ``Transfer-Encoding`` (refused, then closed: a
request we cannot frame must not be read as the start of the next one). Anything else gets
the right status (400, 405, 414, 431, 501, 505) and the connection is closed after it.
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass

__all__ = [
    "MAX_HEAD",
    "MAX_TARGET",
    "BadRequest",
    "RequestHead",
    "head_end",
    "parse_head",
    "render",
]

MAX_HEAD = 8192
"""Octets a request line plus its header fields may take (431 beyond)."""
MAX_TARGET = 2048
"""Octets of the request target (414 beyond)."""

REASONS = {
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"/[!-~]*")  # origin form: visible ASCII, no spaces
_ABSOLUTE = re.compile(rb"https?://[!-.0-~]+(/[!-~]*)?", re.I)  # absolute form (RFC 9112 3.2.2)
_HOST = re.compile(rb"[A-Za-z0-9._~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\]")
_PORT = re.compile(rb"(:[0-9]{0,5})?")
_VALUE = re.compile(rb"[\t -~\x80-\xff]*")  # field content: no CR, LF or other controls
_METHODS = frozenset({"GET", "HEAD"})
_KNOWN_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})


class BadRequest(Exception):
    """The request cannot be served; answer ``status`` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    path: str
    """The target without its query string."""
    keep_alive: bool
    if_none_match: str | None
    http10: bool = False
    """An HTTP/1.0 client: it keeps the connection only when the answer says so."""


def head_end(buffer: bytes | bytearray) -> int:
    """Where the head in ``buffer`` ends (just past its blank line), or -1 for not yet.

    Raises:
        BadRequest: 431, when the head is longer than ``MAX_HEAD`` (or would be).
    """
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if end >= 0:
        return end + 4
    if buffer.find(b"\n\n", 0, MAX_HEAD + 4) >= 0:
        raise BadRequest(400, "lines must end with CRLF")
    if len(buffer) > MAX_HEAD:
        raise BadRequest(431, "request head too large")
    return -1


def parse_head(raw: bytes) -> RequestHead:
    """The request whose head is ``raw`` (up to and including the blank line).

    Raises:
        BadRequest: the request is malformed or asks for what this server does not do.
    """
    lines = raw[:-4].split(b"\r\n")
    method, target, version = _request_line(lines[0])
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):  # also refuses obsolete line folding
            raise BadRequest(400, "malformed header field")
        value = value.strip(b" \t")
        if not _VALUE.fullmatch(value):
            raise BadRequest(400, "control character in a header field")
        key = name.lower()
        if key in fields and key in (b"host", b"content-length"):
            raise BadRequest(400, f"more than one {key.decode()} field")
        fields[key] = fields[key] + b", " + value if key in fields else value
    if version == b"HTTP/1.1" and b"host" not in fields:
        raise BadRequest(400, "HTTP/1.1 request without Host")
    if b"host" in fields and not _valid_host(fields[b"host"]):
        raise BadRequest(400, "malformed Host")
    if b"transfer-encoding" in fields or fields.get(b"content-length", b"0") != b"0":
        raise BadRequest(400, "request bodies are not accepted here")
    if method not in _METHODS:
        if method in _KNOWN_METHODS:
            raise BadRequest(405, "only GET and HEAD are served here")
        raise BadRequest(501, "unknown method")
    tokens = {t.strip().lower() for t in fields.get(b"connection", b"").split(b",")}
    keep_alive = b"close" not in tokens if version == b"HTTP/1.1" else b"keep-alive" in tokens
    inm = fields.get(b"if-none-match")
    return RequestHead(
        method=method,
        path=target.partition(b"?")[0].decode("ascii"),
        keep_alive=keep_alive,
        if_none_match=None if inm is None else inm.decode("latin-1"),
        http10=version == b"HTTP/1.0",
    )


def _valid_host(value: bytes) -> bool:
    """``uri-host [ ":" port ]`` (RFC 9112 3.2)."""
    if value.startswith(b"["):
        host, bracket, port = value.partition(b"]")
        return bool(bracket) and bool(_HOST.fullmatch(host + b"]")) and bool(_PORT.fullmatch(port))
    host, _, port = value.partition(b":")
    return bool(_HOST.fullmatch(host)) and (not port or (port.isdigit() and len(port) <= 5))


def _request_line(line: bytes) -> tuple[str, bytes, bytes]:
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if len(target) > MAX_TARGET:
        raise BadRequest(414, "request target too long")
    if _ABSOLUTE.fullmatch(target):  # the path is what is served; the Host is ours anyway
        target = b"/" + target.split(b"/", 3)[3] if target.count(b"/") >= 3 else b"/"
    if not _TARGET.fullmatch(target):
        raise BadRequest(400, "request target must be a path")
    if not re.fullmatch(rb"HTTP/[0-9]\.[0-9]", version):
        raise BadRequest(400, "malformed request line")
    if version[:6] != b"HTTP/1":
        raise BadRequest(505, "only HTTP/1.x is served")
    if version != b"HTTP/1.0":
        version = b"HTTP/1.1"  # a later 1.x is answered as 1.1 (RFC 9110 6.2)
    return method.decode("ascii"), target, version


class _Date:
    """The ``Date`` field, formatted once a second."""

    second = -1
    value = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second = second
            cls.value = email.utils.formatdate(second, usegmt=True).encode()
        return cls.value


def render(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    keep_alive: bool,
    head_only: bool = False,
    streaming: bool = False,
    http10: bool = False,
) -> bytes:
    """A response: status line, ``headers``, the framing fields and ``body`` (left out for
    HEAD). A ``streaming`` response has no length: it ends when the connection closes. An
    ``http10`` client is told when the connection stays open (it would assume not)."""
    out = [b"HTTP/1.1 %d %s\r\nDate: %s\r\n" % (status, REASONS[status].encode(), _Date.now())]
    out += [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers]
    if streaming or not keep_alive:
        out.append(b"Connection: close\r\n")
    elif http10:
        out.append(b"Connection: keep-alive\r\n")
    if not streaming and status != 304:
        out.append(b"Content-Length: %d\r\n" % len(body))
    out.append(b"\r\n")
    if not head_only and status != 304:
        out.append(body)
    return b"".join(out)
