"""Lua scripts: read once from ``scripts/*.lua``, called by SHA, reloaded on NOSCRIPT.

Each script is named for its verb (``sign``, ``enqueue``...). The batcher turns an `Eval` into
``EVALSHA``; when Redis has lost its script cache (a restart, ``SCRIPT FLUSH``) it loads the
script and re-runs only the commands that failed with NOSCRIPT, so nothing runs twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

__all__ = ["SCRIPTS", "Eval", "Script"]


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, name: str) -> Script:
        source = resources.files(__package__).joinpath("scripts", f"{name}.lua").read_text("utf-8")
        return cls(
            name, source, hashlib.sha1(source.encode()).hexdigest()
        )  # Redis names scripts by SHA1


@dataclass(frozen=True, slots=True)
class Eval:
    """One script call: all ``keys`` must share a hash tag (one cluster slot)."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[str | bytes | int | float, ...]

    def command(self) -> tuple[str | bytes | int | float, ...]:
        return ("EVALSHA", self.script.sha, len(self.keys), *self.keys, *self.args)


SCRIPTS: dict[str, Script] = {
    name: Script.load(name)
    for name in (
        "ids",
        "consent",
        "forget",
        "sign",
        "reach",
        "enqueue",
        "promote",
        "inbound_many",
        "hold",
        "claim",
        "lease",
        "release",
        "schedule_once",
        "reply_once",
        "unhold",
    )
}
