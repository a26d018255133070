"""``/healthz`` (the process is alive) and ``/readyz`` (it can do its job).

Ready means: every carrier has at least one bind up, and Redis answered a PING within the
last ``FRESH`` seconds. A probe never waits on Redis: `RedisCheck` pings once a second through
the store's batcher (so the PING joins whatever batch is going anyway) and a probe reads the
last answer. A failed PING counts at once; a PING that never returns counts once its answer
is ``FRESH`` seconds old.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from counters import Batcher, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from engine.http.app import WebContext

__all__ = ["FRESH", "PING_EVERY", "Readiness", "RedisCheck", "routes"]

PING_EVERY = 1.0
"""Seconds between two PINGs."""
FRESH = 3.0
"""Seconds an answered PING keeps Redis counted as answering."""


class _Bind(Protocol):
    """What readiness needs of a bind (engine.bind.CarrierBind)."""

    carrier: str
    name: str

    def is_up(self) -> bool: ...


class RedisCheck:
    """Whether Redis answers, from a PING every ``every`` seconds (run ``run`` in a nursery)."""

    def __init__(
        self, batcher: Batcher, *, every: float = PING_EVERY, fresh: float = FRESH
    ) -> None:
        self._batcher = batcher
        self._every = every
        self._fresh = fresh
        self.answered_at: float | None = None
        self.error = "not asked yet"

    async def run(self) -> None:
        """PING every ``every`` seconds until cancelled (the first after ``every``)."""
        while True:
            await trio.sleep(self._every)
            await self.ping()

    async def ping(self) -> None:
        try:
            with trio.fail_after(self._fresh):
                await self._batcher.execute(("PING",))
        except (StoreUnavailable, StoreError) as exc:
            self.error = str(exc)
        except trio.TooSlowError:
            self.error = f"no answer to PING within {self._fresh:g} s"
        else:
            self.answered_at = trio.current_time()
            self.error = ""

    def answering(self) -> bool:
        if self.error or self.answered_at is None:
            return False
        return trio.current_time() - self.answered_at <= self._fresh

    def report(self) -> dict[str, object]:
        out: dict[str, object] = {"answering": self.answering()}
        if self.answered_at is not None:
            age = trio.current_time() - self.answered_at
            out["last_answer_seconds_ago"] = round(age, 3)
        if self.error:
            out["error"] = self.error
        return out


class Readiness:
    """The ``/readyz`` verdict from the binds' state and the last PING."""

    def __init__(self, carriers: Iterable[str], binds: Sequence[_Bind], redis: RedisCheck) -> None:
        self._carriers = list(carriers)
        self._binds = binds
        self.redis = redis

    def report(self) -> dict[str, object]:
        """``ready``, then what is not (``not_ready``: one line per part), Redis, and each
        carrier's binds up and down."""
        problems: list[str] = []
        if not self.redis.answering():
            problems.append("redis: not answering")
        carriers: dict[str, dict[str, list[str]]] = {}
        for carrier in self._carriers:
            mine = [bind for bind in self._binds if bind.carrier == carrier]
            up = [bind.name for bind in mine if bind.is_up()]
            carriers[carrier] = {"up": up, "down": [b.name for b in mine if b.name not in up]}
            if not up:
                problems.append(f"carrier {carrier}: no bind up")
        return {
            "ready": not problems,
            "not_ready": problems,
            "redis": self.redis.report(),
            "carriers": carriers,
        }


async def _healthz(request: Request) -> JSONResponse:
    # Answering at all is the proof: the event loop that serves this runs the engine too.
    return JSONResponse({"alive": True})


def routes(ctx: WebContext) -> list[BaseRoute]:
    async def readyz(request: Request) -> JSONResponse:
        report = ctx.readiness.report()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    return [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
