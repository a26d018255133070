"""``/appeals/{id}/signatures.csv`` and ``/appeals/{id}/summary``: the signatures for the
authorities.

The CSV is streamed a page of signatures at a time (``engine.campaigns.export``), so a
million signatures take no more memory than a thousand. Numbers are masked; ``?unmasked=1``
needs the ``admin`` scope besides ``export`` and is recorded before the first byte, in the
consent log (``export`` entry: which token, which appeal, when) and in the engine's log.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from counters import Store
from engine.api.endpoints import Call, Endpoint
from engine.api.errors import ApiError, json_response
from engine.campaigns.export import HEADER, ExportSummary, signature_rows, summarise

__all__ = ["ENDPOINTS", "csv_chunks"]

log = logging.getLogger(__name__)


async def csv_chunks(store: Store, appeal: int, *, unmasked: bool) -> AsyncIterator[bytes]:
    """The CSV's bytes: the header, then one chunk per page of signatures."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    async for rows in signature_rows(store, appeal, unmasked=unmasked):
        writer.writerows(rows)
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue().encode()


async def _known(call: Call) -> int:
    appeal: int = call.param("appeal")
    if await call.api.store.appeals.meta(appeal) is None:
        raise ApiError(404, "not_found", f"no appeal {appeal}")
    return appeal


async def signatures(call: Call) -> Response:
    appeal = await _known(call)
    flag = call.request.query_params.get("unmasked", "0")
    if flag not in ("0", "1", "true", "false"):
        raise ApiError(422, "invalid_query", f"unmasked: expected 0 or 1, got {flag!r}")
    unmasked = flag in ("1", "true")
    if unmasked:
        call.require("admin")
        who = f"api:{call.token.name}"
        await call.api.store.subscribers.audit(
            "export", source=who, text=f"appeal {appeal} unmasked"
        )
        log.warning(
            "appeal %d exported with numbers unmasked by API token %s",
            appeal,
            call.token.name,
            extra={"appeal": appeal},
        )
    name = f"appeal-{appeal}-signatures{'-unmasked' if unmasked else ''}.csv"
    return StreamingResponse(
        csv_chunks(call.api.store, appeal, unmasked=unmasked),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def summary(call: Call) -> Response:
    return json_response(await summarise(call.api.store, await _known(call)))


ENDPOINTS = [
    Endpoint("GET", "/appeals/{appeal:int}/signatures.csv", signatures, ("export",),
             "The signatures as CSV, streamed (numbers masked; unmasked needs admin, audited)",
             media_type="text/csv", errors=(404, 422),
             query=(("unmasked", "integer", "1: whole numbers (needs admin; recorded)"),)),
    Endpoint("GET", "/appeals/{appeal:int}/summary", summary, ("export",),
             "What the authorities read first: counts per hour, first and last signature",
             answer=ExportSummary, errors=(404,)),
]  # fmt: skip
