"""What the public may see of an appeal: its counter and the live page.

``GET /api/v1/public/appeals/{id}/counter`` (JSON, for websites), ``GET /live/{id}`` (a page
for a studio screen) and ``GET /live/{id}/events`` (the counter as Server-Sent Events), all
from `PublicCounters`, a cache that reads Redis at most once a second per appeal. Only
appeals marked public and sent are shown; see docs/live.md.

Two servers give the same answers (`engine.live.answers`): the engine's own HTTP server
(`engine.live.routes`, for the operator) and the public server (`engine.live.server`), the
one to expose, which runs in a process of its own (`engine.live.process`).
"""

from engine.live.counter import CounterUnavailable, PublicCounter, PublicCounters, Snapshot
from engine.live.routes import EventStream, live_routes, routes

__all__ = [
    "CounterUnavailable",
    "EventStream",
    "PublicCounter",
    "PublicCounters",
    "Snapshot",
    "live_routes",
    "routes",
]
