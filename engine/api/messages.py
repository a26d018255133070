"""``/messages``: one transactional text to one subscriber (a CRM's confirmation, say).

The same consent rules as every other message: only to an active subscriber, refused here
when the number has opted out or never confirmed, and checked again when the message is read
to be sent (``requires="active"`` in ``engine.preflight``), so a STOP that arrives in
between still wins. It goes through the transactional lane, once per idempotency key.
"""

from __future__ import annotations

import uuid

from starlette.responses import Response

from counters import OutboundMessage
from engine.api.bodies import MessageQueued, NewMessage
from engine.api.endpoints import Call, Endpoint
from engine.api.errors import ApiError, json_response
from engine.api.subscribers import number_of
from engine.campaigns.texts import TextError, check_text
from engine.masking import mask_number

__all__ = ["ENDPOINTS"]

KIND = "api"
"""``OutboundMessage.kind`` of these messages."""


async def send(call: Call) -> Response:
    body = await call.body(NewMessage)
    number = number_of(call, body.to, "to")
    try:
        check_text(body.text, force=body.force)
    except TextError as exc:
        raise ApiError(422, "invalid_text", str(exc), field="text") from None
    subscribers = call.api.store.subscribers
    (subscriber,) = await subscribers.ids([number], create=False)
    ((active, stopped),) = await subscribers.consent_states([subscriber] if subscriber else [0])
    if not (subscriber and active):
        shown = mask_number(number)
        if subscriber and stopped:
            raise ApiError(409, "opted_out", f"{shown} has opted out: nothing is sent to it")
        raise ApiError(
            409,
            "not_subscribed",
            f"{shown} is not an active subscriber (unknown, or not yet confirmed by text)",
        )
    # Keys are per token, so two clients' keys never collide.
    key = f"{KIND}:{call.token.name}:{body.key or uuid.uuid4().hex}"
    message = OutboundMessage(
        ref=key,
        to=number,
        text=body.text,
        kind=KIND,
        subscriber=subscriber,
        requires="active",
        language=await subscribers.language(subscriber),
    )
    queued = await call.api.engine.context.send(message, key)
    return json_response(MessageQueued(ref=key, to=mask_number(number), queued=queued), 202)


ENDPOINTS = [
    Endpoint("POST", "/messages", send, ("send",),
             "Send one transactional text to an active subscriber",
             body=NewMessage, answer=MessageQueued, status=202, errors=(400, 409, 413, 422)),
]  # fmt: skip
