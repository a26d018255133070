"""Key names, in one place.

Every key starts with a namespace (default ``ja``; tests use one per test). Keys that a Lua
script touches together share a Redis Cluster hash tag, so each script call stays in one slot:

- ``{ja:sub}:*``   the subscriber registry: ids, sequence, numbers, active bitmap, consent log,
  route (carrier/bind), language, last appeal per handset, hashed suppression set.
- ``{ja:ua:ID}:*`` one appeal: meta, signed bitmap, count, signatures stream, signatures per
  minute, state.
- ``{ja:q}:*``     the outbound lanes, the delayed schedule and the per-appeal ``sent`` bitmaps.
  ``sent`` lives here rather than under the appeal's tag because the fan-out script must mark a
  recipient and enqueue the message in one atomic call, and the lane is shared by all appeals.
- ``{ja:reach}:*`` HyperLogLogs (day, month, all time), updated together by one script.
- ``{ja:q}:attempts`` submit attempts in flight (entry id -> bind, time): after a crash these
  are the messages whose outcome is unknown.
- ``{ja:m}:ID``    what a carrier message id refers to (for delivery receipts), with a TTL.
- ``{ja:in}:*``    inbound messages: the durable stream and the redelivery markers.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

__all__ = ["Keys", "Lane"]


class Lane(Enum):
    """Outbound lanes: thank-yous and confirmations never wait behind a bulk appeal."""

    TRANSACTIONAL = "tx"
    BULK = "bulk"


class Keys:
    """Key builders for one namespace: ``Keys("ja").appeal_signed(7) == "{ja:ua:7}:signed"``."""

    def __init__(self, namespace: str = "ja") -> None:
        if not namespace or any(c in namespace for c in "{}: "):
            raise ValueError(
                f"namespace must be non-empty without braces, colons or spaces: {namespace!r}"
            )
        self.namespace = namespace
        sub = f"{{{namespace}:sub}}"
        self.sub_ids = f"{sub}:ids"
        self.sub_seq = f"{sub}:seq"
        self.sub_numbers = f"{sub}:numbers"
        self.sub_active = f"{sub}:active"
        self.sub_consent = f"{sub}:consent"
        self.sub_route = f"{sub}:route"
        self.sub_lang = f"{sub}:lang"
        self.sub_last = f"{sub}:last"
        self.sub_suppressed = f"{sub}:suppressed"
        self.sub_stopped = f"{sub}:stopped"
        self.sub_pending = f"{sub}:pending"
        self.queue_replies = f"{{{namespace}:q}}:replies"
        self.queue_held = f"{{{namespace}:q}}:held"
        queue = f"{{{namespace}:q}}"
        self.queue_delayed = f"{queue}:delayed"
        self._queue = queue
        self.queue_attempts = f"{queue}:attempts"
        self.undeliverable = f"{queue}:undeliverable"
        self._consumer = f"{queue}:consumer"
        self.inbound = f"{{{namespace}:in}}:mo"
        self._inbound_seen = f"{{{namespace}:in}}:seen"
        self._message = f"{{{namespace}:m}}"
        self.appeal_index = f"{namespace}:appeals"
        self.appeal_seq = f"{namespace}:appeals:seq"
        self.fanout_jobs = f"{namespace}:fanout"
        self.inbound_dead = f"{{{namespace}:in}}:dead"
        self._reach = f"{{{namespace}:reach}}"
        self.reach_all = f"{self._reach}:all"

    def _appeal(self, appeal: int) -> str:
        return f"{{{self.namespace}:ua:{appeal}}}"

    def appeal_meta(self, appeal: int) -> str:
        return f"{self._appeal(appeal)}:meta"

    def appeal_signed(self, appeal: int) -> str:
        return f"{self._appeal(appeal)}:signed"

    def appeal_count(self, appeal: int) -> str:
        return f"{self._appeal(appeal)}:count"

    def appeal_signatures(self, appeal: int) -> str:
        return f"{self._appeal(appeal)}:signatures"

    def appeal_minutes(self, appeal: int) -> str:
        """New signatures per Unix minute (a hash: minute -> count), for the public counter."""
        return f"{self._appeal(appeal)}:minutes"

    def appeal_sent(self, appeal: int, kind: str = "appeal") -> str:
        """Who has been queued ``kind`` ("appeal", "outcome", "thanks") of an appeal: one
        bitmap per appeal and kind, so the outcome is not deduplicated by the appeal's own."""
        suffix = "" if kind == "appeal" else f":{kind}"
        return f"{self._queue}:sent:{appeal}{suffix}"

    def appeal_held(self, appeal: int, kind: str) -> str:
        """Messages of an appeal's ``kind`` taken off the lane while it is paused (a sorted
        set by time; back into the lane on resume, dropped on cancel)."""
        return f"{self._queue}:held:{appeal}:{kind}"

    def appeal_state(self, appeal: int) -> str:
        """The appeal's mutable state (status, fan-out cursors and counts), a hash."""
        return f"{self._appeal(appeal)}:state"

    def lane(self, lane: Lane) -> str:
        return f"{self._queue}:{lane.value}"

    def sent_day(self, day: str) -> str:
        """Carrier message id -> what was sent, for the messages sent on ``day`` (YYYYMMDD)."""
        return f"{self._message}:sent:{day}"

    def status_day(self, day: str) -> str:
        """Message id (or ``ref:REF``) -> its latest status, for the statuses of ``day``."""
        return f"{self._message}:status:{day}"

    def inbound_seen(self, digest: str) -> str:
        return f"{self._inbound_seen}:{digest}"

    def reach_day(self, day: dt.date) -> str:
        return f"{self._reach}:day:{day.isoformat()}"

    def reach_month(self, day: dt.date) -> str:
        return f"{self._reach}:month:{day:%Y-%m}"

    def consumer(self, name: str) -> str:
        """The lease of a consumer name: at most one live engine uses each name."""
        return f"{self._consumer}:{name}"

    def pattern(self) -> list[str]:
        """SCAN patterns matching every key of this namespace (for tests and `wipe`)."""
        return [f"{{{self.namespace}:*", f"{self.namespace}:*"]
