"""Tokens and bodies at the door: who may do what, and a bad body answered with its field."""

from __future__ import annotations

import pytest

from counters import Store
from engine.api.openapi import DOCUMENT_PATH
from tests.api.support import api_rig, set_tokens

BEARER = 'Bearer realm="ja-engine"'


async def test_tokens_are_refused_and_accepted(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tokens(monkeypatch)
    async with api_rig(store) as (_, api):
        missing = await api.call("GET", "/appeals")
        assert missing.status == 401
        assert missing.headers["www-authenticate"] == BEARER
        assert missing.json()["error"]["code"] == "unauthorized"

        wrong = await api.call("GET", "/appeals", headers=[("Authorization", "Bearer nope")])
        assert wrong.status == 401
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        basic = await api.call("GET", "/appeals", headers=[("Authorization", "Basic eDp5")])
        assert basic.status == 401

        body = {"title": "T", "text": "T: antwoord JA"}
        scope = await api.call("POST", "/appeals", "reader", body)
        assert scope.status == 403
        assert scope.json()["error"]["code"] == "forbidden"
        assert 'scope="appeals"' in scope.headers["www-authenticate"]
        assert (await api.call("GET", "/appeals", "crm")).status == 403  # send only

        assert (await api.call("GET", "/appeals", "reader")).json() == {"appeals": []}
        created = await api.call("POST", "/appeals", "operator", body)
        assert created.status == 201
        assert created.json()["status"] == "draft"
        assert (await api.call("PUT", "/appeals", "operator", body)).status == 405

        # The OpenAPI document: any valid token, and the same bytes as the repository's copy.
        assert (await api.call("GET", "/openapi.json")).status == 401
        served = await api.call("GET", "/openapi.json", "crm")
        assert served.status == 200
        assert served.body == DOCUMENT_PATH.read_bytes()


async def test_a_bad_body_is_answered_with_the_fields_name(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tokens(monkeypatch)
    async with api_rig(store) as (_, api):
        typed = await api.call("POST", "/appeals", "operator", {"title": 5, "text": "x"})
        assert typed.status == 422
        error = {"code": "invalid_body", "message": "Expected `str`, got `int` - at `$.title`"}
        assert typed.json() == {"error": {**error, "field": "title"}}
        missing = await api.call("POST", "/appeals", "operator", {"text": "x"})
        assert (missing.status, missing.json()["error"]["field"]) == (422, "title")
        unknown = await api.call(
            "POST", "/appeals", "operator", {"title": "a", "text": "b", "colour": 1}
        )
        assert (unknown.status, unknown.json()["error"]["field"]) == (422, "colour")
        broken = await api.call("POST", "/appeals", "operator", b"{not json")
        assert (broken.status, broken.json()["error"]["code"]) == (400, "invalid_json")
        number = await api.call("POST", "/subscribers", "website", {"number": "06 abc"})
        assert number.status == 422
        assert (number.json()["error"]["code"], number.json()["error"]["field"]) == (
            "invalid_number",
            "number",
        )
        blank = await api.call("POST", "/appeals", "operator", {"title": " ", "text": "x"})
        assert (blank.status, blank.json()["error"]["field"]) == (422, "title")
        huge = await api.call(
            "POST", "/messages", "crm", {"to": "+31600000001", "text": "x" * 70000}
        )
        assert (huge.status, huge.json()["error"]["code"]) == (413, "body_too_large")
        assert (await api.call("GET", "/appeals/77", "reader")).status == 404
        # Paths and methods the API does not have: JSON too, like every other API error.
        nowhere = await api.call("GET", "/appeal", "reader")
        assert (nowhere.status, nowhere.json()["error"]["code"]) == (404, "not_found")
        wrong = await api.call("DELETE", "/appeals", "operator")
        assert (wrong.status, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
        assert "GET" in wrong.headers["allow"]
