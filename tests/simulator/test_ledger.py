"""The ledger: compact records, queries by number, JSON lines export, the opt-out check."""

from __future__ import annotations

import json
from pathlib import Path

from smpp.constants import MessageState
from smpp.simulator import Kind, Ledger
from smpp.simulator.ledger import UDHI_FLAG


def test_records_queries_and_export(tmp_path: Path) -> None:
    ledger = Ledger(clock_offset=1000.0)
    mt = ledger.record_mt(1.0, 31600000001, MessageState.DELIVERED, 26, b"Teken nu", 0)
    mo = ledger.record(5.0, 31600000001, Kind.JA, 0, 26, "Ja!")
    ledger.attempted(mo)
    ledger.attempted(mo)
    ledger.acked(mo, 6.5)
    ledger.record(7.0, ledger.number_id("ALPHA"), Kind.MT, MessageState.UNDELIVERABLE, 27, "x")
    assert len(ledger) == 3
    received = ledger.received("31600000001")
    assert [(r.t, r.text, r.message_id, r.state) for r in received] == [
        (1.0, "Teken nu", "1a", "DELIVERED")
    ]
    (sent,) = ledger.sent(31600000001)
    assert (sent.kind, sent.direction, sent.attempts, sent.acked_at) == ("ja", "mo", 2, 6.5)
    assert ledger.for_number("ALPHA")[0].number == "ALPHA"
    assert mt == 0
    # A record appended after the first query is still found (the index extends).
    ledger.record(9.0, 31600000001, Kind.DUPLICATE, 0, 26, "Ja!")
    assert len(ledger.sent("31600000001")) == 2
    path = tmp_path / "ledger.jsonl"
    assert ledger.export_jsonl(path) == 4
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[1]["t"] == 1005.0
    assert lines[1]["acked_at"] == 1006.5
    assert lines[0]["text"] == "Teken nu"
    assert ledger.summary()["ja"] == 1


def test_texts_are_interned_and_decoded_on_read() -> None:
    ledger = Ledger()
    for i in range(1000):
        ledger.record_mt(float(i), 31600000000 + i, 2, i + 1, b"same appeal text", 0)
    assert len(ledger._texts) == 1
    ucs2 = "Zażółć".encode("utf-16-be")
    ledger.record_mt(0.0, 1, 2, 1, ucs2, 0x08)
    udh = bytes((5, 0, 3, 7, 2, 1)) + b"part one"
    ledger.record_mt(0.0, 2, 2, 2, udh, UDHI_FLAG)
    assert ledger.received(1)[0].text == "Zażółć"
    assert ledger.received(2)[0].text == "part one"


def test_full_ledger_drops_and_counts() -> None:
    ledger = Ledger(max_records=2)
    assert [ledger.record(0.0, 1, Kind.JA, 0, 0, "JA") for _ in range(4)] == [0, 1, -1, -1]
    assert ledger.dropped == 2
    ledger.acked(-1, 1.0)  # a dropped record is ignored, not an error
    assert ledger.summary()["dropped"] == 2


def test_received_after_opt_out() -> None:
    ledger = Ledger()
    ledger.record_mt(1.0, 5, 2, 1, b"appeal", 0)
    stop = ledger.record(2.0, 5, Kind.STOP, 0, 1, "STOP")
    ledger.record_mt(3.0, 5, 2, 2, b"sent before the STOP reached the ESME", 0)
    ledger.acked(stop, 4.0)
    ledger.record_mt(5.0, 5, 2, 3, b"too late", 0)
    ledger.record_mt(5.0, 6, 2, 4, b"another number", 0)
    assert [r.text for r in ledger.received_after_opt_out()] == ["too late"]


def test_mt_counts_give_missed_and_duplicated_numbers() -> None:
    ledger = Ledger()
    for number in (7, 8, 8, 9, 8):
        ledger.record_mt(0.0, number, 2, 1, b"appeal", 0)
    ledger.record(1.0, 7, Kind.JA, 0, 1, "JA")  # MO records are not counted
    counts = ledger.mt_counts()
    assert counts == {7: 1, 8: 3, 9: 1}
    assert counts[10] == 0
