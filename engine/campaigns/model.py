"""The campaign API's records: what callers (Python, the CLI, an HTTP API) send and get back.

msgspec Structs in and out, so every face of the engine shares one typed contract and none
of them reaches into Redis keys.
"""

from __future__ import annotations

from enum import Enum

from msgspec import Struct

__all__ = ["AppealSpec", "AppealStatus", "AppealView", "CampaignError", "FanOutProgress"]


class CampaignError(ValueError):
    """A request the campaign layer refuses; the message says what to change."""


class AppealStatus(Enum):
    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"
    """The fan-out has queued every recipient (JA are accepted until ``closes_at``)."""


class AppealSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An urgent action as the operator writes it."""

    title: str
    text: str
    language: str = ""
    """Language of the text and of the replies about it ("" for the configured default)."""
    public: bool = False
    """A TV appeal: JA from numbers that are not subscribers count too (they are invited)."""
    reply_window: float | None = None
    """Seconds JA are accepted after sending (None for the configured default)."""
    thank_you: str = ""
    """Thank-you template ({count}, {others}, {organisation}...); "" for the language's."""
    audience_language: str = ""
    """Send only to subscribers who joined in this language ("" for all active ones)."""
    outcome_to_public: bool = True
    urgent: bool = False
    """Ignore the per-subscriber frequency cap (recorded on the appeal)."""
    force: bool = False
    """Allow a text of more than one SMS segment."""


class FanOutProgress(Struct, frozen=True, kw_only=True):
    """One fan-out (the appeal, or its outcome) as Redis has it now."""

    status: str
    """"" (not started), "sending" or "sent"."""
    queued: int
    sent: int
    refused: int
    """Not sent at sending time: opted out or no longer subscribed."""
    failed: int
    skipped: int = 0
    """Not queued at all: outside the appeal's segment, over the frequency cap, opted out
    since they signed (an outcome), or forgotten."""
    capped: int = 0
    """Of ``skipped``: had received the most appeals a week allows."""
    cancelled: int = 0
    """Not sent because the operator cancelled the appeal (queued or not)."""
    held: int = 0
    """Queued, set aside while the appeal is paused (sent on resume)."""
    audience: int
    """Recipients when it started (active subscribers, or signers for an outcome)."""

    @property
    def remaining(self) -> int:
        done = self.sent + self.refused + self.failed + self.skipped + self.cancelled
        return max(0, self.audience - done)


class AppealView(Struct, frozen=True, kw_only=True):
    """An appeal with its live figures."""

    id: int
    title: str
    text: str
    language: str
    public: bool
    status: AppealStatus
    opens_at: float
    closes_at: float
    encoding: str
    segments: int
    signatures: int
    fanout: FanOutProgress
    thanks: FanOutProgress
    outcome: FanOutProgress
    outcome_text: str = ""
    paused: bool = False
    cancelled: bool = False
    duplicates: int = 0
    """JA from someone who had signed already."""
    late: int = 0
    """JA after the appeal closed (answered politely, not counted)."""
    opt_outs: int = 0
    """Opt-outs from numbers whose latest appeal this was."""
    thank_you_delay: float = 0.0
    """Mean seconds from a JA to its thank-you, over the thank-yous sent."""
    receipts: dict[str, dict[str, int]] = {}
    """Delivery receipts by kind of message ("appeal", "thanks", "outcome") and final state
    (DELIVERED, UNDELIVERABLE, EXPIRED, REJECTED...)."""
