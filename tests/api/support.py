"""The API under test: an engine bound to the simulator, its HTTP server on a free loopback
port, tokens from the environment, and a small JSON client over real TCP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from counters import Store
from engine.http import serving
from smpp.simulator.config import SimulatorConfig
from tests.campaigns.test_inbound_rules import quiet_sim
from tests.engine.support import Rig, rig
from tests.ops.client import Reply, request

TOKENS = {
    "reader": ("read",),
    "website": ("subscribe",),
    "operator": ("read", "appeals"),
    "crm": ("send",),
    "exporter": ("export",),
    "auditor": ("export", "admin"),
}
"""Token name -> scopes; each token's value is ``token(name)``."""

API = "".join(
    f'[[api.tokens]]\nname = "{name}"\nscopes = {json.dumps(list(scopes))}\n'
    f'token_env = "JA_TEST_API_{name.upper()}"\n'
    for name, scopes in TOKENS.items()
)
EXTRA = """
[inbox]
redelivery_window = 0.2
[campaigns]
thank_delay = 0.2
"""


def token(name: str) -> str:
    return f"test-token-{name}-0123456789abcdef0123456789"


def set_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOKENS:
        monkeypatch.setenv(f"JA_TEST_API_{name.upper()}", token(name))


@dataclass
class Client:
    port: int

    async def call(
        self, method: str, path: str, who: str | None = None, body: Any = None, **options: Any
    ) -> Reply:
        """One request to ``/api/v1{path}`` with ``who``'s token (None: no token); a body
        that is not bytes is sent as JSON."""
        headers = [("Authorization", f"Bearer {token(who)}")] if who else []
        headers += options.pop("headers", [])
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        return await request(self.port, method, f"/api/v1{path}", headers, data or b"")


@asynccontextmanager
async def api_rig(
    store: Store, sim: SimulatorConfig | None = None, *, redis_extra: str = ""
) -> AsyncIterator[tuple[Rig, Client]]:
    """The simulator, an engine with the campaigns router, and the API on loopback."""
    async with (
        rig(
            store, sim or quiet_sim(), router=None, extra=EXTRA + API, redis_extra=redis_extra
        ) as r,
        serving(r.engine) as port,
    ):
        yield r, Client(port)
