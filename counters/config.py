"""Where Redis is and how we talk to it.

The URL comes from the configuration, else from ``REDIS_URL``; with neither, the caller starts
the embedded server (`counters.embedded`). ``redis://``, ``rediss://`` (TLS) and ``unix://``
URLs are accepted, with credentials and database number as redis-py parses them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["StoreConfig", "default_data_dir", "make_client", "resolve_url"]

_SCHEMES = ("redis://", "rediss://", "unix://")


class StoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[redis]`` section of the engine's configuration.

    Attributes:
        url: ``redis://host:port/db``, ``rediss://...`` or ``unix:///path?db=0``; empty means
            ``REDIS_URL``, and if that is unset too, the embedded server.
        namespace: first part of every key, so several deployments can share one server.
        socket_timeout: seconds before a silent Redis counts as unavailable.
        connect_timeout: seconds to wait for a connection.
        max_batch: most operations sent in one batch.
        runners: batches in flight at once (each on its own connection and worker thread).
            One is the default: a second worker thread fights the event loop for the GIL,
            and one engine process sent 6-45% more with one than with two (interleaved
            runs, ``bench.fanout``'s set-up), while batches simply grow.
        data_dir: the embedded server's data directory (default: under XDG_DATA_HOME).
        appendfsync: the embedded server's AOF policy: ``everysec`` (lose at most about a
            second on power loss) or ``always`` (fsync before every reply; slower).
        forget_secret: key of the hashes kept for forgotten numbers; set it, and keep it, so
            the hashes cannot be reversed by hashing every possible number.
    """

    url: str = ""
    namespace: str = "ja"
    socket_timeout: float = 1.0
    connect_timeout: float = 1.0
    max_batch: int = 1000
    runners: int = 1
    data_dir: str = ""
    appendfsync: str = "everysec"
    forget_secret: str = ""

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(_SCHEMES):
            raise ValueError(
                f"redis.url: expected redis://, rediss:// or unix://, got {self.url!r}"
            )
        if self.appendfsync not in ("everysec", "always"):
            raise ValueError(
                f"redis.appendfsync: expected everysec or always, got {self.appendfsync!r}"
            )
        if self.max_batch < 1 or self.runners < 1:
            raise ValueError(
                "redis.max_batch and redis.runners must be >= 1, "
                f"got {self.max_batch}, {self.runners}"
            )


def resolve_url(config: StoreConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """The configured URL, else ``REDIS_URL``, else None (start the embedded server)."""
    url = config.url or environ.get("REDIS_URL", "").strip()
    if url and not url.startswith(_SCHEMES):
        raise ValueError(f"REDIS_URL: expected redis://, rediss:// or unix://, got {url!r}")
    return url or None


def default_data_dir(config: StoreConfig, environ: Mapping[str, str] = os.environ) -> Path:
    if config.data_dir:
        return Path(config.data_dir).expanduser()
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ja-engine" / "redis"


def make_client(url: str, config: StoreConfig) -> redis.Redis:
    """A client with bounded timeouts, no automatic retries, and raw stream replies.

    redis-py retries a failed command three times by default; for a pipeline whose reply was
    lost that would run the writes again, so the batcher reports the failure instead.
    """
    client = redis.Redis.from_url(
        url,
        socket_timeout=config.socket_timeout,
        socket_connect_timeout=config.connect_timeout,
        retry=Retry(NoBackoff(), 0),
        max_connections=config.runners + 4,
    )
    for command in RAW_REPLIES:
        del client.response_callbacks[command]  # type: ignore[no-untyped-call]
    return client


RAW_REPLIES = ("XREADGROUP",)
"""Commands whose replies come back as Redis sends them (``counters.group_stream`` reads
them): redis-py would turn every stream entry into a dict first, a tenth of the engine's
Redis thread time at fan-out speed."""
