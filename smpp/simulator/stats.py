"""Plain counters the simulator keeps as it works; read by tests and by the metrics
collector at scrape time, so the hot path pays an integer add, never a Prometheus call."""

from __future__ import annotations

from collections import Counter

__all__ = ["Stats"]


class Stats:
    """Everything counted, by a bounded key (command id, result, fault, kind, stat)."""

    def __init__(self) -> None:
        self.pdus_in: Counter[int] = Counter()
        """PDUs received on connections that have ended, by command_id (live connections
        count in their sessions: see ``Simulator.pdu_counts``)."""
        self.pdus_out: Counter[int] = Counter()
        """PDUs sent on connections that have ended, by command_id."""
        self.binds: Counter[str] = Counter()
        """Bind attempts by result: ok, bad_credentials, bind_type, too_many, refused."""
        self.faults: Counter[str] = Counter()
        """Faults injected, by name."""
        self.replies: Counter[str] = Counter()
        """MO sent by handsets, by kind (ja, duplicate, stop, ..., tv)."""
        self.receipts: Counter[str] = Counter()
        """Receipts generated, by stat word."""
        self.deliveries: Counter[str] = Counter()
        """deliver_sm outcomes: ok, retried, given_up, rejected, dropped."""
        self.rejected_pdus = 0
        """Garbage or out-of-state PDUs answered with generic_nack or an error _resp."""
        self.throttled = 0
        self.queue_full = 0
        self.messages = 0
        """Submitted messages accepted (one per destination)."""
