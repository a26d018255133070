"""An appeal's signatures for the authorities: a short summary and a streamed CSV.

Numbers are masked by default (``+3161234****``: enough for the authorities to see that real
people signed, not enough to call or harass them). An unmasked export is recorded in the
consent log, with who asked and when. The CSV is written a page of signatures at a time, so a
million signatures take no more memory than a thousand, and every cell that a spreadsheet
would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from typing import TextIO

from msgspec import Struct

from counters import Signature, Store
from engine.campaigns.model import CampaignError
from engine.masking import mask_number

__all__ = ["ExportSummary", "neutralise", "signature_rows", "summarise", "write_csv"]

PAGE = 5000
HEADER = ("signed_at_utc", "number", "reply")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportSummary(Struct, frozen=True, kw_only=True):
    """What the authorities read first."""

    appeal: int
    title: str
    text: str
    sent_at: float
    signatures: int
    first_signature: float | None
    last_signature: float | None
    per_hour: dict[str, int]
    """UTC hour ("2026-11-30 14:00") -> signatures in it."""


def neutralise(cell: str) -> str:
    """A cell no spreadsheet runs as a formula (OWASP: a leading quote)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


async def summarise(store: Store, appeal: int) -> ExportSummary:
    meta = await store.appeals.meta(appeal)
    if meta is None:
        raise CampaignError(f"no appeal {appeal}")
    per_hour: Counter[str] = Counter()
    first: float | None = None
    last: float | None = None
    async for page in _pages(store, appeal):
        for signature in page:
            first = signature.at if first is None else first
            last = signature.at
            per_hour[_hour(signature.at)] += 1
    return ExportSummary(
        appeal=appeal,
        title=meta.title,
        text=meta.text,
        sent_at=meta.opens_at,
        signatures=await store.appeals.count(appeal),
        first_signature=first,
        last_signature=last,
        per_hour=dict(sorted(per_hour.items())),
    )


async def signature_rows(
    store: Store, appeal: int, *, unmasked: bool = False
) -> AsyncIterator[list[tuple[str, str, str]]]:
    """The CSV rows, a page at a time: (UTC time, number, the reply as received)."""
    async for page in _pages(store, appeal):
        numbers = await store.subscribers.numbers([s.subscriber for s in page])
        rows = []
        for signature, number in zip(page, numbers, strict=True):
            shown = "(forgotten)" if number is None else number if unmasked else mask_number(number)
            when = dt.datetime.fromtimestamp(signature.at, dt.UTC).isoformat(timespec="seconds")
            rows.append((when, neutralise(shown), neutralise(signature.text)))
        yield rows


async def write_csv(
    store: Store, appeal: int, out: TextIO, *, unmasked: bool = False, who: str = ""
) -> int:
    """Write the CSV; returns the number of rows. An unmasked export is audited first."""
    if unmasked:
        await store.subscribers.audit(
            "export", source=f"operator:{who or 'unknown'}", text=f"appeal {appeal} unmasked"
        )
    writer = csv.writer(out)
    writer.writerow(HEADER)
    written = 0
    async for rows in signature_rows(store, appeal, unmasked=unmasked):
        writer.writerows(rows)
        written += len(rows)
    return written


async def _pages(store: Store, appeal: int) -> AsyncIterator[list[Signature]]:
    after = "-"
    while True:
        page = await store.appeals.signatures(appeal, after=after, count=PAGE)
        if not page:
            return
        yield page
        after = page[-1].entry_id


def _hour(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:00")
