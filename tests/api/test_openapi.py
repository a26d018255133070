"""The OpenAPI document: the repository's copy is current, and it describes every route."""

from __future__ import annotations

import json
from pathlib import Path

from engine.api import openapi
from engine.api.routes import ENDPOINTS


def test_the_repositorys_openapi_file_is_current() -> None:
    assert openapi.DOCUMENT_PATH.read_bytes() == openapi.render(ENDPOINTS), (
        "docs/api/openapi.json is stale: run python -m engine.api.openapi"
    )


def test_the_document_lists_every_endpoint_with_its_scopes_and_schemas() -> None:
    doc = json.loads(openapi.render(ENDPOINTS))
    operations = {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert len(operations) == len(ENDPOINTS)
    send = operations[("POST", "/api/v1/appeals/{appeal}/send")]
    assert send["security"] == [{"bearer": ["appeals"]}]
    assert send["parameters"][0] == {"name": "appeal", "in": "path", "required": True,
                                     "schema": {"type": "integer"}}  # fmt: skip
    assert set(send["responses"]) == {"202", "401", "403", "404", "409"}
    create = operations[("POST", "/api/v1/appeals")]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    spec = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert spec["required"] == ["title", "text"]
    assert spec["additionalProperties"] is False  # unknown fields are refused
    assert {"ErrorBody", "AppealView", "NewMessage"} <= set(doc["components"]["schemas"])


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    assert openapi.main([str(stale), "--check"]) == 1
    assert openapi.main([str(stale)]) == 0
    assert openapi.main([str(stale), "--check"]) == 0
