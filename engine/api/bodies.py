"""What the API reads and answers, as msgspec Structs; their JSON schemas feed the OpenAPI
document. Bodies are decoded strictly (unknown fields refused, no type coercion), and a
decoding error names the field at fault.

Appeals are created with ``engine.campaigns.AppealSpec`` and shown as ``AppealView``: the
campaign layer's own contract, so the API and the CLI cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from engine.api.errors import ApiError
from engine.campaigns import AppealView

__all__ = [
    "AppealList",
    "ConsentEntry",
    "Forgotten",
    "MessageQueued",
    "NewMessage",
    "NewSubscriber",
    "Outcome",
    "SubscriberView",
    "decode",
]

Number = Annotated[str, Meta(min_length=3, max_length=32, examples=["+31612345678"])]
Text = Annotated[str, Meta(min_length=1, max_length=1600)]
Status = Literal["active", "pending", "opted_out", "known", "unknown"]


class NewSubscriber(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A sign-up from a web form: pending until the person texts START from that number."""

    number: Number
    """E.164 (+31612345678) or national (06 1234 5678, with the configured country code)."""
    language: Annotated[str, Meta(max_length=8)] = ""
    """The language they will be written in ("" for the configured default)."""
    source: Annotated[str, Meta(max_length=64)] = ""
    """Where they signed up (a page, a campaign); recorded in the consent log."""


class Outcome(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: Text
    """The outcome; may say {count} (the signatures now) and {organisation}."""
    force: bool = False
    """Allow more than one SMS segment."""


class NewMessage(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One transactional text to one subscriber (a CRM's confirmation, say)."""

    to: Number
    text: Text
    key: Annotated[str, Meta(max_length=128)] = ""
    """Idempotency key: a second request with the same key (within two days) queues
    nothing. "" for a new message every time."""
    force: bool = False
    """Allow more than one SMS segment."""


class ConsentEntry(Struct, frozen=True, kw_only=True):
    at: float
    """Unix seconds."""
    kind: str
    """subscribe, unsubscribe, pending."""
    source: str


class SubscriberView(Struct, frozen=True, kw_only=True):
    number: str
    """Masked (+3161234****)."""
    status: Status
    history: list[ConsentEntry] = []


class Forgotten(Struct, frozen=True, kw_only=True):
    number: str
    """Masked."""
    forgotten: bool
    """False if the number was not known (its suppression entry is kept all the same)."""


class MessageQueued(Struct, frozen=True, kw_only=True):
    ref: str
    """The message's reference (``api:KEY``)."""
    to: str
    """Masked."""
    queued: bool
    """False when a message with this key was queued before (nothing queued now)."""


class AppealList(Struct, frozen=True, kw_only=True):
    appeals: list[AppealView]


T = TypeVar("T")
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def decode(body: bytes, kind: type[T]) -> T:
    """``body`` as ``kind``.

    Raises:
        ApiError: 400 ``invalid_json`` (not JSON), 422 ``invalid_body`` (a field missing,
            unknown or of the wrong type, named in ``field``).
    """
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise ApiError(422, "invalid_body", message, field=_field(message)) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None


def _field(message: str) -> str | None:
    """``title`` from "Expected `str`, got `int` - at `$.title`"; ``tags[0]`` from "... at
    `$.tags[0]`"; ``title`` from "Object missing required field `title`"."""
    at = _AT.search(message)
    path = at["path"].removeprefix(".") if at else ""
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named['name']}" if path else named["name"]
    return path or None
