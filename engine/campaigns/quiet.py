"""Quiet hours: no appeal reaches a handset at night, in the handset's own time zone.

The time zone comes from the number's country calling code (a short table; the configured
country's zone otherwise). A bulk message due in a quiet period waits until it ends; an
appeal that closes meanwhile is not sent stale (``engine.preflight``).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["QuietHours", "parse_window"]

ZONES = {
    "31": "Europe/Amsterdam", "32": "Europe/Brussels", "33": "Europe/Paris",
    "34": "Europe/Madrid", "39": "Europe/Rome", "41": "Europe/Zurich", "43": "Europe/Vienna",
    "44": "Europe/London", "45": "Europe/Copenhagen", "46": "Europe/Stockholm",
    "47": "Europe/Oslo", "48": "Europe/Warsaw", "49": "Europe/Berlin", "351": "Europe/Lisbon",
    "353": "Europe/Dublin", "358": "Europe/Helsinki", "27": "Africa/Johannesburg",
    "254": "Africa/Nairobi", "234": "Africa/Lagos", "91": "Asia/Kolkata", "61": "Australia/Sydney",
    "64": "Pacific/Auckland", "55": "America/Sao_Paulo", "52": "America/Mexico_City",
}  # fmt: skip
"""Calling code -> the zone most of its numbers live in (countries with several zones get
their most populous one; the configured country's zone is the fallback)."""


def parse_window(text: str) -> tuple[dt.time, dt.time]:
    """ "21:00-08:00" -> (21:00, 08:00); the window may cross midnight.

    Raises:
        ValueError: not HH:MM-HH:MM.
    """
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"expected HH:MM-HH:MM, got {text!r}")
    return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())


class QuietHours:
    """When a number may be messaged again, if it is in its quiet hours now."""

    def __init__(self, window: str, country_code: str) -> None:
        self.window = window
        self.start, self.end = parse_window(window) if window else (dt.time(), dt.time())
        self.enabled = bool(window) and self.start != self.end
        self.default = ZONES.get(country_code, "UTC")

    def until(self, number: str, now: float) -> float | None:
        """The Unix time the quiet period of ``number`` ends, or None if it is not quiet."""
        if not self.enabled:
            return None
        zone = _zone(self._zone_name(number))
        local = dt.datetime.fromtimestamp(now, zone)
        t = local.time()
        if self.start < self.end:
            quiet = self.start <= t < self.end
        else:
            quiet = t >= self.start or t < self.end
        if not quiet:
            return None
        end = dt.datetime.combine(local.date(), self.end, zone)
        if end <= local:
            end += dt.timedelta(days=1)
        return end.timestamp()

    def _zone_name(self, number: str) -> str:
        digits = number.lstrip("+")
        for size in (3, 2, 1):
            zone = ZONES.get(digits[:size])
            if zone is not None:
                return zone
        return self.default


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
