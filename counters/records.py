"""Records kept in Redis or handed to callers, as msgspec Structs.

Structs stored in Redis are msgpack-encoded with one module-level encoder and one typed decoder
per type, both reused (msgspec's perf advice); Lua scripts exchange batches as msgpack too
(``cmsgpack`` is built into Redis and Valkey), so a batch of 1,000 is one argument, not 4,000.
"""

from __future__ import annotations

from enum import Enum

import msgspec

__all__ = [
    "AppealFigures",
    "AppealMeta",
    "ConsentEvent",
    "ConsentKind",
    "ConsentResult",
    "OutboundMessage",
    "QueuedMessage",
    "SignResult",
    "Signature",
    "decode_appeal",
    "decode_message",
    "encode",
]


class ConsentKind(Enum):
    """Events of the consent log; a subscriber's status is the last subscribe/unsubscribe."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    FORGET = "forget"
    PENDING = "pending"
    """Imported or signed up on the web: active only once the person confirms by text."""
    EXPORT = "export"
    """An operator exported an appeal's signatures with numbers shown (audit)."""


class AppealMeta(msgspec.Struct, frozen=True, kw_only=True):
    """An urgent action as the operator created it. Times are Unix seconds."""

    id: int
    title: str
    text: str
    opens_at: float
    closes_at: float
    public: bool = False
    language: str = ""
    extra: dict[str, str] = {}
    thank_you: str = ""
    """Template of the thank-you ({count}, {others}); "" for the configured default."""
    outcome: str = ""
    """The outcome text, once the operator has it."""
    audience_language: str = ""
    """Segment: only active subscribers of this language ("" for all)."""
    outcome_to_public: bool = True
    """The outcome also goes to signers who are not subscribers (a public appeal's)."""
    created_at: float = 0.0

    def is_open(self, now: float) -> bool:
        return self.opens_at <= now < self.closes_at


class AppealFigures(msgspec.Struct, frozen=True, kw_only=True):
    """What the public counter shows of an appeal, read in one round trip."""

    meta: AppealMeta
    count: int
    per_minute: tuple[int, ...]
    """New signatures in each of the minutes asked for, in the same order."""
    sent_at: float
    """When the operator sent it (Unix seconds; 0.0 for a draft)."""


class SignResult(msgspec.Struct, frozen=True, gc=False):
    """Outcome of one JA: ``new`` is False for a duplicate; ``count`` is the appeal's count then."""

    new: bool
    count: int


class Signature(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One stored signature; ``at`` is when Redis committed it (the stream entry's time)."""

    entry_id: str
    subscriber: int
    text: str
    message_id: str
    at: float


class ConsentEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One entry of the consent log. A ``forget`` entry carries no number, only its hash."""

    entry_id: str
    at: float
    kind: ConsentKind
    subscriber: int
    number: str
    source: str
    text: str
    message_id: str
    number_hash: str = ""


class ConsentResult(msgspec.Struct, frozen=True, gc=False):
    """``refused`` means an import hit a forgotten number's suppression entry: nothing changed."""

    subscriber: int
    was_active: bool
    refused: bool = False


class OutboundMessage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A message waiting in a lane. ``ref`` is unique per message (it also keys the schedule)."""

    ref: str
    to: str
    text: str
    kind: str = ""
    appeal: int = 0
    subscriber: int = 0
    carrier: str = ""
    bind: str = ""
    attempt: int = 0
    requires: str = ""
    """Consent checked when the message is read to be sent: "active" (a subscriber now),
    "not_stopped" (has not opted out), or "" (a reply the person asked for, like HELP)."""
    template: bool = False
    """``text`` is a template rendered when sent ({count}, {others}: the live count)."""
    language: str = ""
    origin_at: float = 0.0
    """When the message that caused this one arrived (Unix seconds): thank-you delay."""
    parts_done: tuple[int, ...] = ()
    """Part numbers the carrier already accepted (a multi-part message retried later sends
    only the others, with the same ``udh_reference`` so the handset joins them)."""
    udh_reference: int = 0


class QueuedMessage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A message read from a lane: acknowledge it by ``entry_id`` once its fate is final."""

    entry_id: str
    message: OutboundMessage


_encoder = msgspec.msgpack.Encoder()
_appeal_decoder = msgspec.msgpack.Decoder(AppealMeta)
_message_decoder = msgspec.msgpack.Decoder(OutboundMessage)

encode = _encoder.encode


def decode_appeal(data: bytes) -> AppealMeta:
    return _appeal_decoder.decode(data)


def decode_message(data: bytes) -> OutboundMessage:
    return _message_decoder.decode(data)
