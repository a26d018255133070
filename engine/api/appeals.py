"""``/appeals``: list, show with live counts, create, send, pause, resume, cancel, outcome.

A thin face over ``engine.campaigns.Campaigns``, as the CLI is. The campaign layer refuses
what makes no sense (pausing a draft, an outcome twice); here those refusals become 409 with
a code a program can act on, an unknown appeal 404, and a text the layer rejects 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from engine.api.bodies import AppealList, Outcome
from engine.api.endpoints import Call, Endpoint
from engine.api.errors import ApiError, json_response
from engine.campaigns import AppealSpec, AppealStatus, AppealView, CampaignError, Campaigns

__all__ = ["ENDPOINTS", "appeal_of"]

NEWEST = 100


async def appeal_of(call: Call) -> AppealView:
    """The appeal the path names, or ApiError 404."""
    appeal: int = call.param("appeal")
    try:
        return await call.api.campaigns.show(appeal)
    except CampaignError:
        raise ApiError(404, "not_found", f"no appeal {appeal}") from None


async def list_appeals(call: Call) -> Response:
    raw = call.request.query_params.get("newest", str(NEWEST))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(422, "invalid_query", f"newest: expected 1 to 1000, got {raw!r}")
    return json_response(AppealList(appeals=await call.api.campaigns.list(newest=int(raw))))


async def show(call: Call) -> Response:
    return json_response(await appeal_of(call))


async def create(call: Call) -> Response:
    spec = await call.body(AppealSpec)
    try:
        view = await call.api.campaigns.create(spec)
    except CampaignError as exc:
        field = str(exc).partition(":")[0] if str(exc).startswith("title:") else None
        raise ApiError(422, "refused", str(exc), field=field) from None
    return json_response(view, 201)


async def send(call: Call) -> Response:
    view = await appeal_of(call)
    if view.status is not AppealStatus.DRAFT:
        raise ApiError(
            409,
            "already_sent",
            f"appeal {view.id} was sent already ({view.status.value}); it is never sent twice",
        )
    return json_response(await call.api.campaigns.send(view.id), 202)


def _control(
    verb: Callable[[Campaigns, int], Awaitable[AppealView]],
) -> Callable[[Call], Awaitable[Response]]:
    async def handle(call: Call) -> Response:
        view = await appeal_of(call)
        try:
            return json_response(await verb(call.api.campaigns, view.id))
        except CampaignError as exc:
            code = "cancelled" if view.cancelled else "not_sent"
            raise ApiError(409, code, str(exc)) from None

    return handle


async def outcome(call: Call) -> Response:
    body = await call.body(Outcome)
    view = await appeal_of(call)
    if view.outcome.status:
        raise ApiError(409, "outcome_sent", f"appeal {view.id}: the outcome was sent already")
    if view.cancelled:
        raise ApiError(409, "cancelled", f"appeal {view.id} is cancelled: it gets no outcome")
    if view.status is AppealStatus.DRAFT:
        raise ApiError(409, "not_sent", f"appeal {view.id} was never sent: it has no signers")
    try:
        view = await call.api.campaigns.outcome(view.id, body.text, force=body.force)
    except CampaignError as exc:
        raise ApiError(422, "refused", str(exc), field="text") from None
    return json_response(view, 202)


_ONE = "/appeals/{appeal:int}"
ENDPOINTS = [
    Endpoint("GET", "/appeals", list_appeals, ("read",), "The newest appeals with their counts",
             answer=AppealList, errors=(422,),
             query=(("newest", "integer", "how many (1 to 1000, default 100)"),)),
    Endpoint("POST", "/appeals", create, ("appeals",), "Check an appeal's text, store a draft",
             body=AppealSpec, answer=AppealView, status=201, errors=(400, 413, 422)),
    Endpoint("GET", _ONE, show, ("read",), "An appeal with its live counts",
             answer=AppealView, errors=(404,)),
    Endpoint("POST", f"{_ONE}/send", send, ("appeals",),
             "Send a draft to its audience (the engines fan it out)",
             answer=AppealView, status=202, errors=(404, 409)),
    Endpoint("POST", f"{_ONE}/pause", _control(Campaigns.pause), ("appeals",),
             "Stop sending within a second (resume goes on)",
             answer=AppealView, errors=(404, 409)),
    Endpoint("POST", f"{_ONE}/resume", _control(Campaigns.resume), ("appeals",),
             "Go on sending a paused appeal", answer=AppealView, errors=(404, 409)),
    Endpoint("POST", f"{_ONE}/cancel", _control(Campaigns.cancel), ("appeals",),
             "Send nothing more; signatures stay", answer=AppealView, errors=(404, 409)),
    Endpoint("POST", f"{_ONE}/outcome", outcome, ("appeals",),
             "Send the outcome to the appeal's signers, once",
             body=Outcome, answer=AppealView, status=202, errors=(400, 404, 409, 413, 422)),
]  # fmt: skip
