"""Real-Redis helpers shared by the test packages: probe, wipe, free ports, private servers
(the fault suite's: `bench.faults.harness`)."""

from __future__ import annotations

import socket
from typing import cast

import redis

from bench.faults.harness import PrivateRedis, answers, server_binary
from counters import Keys

__all__ = ["PrivateRedis", "answers", "free_port", "server_binary", "stream_ids", "wipe"]


def stream_ids(client: redis.Redis, key: str) -> list[int]:
    """The subscriber id (field ``s``) of every entry of a signatures stream."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(key))
    return [int(fields[b"s"]) for _, fields in entries]


def wipe(client: redis.Redis, keys: Keys) -> None:
    for pattern in keys.pattern():
        batch = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(batch), 1000):
            client.unlink(*batch[start : start + 1000])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
