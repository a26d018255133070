"""``/subscribers``: a web sign-up (pending until the handset confirms), a masked look-up,
forgetting a number. The same rules as ``ja-engine subscribers``: a sign-up is not consent
until the person texts START from that number, and a forgotten number cannot be added."""

from __future__ import annotations

from starlette.responses import Response

from engine.api.bodies import ConsentEntry, Forgotten, NewSubscriber, Status, SubscriberView
from engine.api.endpoints import Call, Endpoint
from engine.api.errors import ApiError, json_response
from engine.console.numbers import NumberError, to_e164
from engine.masking import mask_number

__all__ = ["ENDPOINTS", "number_of"]


def number_of(call: Call, raw: str, field: str | None = None) -> str:
    """``raw`` in E.164, or ApiError 422 ``invalid_number``."""
    try:
        return to_e164(raw, call.api.engine.config.country_code)
    except NumberError as exc:
        raise ApiError(422, "invalid_number", str(exc), field=field) from None


async def status_of(call: Call, subscriber: int) -> Status:
    subscribers = call.api.store.subscribers
    if not subscriber:
        return "unknown"
    ((active, stopped),) = await subscribers.consent_states([subscriber])
    if active:
        return "active"
    if await subscribers.is_pending(subscriber):
        return "pending"
    return "opted_out" if stopped else "known"


async def add(call: Call) -> Response:
    body = await call.body(NewSubscriber)
    number = number_of(call, body.number, "number")
    templates = call.api.engine.config.campaigns.templates
    if body.language and body.language not in templates:
        known = ", ".join(sorted(templates))
        raise ApiError(
            422,
            "invalid_body",
            f"language {body.language!r} is not one of: {known}",
            field="language",
        )
    source = f"api:{call.token.name}" + (f":{body.source}" if body.source else "")
    subscribers = call.api.store.subscribers
    (result,) = await subscribers.import_numbers([number], source=source, language=body.language)
    if result.refused:
        raise ApiError(
            409,
            "forgotten",
            "this number was forgotten at its owner's request: "
            "only a text from that phone (START) can subscribe it again",
        )
    status = await status_of(call, result.subscriber)
    view = SubscriberView(number=mask_number(number), status=status)
    return json_response(view, 200 if result.was_active else 201)


async def show(call: Call) -> Response:
    number = number_of(call, call.param("number"))
    subscribers = call.api.store.subscribers
    (subscriber,) = await subscribers.ids([number], create=False)
    if not subscriber:
        raise ApiError(404, "not_found", f"{mask_number(number)} is not a subscriber")
    history = [
        ConsentEntry(at=e.at, kind=e.kind.value, source=e.source)
        for e in await subscribers.history(number)
    ]
    view = SubscriberView(
        number=mask_number(number), status=await status_of(call, subscriber), history=history
    )
    return json_response(view)


async def forget(call: Call) -> Response:
    if not call.api.engine.config.redis.forget_secret:
        raise ApiError(
            409,
            "forget_not_configured",
            "forgetting needs the key of the "
            "suppression hashes: set redis.forget_secret_env in the engine's config",
        )
    number = number_of(call, call.param("number"))
    reason = call.request.query_params.get("reason", "")[:64]
    source = f"api:{call.token.name}" + (f":{reason}" if reason else "")
    subscriber = await call.api.store.subscribers.forget(number, source=source)
    return json_response(Forgotten(number=mask_number(number), forgotten=bool(subscriber)))


ENDPOINTS = [
    Endpoint("POST", "/subscribers", add, ("subscribe",),
             "Sign a number up (pending until the handset texts START)",
             body=NewSubscriber, answer=SubscriberView, status=201, errors=(400, 409, 413, 422)),
    Endpoint("GET", "/subscribers/{number}", show, ("read",),
             "A subscriber's status and consent history (number masked)",
             answer=SubscriberView, errors=(404, 422)),
    Endpoint("DELETE", "/subscribers/{number}", forget, ("admin",),
             "Forget a number: erase it; no import or sign-up can add it again",
             answer=Forgotten, errors=(409, 422),
             query=(("reason", "string", "recorded with the erasure (a ticket number)"),)),
]  # fmt: skip
