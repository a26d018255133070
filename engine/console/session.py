"""What every operator command shares: the configuration, the store, exit codes, output.

Commands work against the same Redis as the running engines (they pick the work up from
there). With no ``redis.url`` configured, that is the engine's embedded server, reached
through its socket in the data directory; if no engine runs, the command says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import trio
from rich.console import Console as RichConsole
from rich.table import Table

from counters import Store, StoreConfig, StoreError, StoreUnavailable, open_store
from counters.config import default_data_dir
from engine.campaigns.model import CampaignError
from engine.config import Config, ConfigError, load_config

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "Console",
    "run_command",
]

EXIT_OK = 0
EXIT_REFUSED = 1
"""The request was understood and refused (the message says why)."""
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
"""Redis (and so the engines' shared state) could not be reached."""
CONFIG_ENV = "JA_ENGINE_CONFIG"


class Unavailable(Exception):
    """No Redis to talk to."""


class Console:
    """One command's context: its configuration, the open store, where output goes.

    On a terminal, tables and progress bars (``rich``); otherwise plain lines, and with
    ``--json`` one JSON document, so scripts never parse decorations."""

    def __init__(self, config: Config, store: Store, *, json: bool) -> None:
        self.config = config
        self.store = store
        self.json = json
        self.tty = sys.stdout.isatty() and not json
        self.rich = RichConsole(highlight=False) if self.tty else None

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        """A table on a terminal; tab-free aligned plain lines elsewhere."""
        if self.rich is not None:
            table = Table(title=title, title_justify="left")
            for i, column in enumerate(columns):
                table.add_column(column, justify="right" if i == 0 else "left")
            for row in rows:
                table.add_row(*row)
            self.rich.print(table)
            return
        for row in rows:
            self.say("  ".join(row))

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    def fail(self, line: str) -> None:
        """A problem, on stderr (stdout stays parseable)."""
        print(f"ja-engine: {line}", file=sys.stderr, flush=True)

    def emit(self, value: Any) -> None:
        """One JSON document on stdout (``--json``)."""
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(value)) + b"\n")
        sys.stdout.flush()


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=os.environ.get(CONFIG_ENV),
        help=f"the engine's configuration file (default ${CONFIG_ENV})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def store_url(config: Config) -> str:
    """The Redis the engines use: the configured URL, or the running embedded server's socket.

    Raises:
        Unavailable: no URL and no embedded server running.
    """
    if config.redis.url:
        return config.redis.url
    data_dir = default_data_dir(StoreConfig(data_dir=config.redis.data_dir or ""))
    socket = data_dir.resolve() / "redis.sock"
    if socket.exists():
        return f"unix://{socket}"
    raise Unavailable(
        f"no Redis to talk to: redis.url is not set and no engine's embedded server runs in "
        f"{data_dir}; start `ja-engine run` first, or set redis.url"
    )


@asynccontextmanager
async def open_console(config: Config, *, json: bool) -> AsyncIterator[Console]:
    store_config = StoreConfig(
        url=store_url(config),
        namespace=config.redis.namespace,
        forget_secret=config.redis.forget_secret,
    )
    async with open_store(store_config) as store:
        yield Console(config, store, json=json)


def run_command(
    ns: argparse.Namespace, command: Callable[[Console, argparse.Namespace], Awaitable[int]]
) -> int:
    """Load the configuration, open the store, run ``command``; map failures to exit codes
    and one sentence on stderr."""
    if not ns.config:
        print(f"ja-engine: pass the configuration with -c FILE (or set ${CONFIG_ENV})",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        config = load_config(Path(ns.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE

    async def main() -> int:
        async with open_console(config, json=ns.json) as console:
            return await command(console, ns)

    try:
        return trio.run(main)
    except CampaignError as exc:
        print(f"ja-engine: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except ValueError as exc:  # a bad argument the parser could not see (a number, say)
        print(f"ja-engine: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (Unavailable, StoreUnavailable) as exc:
        print(f"ja-engine: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except StoreError as exc:
        print(f"ja-engine: Redis refused: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
