"""What the public may see of an appeal: its counter and the live page.

``GET /api/v1/public/appeals/{id}/counter`` (JSON, for websites), ``GET /live/{id}`` (a page
for a studio screen) and ``GET /live/{id}/events`` (the counter as Server-Sent Events), all
from `PublicCounters`, a cache that reads Redis at most once a second per appeal. Only
appeals marked public and sent are shown; see docs/live.md.
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
