"""A CRM's transactional text: delivered to an active subscriber (the simulator's ledger
shows it, once per key), refused for an opted-out or unknown number."""

from __future__ import annotations

import pytest

from counters import Lane, Store
from tests.api.support import api_rig, set_tokens
from tests.campaigns.test_flow import FIRST, subscribe
from tests.engine.support import mark_binds


async def test_a_transactional_text_respects_consent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tokens(monkeypatch)
    await subscribe(store, FIRST, 3)
    await store.subscribers.unsubscribe(f"+{FIRST + 2}", source="test", text="STOP")
    async with api_rig(store) as (r, api):
        stopped = await api.call("POST", "/messages", "crm", {"to": f"+{FIRST + 2}", "text": "Hoi"})
        assert (stopped.status, stopped.json()["error"]["code"]) == (409, "opted_out")
        assert str(FIRST + 2) not in stopped.text  # masked
        unknown = await api.call("POST", "/messages", "crm", {"to": f"+{FIRST + 9}", "text": "Hoi"})
        assert (unknown.status, unknown.json()["error"]["code"]) == (409, "not_subscribed")
        wrong = await api.call("POST", "/messages", "crm", {"to": f"+{FIRST}", "text": 7})
        assert (wrong.status, wrong.json()["error"]["field"]) == (422, "text")
        assert (
            await api.call("POST", "/messages", "reader", {"to": f"+{FIRST}", "text": "x"})
        ).status == 403

        body = {"to": f"+{FIRST + 1}", "text": "Je gift is ontvangen, dank je!", "key": "gift-42"}
        first = await api.call("POST", "/messages", "crm", body)
        assert first.status == 202
        assert first.json() == {"ref": "api:crm:gift-42", "to": "+3160000****", "queued": True}
        repeat = await api.call("POST", "/messages", "crm", body)  # a retried request
        assert (repeat.status, repeat.json()["queued"]) == (202, False)

        await r.wait_finished(1, lane=Lane.TRANSACTIONAL)
        await mark_binds(r.engine)  # all the engine wrote has reached the simulator
        texts = [(rec.number, rec.text) for rec in r.sim.ledger if rec.direction == "mt"]
        assert texts == [(str(FIRST + 1), "Je gift is ontvangen, dank je!")]
