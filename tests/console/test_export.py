"""The export for the authorities: summary, streamed CSV, masking, audit, no formulas."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest
import trio

from counters import ConsentKind, Store
from engine.campaigns import AppealSpec, Campaigns
from engine.campaigns.export import neutralise, write_csv
from engine.campaigns.settings import CampaignConfig
from tests.console.test_subscribers_cli import SECRET, config


async def signed_appeal(store: Store) -> int:
    campaigns = Campaigns(store, CampaignConfig())
    view = await campaigns.create(AppealSpec(title="Export", text="Antwoord JA"))
    numbers = ["+31611111111", "+31622222222", "+31633333333"]
    ids = await store.subscribers.ids(numbers)
    replies = ["JA", '=HYPERLINK("http://x")', "ja!"]
    await store.appeals.sign_many(
        [(view.id, i, text, f"m{i}") for i, text in zip(ids, replies, strict=True)]
    )
    return view.id


def test_formulas_are_neutralised() -> None:
    assert [neutralise(c) for c in ("=1+1", "+316", "-2", "@x", "JA")] == [
        "'=1+1", "'+316", "'-2", "'@x", "JA"
    ]  # fmt: skip


async def test_csv_rows_equal_the_signatures_masked_and_audited(store: Store) -> None:
    appeal = await signed_appeal(store)
    out = io.StringIO()
    assert await write_csv(store, appeal, out) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["signed_at_utc", "number", "reply"]
    assert [r[1:] for r in rows[1:]] == [
        ["'+3161111****", "JA"],
        ["'+3162222****", '\'=HYPERLINK("http://x")'],
        ["'+3163333****", "ja!"],
    ]
    assert not [e for e in await store.subscribers.log() if e.kind is ConsentKind.EXPORT]
    out = io.StringIO()
    await write_csv(store, appeal, out, unmasked=True, who="anna")
    assert "'+31611111111" in out.getvalue()
    audit = [e for e in await store.subscribers.log() if e.kind is ConsentKind.EXPORT]
    assert [(e.source, e.text) for e in audit] == [("operator:anna", f"appeal {appeal} unmasked")]


@pytest.mark.slow
async def test_export_command(store: Store, redis_url: str, tmp_path: Path) -> None:
    appeal = await signed_appeal(store)
    path = config(tmp_path, redis_url, store)
    target = tmp_path / "signatures.csv"
    command = [sys.executable, "-m", "engine", "appeal", "export", "-c", str(path),
               str(appeal), "--csv", str(target), "--json"]  # fmt: skip
    env = {**os.environ, "JA_FORGET_SECRET": SECRET}
    with trio.fail_after(60):
        done = await trio.run_process(command, capture_stdout=True, env=env)
    summary = json.loads(done.stdout)
    assert (summary["signatures"], sum(summary["per_hour"].values())) == (3, 3)
    assert summary["first_signature"] <= summary["last_signature"]
    assert len(target.read_text().splitlines()) == 1 + 3
