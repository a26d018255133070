"""What a Session reports: nouns for facts (style guide item 21)."""

from __future__ import annotations

from typing import Final

import msgspec

from smpp.pdu import Pdu

__all__ = [
    "NEED_DATA",
    "ConnectionClosed",
    "Event",
    "NeedData",
    "PduRejected",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "UnexpectedResponse",
]


class NeedData:
    """Sentinel: no complete PDU is buffered."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


class RequestReceived(msgspec.Struct, frozen=True, gc=False):
    """The peer sent a request that is legal in the current state; answer it with respond()."""

    sequence_number: int
    pdu: Pdu


class ResponseReceived(msgspec.Struct, frozen=True, gc=False):
    """The answer to one of our requests, paired with it (the window slot is now free).

    ``response`` is a GenericNack when the peer could not take the request.
    """

    sequence_number: int
    request: Pdu
    response: Pdu
    command_status: int
    sent_at: float


class UnexpectedResponse(msgspec.Struct, frozen=True, gc=False):
    """A response whose sequence number matches nothing outstanding (late, or bogus)."""

    sequence_number: int
    response: Pdu
    command_status: int


class RequestTimedOut(msgspec.Struct, frozen=True, gc=False):
    """No response came within the timeout; the slot is freed and the outcome is unknown."""

    sequence_number: int
    request: Pdu
    sent_at: float


class PduRejected(msgspec.Struct, frozen=True, gc=False):
    """A PDU with a readable header that we cannot act on: a bad body, an unknown command,
    or a request not allowed in this state. ``Session.reject(event)`` gives the answer
    (the request's _resp, or generic_nack) carrying ``command_status``. When the PDU was a
    response to one of our requests, ``request`` is that request and its slot is freed.
    """

    command_id: int
    sequence_number: int
    command_status: int
    reason: str
    request: Pdu | None = None


class ConnectionClosed(msgspec.Struct, frozen=True, gc=False):
    """The peer closed the connection (EOF)."""


Event = (
    RequestReceived
    | ResponseReceived
    | UnexpectedResponse
    | RequestTimedOut
    | PduRejected
    | ConnectionClosed
)
