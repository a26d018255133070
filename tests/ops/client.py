"""A small HTTP client for the tests: h11 over a Trio TCP stream, one request per connection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import h11
import trio


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json", self.headers
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


async def get(
    port: int,
    path: str,
    *,
    host: str = "127.0.0.1",
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    timeout: float = 10.0,
) -> Reply:
    """One request (a GET unless told) on a fresh connection over real TCP; the whole
    reply."""
    return await request(port, method, path, list(headers), b"", host=host, timeout=timeout)


async def request(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
) -> Reply:
    """One request with ``body`` (JSON when not empty) on a fresh connection; the whole
    reply."""
    with trio.fail_after(timeout):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            head = [("Host", host), ("Connection", "close"),
                    ("Content-Length", str(len(body))), *headers]  # fmt: skip
            if body:
                head.append(("Content-Type", "application/json"))
            out = conn.send(h11.Request(method=method, target=target, headers=head))
            out += conn.send(h11.Data(data=body)) if body else b""
            await stream.send_all(out + conn.send(h11.EndOfMessage()))
            status, received, data = 0, {}, bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    received = {k.decode(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    data += event.data
                elif isinstance(event, h11.EndOfMessage):
                    return Reply(status, received, bytes(data))
