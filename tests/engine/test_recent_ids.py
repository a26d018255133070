"""The in-memory map from carrier message id to what was sent: bounded, newest kept."""

from counters import SentRecord
from engine.inbox import RecentIds


def record(n: int) -> SentRecord:
    return SentRecord(ref=f"r{n}", to=f"+3160000{n:04d}", lane="bulk", bind="b")


def test_keeps_between_one_and_two_generations() -> None:
    ids = RecentIds(100)
    for n in range(1000):
        ids.put(f"m{n}", record(n))
        assert len(ids) <= 200
    assert len(ids) == 100 + 100
    assert ids.get("m999") == record(999)
    assert ids.get("m800") == record(800)  # the old generation still answers
    assert ids.get("m799") is None  # older generations are gone
    assert ids.get("nope") is None


def test_newest_record_wins() -> None:
    ids = RecentIds(10)
    ids.put("m1", record(1))
    for n in range(10):
        ids.put(f"x{n}", record(n))
    ids.put("m1", record(2))  # the same id again, now in the young generation
    assert ids.get("m1") == record(2)
