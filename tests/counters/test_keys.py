"""Key layout: the keys each script touches share one Redis Cluster slot."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.crc import key_slot

from counters import Keys, Lane


def slots(*names: str) -> set[int]:
    return {key_slot(name.encode()) for name in names}


def test_appeal_keys_share_a_slot_and_differ_between_appeals() -> None:
    k = Keys("ja")
    assert k.appeal_signed(42) == "{ja:ua:42}:signed"
    one = slots(k.appeal_meta(42), k.appeal_signed(42), k.appeal_count(42), k.appeal_signatures(42))
    assert len(one) == 1
    assert k.appeal_count(42) != k.appeal_count(43)


def test_subscriber_queue_and_reach_keys_share_their_slots() -> None:
    k = Keys("ja")
    sub = (k.sub_ids, k.sub_seq, k.sub_numbers, k.sub_active, k.sub_consent, k.sub_route)
    assert len(slots(*sub, k.sub_lang, k.sub_last, k.sub_suppressed)) == 1
    queue = (k.lane(Lane.TRANSACTIONAL), k.lane(Lane.BULK), k.queue_delayed, k.appeal_sent(7))
    assert len(slots(*queue)) == 1
    day = dt.date(2026, 1, 31)
    assert len(slots(k.reach_day(day), k.reach_month(day), k.reach_all)) == 1
    assert k.reach_month(day) == "{ja:reach}:month:2026-01"


@pytest.mark.parametrize("bad", ["", "a:b", "{x}", "a b"])
def test_namespace_is_checked(bad: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        Keys(bad)
