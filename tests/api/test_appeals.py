"""An appeal driven through the API: created, sent, paused, shown with its counts, resumed,
signed by handsets, its outcome sent once, its signatures exported (masked, then unmasked
with the admin scope and audited)."""

from __future__ import annotations

import csv
import io

import pytest

from counters import ConsentKind, Store
from tests.api.support import Client, api_rig, set_tokens
from tests.campaigns.test_flow import FIRST, subscribe
from tests.campaigns.test_inbound_rules import send_mo, wait_mt, wait_received
from tests.engine.support import Rig
from tests.waiting import wait_for

TEXT = "Urgente actie: laat de journalist vrij. Antwoord JA om te tekenen."


async def shown(api: Client, appeal: int) -> dict[str, object]:
    reply = await api.call("GET", f"/appeals/{appeal}", "reader")
    assert reply.status == 200
    view: dict[str, object] = reply.json()
    return view


async def test_an_appeal_is_created_sent_paused_and_shown(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tokens(monkeypatch)
    await subscribe(store, FIRST, 5)
    async with api_rig(store) as (r, api):
        created = (
            await api.call("POST", "/appeals", "operator", {"title": "Vrij", "text": TEXT})
        ).json()
        appeal = created["id"]
        pause = await api.call("POST", f"/appeals/{appeal}/pause", "operator")
        assert (pause.status, pause.json()["error"]["code"]) == (409, "not_sent")

        sent = await api.call("POST", f"/appeals/{appeal}/send", "operator")
        assert (sent.status, sent.json()["status"]) == (202, "sending")
        twice = await api.call("POST", f"/appeals/{appeal}/send", "operator")
        assert (twice.status, twice.json()["error"]["code"]) == (409, "already_sent")
        await wait_mt(r.sim, 5)

        paused = await api.call("POST", f"/appeals/{appeal}/pause", "operator")
        assert (paused.status, paused.json()["paused"]) == (200, True)
        view = await shown(api, appeal)
        assert view["paused"] is True
        assert view["fanout"]["audience"] == 5  # type: ignore[index]
        listed = (await api.call("GET", "/appeals", "reader")).json()["appeals"]
        assert [a["id"] for a in listed] == [appeal]

        resumed = await api.call("POST", f"/appeals/{appeal}/resume", "operator")
        assert (resumed.status, resumed.json()["paused"]) == (200, False)
        await wait_received(r.engine, [1, 2], [appeal, appeal])
        send_mo(r.sim, FIRST, "JA")
        send_mo(r.sim, FIRST + 1, "Ja!")
        await r.wait_routed(2)
        counted = await shown(api, appeal)
        assert counted["signatures"] == 2
        await wait_fanned_out(r, api, appeal)

        outcome = await api.call(
            "POST",
            f"/appeals/{appeal}/outcome",
            "operator",
            {"text": "Hij is vrij! Dank aan {count} ondertekenaars."},
        )
        assert (outcome.status, outcome.json()["outcome"]["audience"]) == (202, 2)
        again = await api.call(
            "POST", f"/appeals/{appeal}/outcome", "operator", {"text": "Nogmaals"}
        )
        assert (again.status, again.json()["error"]["code"]) == (409, "outcome_sent")

        await export_checks(store, api, appeal)

        cancelled = await api.call("POST", f"/appeals/{appeal}/cancel", "operator")
        assert (cancelled.status, cancelled.json()["cancelled"]) == (200, True)
        refused = await api.call("POST", f"/appeals/{appeal}/resume", "operator")
        assert (refused.status, refused.json()["error"]["code"]) == (409, "cancelled")


async def wait_fanned_out(r: Rig, api: Client, appeal: int) -> None:
    async def done() -> bool:
        fanout = (await shown(api, appeal))["fanout"]
        return fanout["sent"] == 5  # type: ignore[index,no-any-return]

    await wait_for(done, on=r.engine.outbox.writeback.written, what="the appeal sent to all")


async def export_checks(store: Store, api: Client, appeal: int) -> None:
    masked = await api.call("GET", f"/appeals/{appeal}/signatures.csv", "exporter")
    assert masked.status == 200
    assert masked.headers["content-type"].startswith("text/csv")
    assert masked.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered
    rows = list(csv.reader(io.StringIO(masked.text)))
    assert rows[0] == ["signed_at_utc", "number", "reply"]
    # A leading "+" is quoted so no spreadsheet runs the cell as a formula (as the CLI's).
    masked_rows = sorted(row[1:] for row in rows[1:])
    assert masked_rows == [["'+3160000****", "JA"], ["'+3160000****", "Ja!"]]

    assert (await api.call("GET", f"/appeals/{appeal}/signatures.csv", "reader")).status == 403
    refused = await api.call("GET", f"/appeals/{appeal}/signatures.csv?unmasked=1", "exporter")
    assert (refused.status, refused.json()["error"]["code"]) == (403, "forbidden")
    assert await audits(store) == []  # a refusal exports nothing and records nothing

    whole = await api.call("GET", f"/appeals/{appeal}/signatures.csv?unmasked=1", "auditor")
    assert whole.status == 200
    numbers = sorted(row[1] for row in list(csv.reader(io.StringIO(whole.text)))[1:])
    assert numbers == [f"'+{FIRST}", f"'+{FIRST + 1}"]
    assert await audits(store) == [("api:auditor", f"appeal {appeal} unmasked")]

    summary = (await api.call("GET", f"/appeals/{appeal}/summary", "exporter")).json()
    assert (summary["appeal"], summary["signatures"]) == (appeal, 2)
    assert (await api.call("GET", "/appeals/999/signatures.csv", "exporter")).status == 404


async def audits(store: Store) -> list[tuple[str, str]]:
    log = await store.subscribers.log()
    return [(e.source, e.text) for e in log if e.kind is ConsentKind.EXPORT]
