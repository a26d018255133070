"""smpp.segment: limits, splitting, UDH parsing and reassembly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpp.constants import DataCoding
from smpp.segment import (
    ConcatInfo,
    Expired,
    Part,
    Reassembler,
    UdhError,
    build_concat_udh,
    capacity,
    count_segments,
    parse_udh,
    split_message,
)
from smpp.text import decode_text, gsm_decode

GSM = DataCoding.SMSC_DEFAULT
OCTET = DataCoding.OCTET_UNSPECIFIED
UCS2 = DataCoding.UCS2


@pytest.mark.parametrize(
    ("coding", "udh_len", "units"),
    [
        (GSM, 0, 160),
        (GSM, 6, 153),
        (GSM, 7, 152),
        (OCTET, 0, 140),
        (OCTET, 6, 134),
        (OCTET, 7, 133),
        (UCS2, 0, 70),
        (UCS2, 6, 67),
        (UCS2, 7, 66),
    ],
)
def test_capacity(coding: DataCoding, udh_len: int, units: int) -> None:
    assert capacity(coding, udh_len) == units


@pytest.mark.parametrize(
    ("text", "ref_bits", "parts"),
    [
        ("", 8, 1),
        ("a" * 160, 8, 1),
        ("a" * 161, 8, 2),
        ("a" * 153 * 2, 8, 2),
        ("a" * (153 * 2 + 1), 8, 3),
        ("a" * 152 * 2, 16, 2),
        ("a" * (152 * 2 + 1), 16, 3),
        ("€" * 80, 8, 1),  # 160 septets
        ("a" + "€" * 80, 8, 2),  # 161 septets
        ("€" * 76 * 2, 8, 2),  # 152 septets a part: a 153rd would split an escape
        ("€" * (76 * 2 + 1), 8, 3),
        ("Ж" * 70, 8, 1),
        ("Ж" * 71, 8, 2),
        ("Ж" * 67 * 2, 8, 2),
        ("Ж" * (67 * 2 + 1), 8, 3),
        ("Ж" * 66 * 2, 16, 2),
        ("Ж" * (66 * 2 + 1), 16, 3),
        ("😀" * 35, 8, 1),  # 70 UTF-16 units
        ("😀" * 36, 8, 2),
        ("😀" * 33 * 2, 8, 2),  # 66 units a part: a 67th would split a pair
        ("😀" * (33 * 2 + 1), 8, 3),
    ],
)
def test_count_segments_at_boundaries(text: str, ref_bits: int, parts: int) -> None:
    assert count_segments(text, ref_bits=ref_bits) == parts
    assert len(split_message(text, reference=1, ref_bits=ref_bits)) == parts


def test_count_segments_with_explicit_coding() -> None:
    assert count_segments("a" * 140, OCTET) == 1
    assert count_segments("a" * 141, OCTET) == 2
    assert count_segments("a" * 71, UCS2) == 2


def test_single_part_has_no_udh() -> None:
    [part] = split_message("Ja", reference=7)
    assert part == Part(
        short_message=b"Ja",
        esm_class_udhi=False,
        data_coding=0,
        part_number=1,
        total_parts=1,
        reference=7,
    )


def test_udh_golden_8_bit() -> None:
    parts = split_message("a" * 200, reference=0x42)
    assert [p.short_message[:6] for p in parts] == [
        bytes.fromhex("050003420201"),
        bytes.fromhex("050003420202"),
    ]
    assert [len(p.short_message) for p in parts] == [6 + 153, 6 + 47]
    assert all(p.esm_class_udhi and p.total_parts == 2 for p in parts)
    assert [p.part_number for p in parts] == [1, 2]


def test_udh_golden_16_bit() -> None:
    parts = split_message("Ж" * 100, reference=0x1234, ref_bits=16)
    assert [p.short_message[:7] for p in parts] == [
        bytes.fromhex("06080412340201"),
        bytes.fromhex("06080412340202"),
    ]
    assert parts[0].short_message[7:] == "Ж".encode("utf-16-be") * 66
    assert parts[0].data_coding == UCS2


def test_escape_at_cut_moves_to_next_part() -> None:
    parts = split_message("a" * 152 + "€" + "b" * 10, reference=1)
    assert parts[0].short_message[6:] == b"a" * 152
    assert parts[1].short_message[6:] == b"\x1b\x65" + b"b" * 10


def test_surrogate_pair_at_cut_moves_to_next_part() -> None:
    parts = split_message("Ж" * 66 + "😀" + "Ж" * 10, reference=1)
    assert decode_text(parts[0].short_message[6:], UCS2) == "Ж" * 66
    assert decode_text(parts[1].short_message[6:], UCS2) == "😀" + "Ж" * 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference": 256}, "does not fit in 8 bits"),
        ({"reference": -1}, "does not fit"),
        ({"reference": 65536, "ref_bits": 16}, "does not fit in 16 bits"),
        ({"reference": 1, "ref_bits": 12}, "ref_bits must be 8 or 16"),
        ({"reference": 1, "max_parts": 2}, "needs 3 parts, max_parts is 2"),
        ({"reference": 1, "max_parts": 256}, "max_parts must be"),
    ],
)
def test_split_rejects(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_message("a" * 400, **kwargs)


def test_split_more_than_255_parts() -> None:
    with pytest.raises(ValueError, match="needs 256 parts"):
        split_message("a" * 153 * 256, reference=1)


many_escapes = st.text(alphabet=st.sampled_from("{€a}[ \\"), max_size=1200)


@given(many_escapes, st.sampled_from([8, 16]))
def test_gsm_escapes_never_split(text: str, ref_bits: int) -> None:
    parts = split_message(text, reference=9, ref_bits=ref_bits)
    limit = 160 if len(parts) == 1 else capacity(GSM, 6 if ref_bits == 8 else 7)
    decoded = []
    for part in parts:
        info, payload = parse_udh(part.short_message) if part.esm_class_udhi else (None, b"")
        if info is None:
            payload = part.short_message
        else:
            assert (info.reference, info.total, info.seqnum) == (9, len(parts), part.part_number)
        assert len(payload) <= limit
        decoded.append(gsm_decode(payload))
    assert "".join(decoded) == text
    assert count_segments(text, ref_bits=ref_bits) == len(parts)


@given(st.text(alphabet=st.sampled_from("aЖ😀🇺🇦"), max_size=500))
def test_ucs2_surrogates_never_split(text: str) -> None:
    parts = split_message(text, reference=3, data_coding=UCS2)
    decoded = []
    for part in parts:
        payload = parse_udh(part.short_message)[1] if part.esm_class_udhi else part.short_message
        assert len(payload) <= (140 if len(parts) == 1 else 134)
        piece = decode_text(payload, UCS2)
        assert "\ufffd" not in piece
        decoded.append(piece)
    assert "".join(decoded) == text


def test_parse_udh_walks_other_ies() -> None:
    # Port addressing IE (0x05, 4 octets) first, then an 8-bit concat IE.
    message = bytes.fromhex("0b 05 04 0b84 23f0 00 03 aa 03 02") + b"hi"
    info, payload = parse_udh(message)
    assert info == ConcatInfo(reference=0xAA, total=3, seqnum=2, ref_bits=8)
    assert payload == b"hi"


def test_parse_udh_16_bit_and_last_ie_wins() -> None:
    message = bytes.fromhex("0b 00 03 01 02 01 08 04 beef 05 04") + b"x"
    assert parse_udh(message) == (
        ConcatInfo(reference=0xBEEF, total=5, seqnum=4, ref_bits=16),
        b"x",
    )


def test_parse_udh_without_concat() -> None:
    assert parse_udh(bytes.fromhex("00") + b"x") == (None, b"x")
    assert parse_udh(bytes.fromhex("04 05 02 0b84") + b"y") == (None, b"y")


@pytest.mark.parametrize("total_seq", ["0001", "0200", "0203"])
def test_parse_udh_ignores_impossible_concat_numbers(total_seq: str) -> None:
    # total 0, seqnum 0 or seqnum > total: TS 23.040 §9.2.3.24.1 says ignore the IE.
    message = bytes.fromhex("05 00 03 07" + total_seq) + b"z"
    assert parse_udh(message) == (None, b"z")


@pytest.mark.parametrize(
    ("hex_message", "match"),
    [
        ("", "empty"),
        ("05 00 03 01", "UDHL 5 exceeds the 3 octets"),
        ("01 00", "IE header at offset 1"),
        ("03 00 05 01", "ends at offset 8"),
        ("04 00 02 01 01", "expected 3, got 2"),
        ("05 08 03 01 01 01", "expected 4, got 3"),
    ],
)
def test_parse_udh_malformed(hex_message: str, match: str) -> None:
    with pytest.raises(UdhError, match=match):
        parse_udh(bytes.fromhex(hex_message))


@given(st.binary(max_size=40))
def test_parse_udh_returns_or_raises_udh_error(data: bytes) -> None:
    try:
        info, payload = parse_udh(data)
    except UdhError:
        return
    assert data.endswith(payload)
    assert info is None or 1 <= info.seqnum <= info.total


def test_build_concat_udh() -> None:
    assert build_concat_udh(0xFF, 3, 1) == bytes.fromhex("0500 03ff 0301")
    assert build_concat_udh(0x0102, 2, 2, ref_bits=16) == bytes.fromhex("0608 0401 0202 02")


def info(seqnum: int, total: int = 3, reference: int = 1) -> ConcatInfo:
    return ConcatInfo(reference=reference, total=total, seqnum=seqnum)


def test_reassemble_out_of_order() -> None:
    r = Reassembler()
    assert r.add("k", info(3), b"C", now=0.0) is None
    assert r.add("k", info(1), b"A", now=1.0) is None
    assert (len(r), r.held_bytes) == (1, 2)
    assert r.add("k", info(2), b"B", now=2.0) == b"ABC"
    assert (len(r), r.held_bytes, r.evictions) == (0, 0, 0)


def test_reassemble_round_trip_from_split() -> None:
    text = "Ja 🙂 " * 40
    parts = split_message(text, reference=200)
    r = Reassembler()
    results = []
    for part in reversed(parts):
        concat, payload = parse_udh(part.short_message)
        assert concat is not None
        results.append(r.add(("src", "dst"), concat, payload, now=0.0))
    joined = results[-1]
    assert joined is not None
    assert decode_text(joined, parts[0].data_coding) == text


def test_duplicate_part_is_ignored() -> None:
    r = Reassembler()
    assert r.add("k", info(1, total=2), b"A", now=0.0) is None
    assert r.add("k", info(1, total=2), b"X", now=0.0) is None
    assert r.held_bytes == 1
    assert r.add("k", info(2, total=2), b"B", now=0.0) == b"AB"


def test_single_part_passes_through() -> None:
    r = Reassembler()
    assert r.add("k", info(1, total=1), b"A", now=0.0) == b"A"
    assert len(r) == 0


def test_keys_and_references_are_separate() -> None:
    r = Reassembler()
    assert r.add("k", info(1, total=2, reference=1), b"A", now=0.0) is None
    assert r.add("k", info(1, total=2, reference=2), b"X", now=0.0) is None
    assert r.add("other", info(2, total=2, reference=1), b"Y", now=0.0) is None
    assert len(r) == 3
    assert r.add("k", info(2, total=2, reference=1), b"B", now=0.0) == b"AB"


@pytest.mark.parametrize(
    ("bad", "match"),
    [(info(0), "part 0 of 3"), (info(4), "part 4 of 3"), (info(1, total=0), "part 1 of 0")],
)
def test_impossible_numbers_raise(bad: ConcatInfo, match: str) -> None:
    with pytest.raises(UdhError, match=match):
        Reassembler().add("k", bad, b"", now=0.0)


def test_inconsistent_total_raises_and_keeps_held_parts() -> None:
    r = Reassembler()
    r.add("k", info(1, total=3), b"A", now=0.0)
    with pytest.raises(UdhError, match="total 2, held 3"):
        r.add("k", info(2, total=2), b"B", now=0.0)
    assert r.held_bytes == 1
    assert r.discard("k", 1)
    assert not r.discard("k", 1)
    assert r.held_bytes == 0


def test_oldest_is_evicted_at_max_pending() -> None:
    r = Reassembler(max_pending=2)
    r.add("a", info(1), b"A", now=0.0)
    r.add("b", info(1), b"B", now=1.0)
    r.add("c", info(1), b"C", now=2.0)
    assert (len(r), r.evictions, r.held_bytes) == (2, 1, 2)
    r.add("a", info(2), b"A", now=3.0)  # "a" starts over, evicting "b"
    assert r.evictions == 2
    assert r.add("c", info(2), b"C", now=3.0) is None
    assert r.add("c", info(3), b"C", now=3.0) == b"CCC"


def test_max_bytes_evicts_oldest() -> None:
    r = Reassembler(max_bytes=10)
    r.add("a", info(1), b"x" * 6, now=0.0)
    r.add("b", info(1), b"y" * 3, now=1.0)
    assert r.evictions == 0
    r.add("b", info(2), b"y" * 3, now=2.0)
    assert (len(r), r.evictions, r.held_bytes) == (1, 1, 6)
    assert r.add("b", info(3), b"y" * 20, now=3.0) == b"y" * 26  # completing may pass the cap
    assert r.held_bytes == 0


def test_part_alone_over_max_bytes_is_dropped() -> None:
    r = Reassembler(max_bytes=4)
    assert r.add("a", info(1), b"x" * 5, now=0.0) is None
    assert (len(r), r.evictions, r.held_bytes) == (0, 1, 0)


def test_expire() -> None:
    r = Reassembler(timeout=60.0)
    r.add("a", info(1), b"A", now=0.0)
    r.add("a", info(2), b"A", now=50.0)
    r.add("b", info(1), b"B", now=30.0)
    assert r.expire(59.9) == []
    assert r.expire(60.0) == [Expired(key="a", reference=1, total=3, received=2, first_seen=0.0)]
    assert (len(r), r.held_bytes) == (1, 1)
    assert [e.key for e in r.expire(1000.0)] == ["b"]
    assert r.held_bytes == 0


def test_sar_uses_the_same_reassembler() -> None:
    r = Reassembler()
    first = ConcatInfo.from_sar(sar_msg_ref_num=0x1234, sar_total_segments=2, sar_segment_seqnum=1)
    assert first == ConcatInfo(reference=0x1234, total=2, seqnum=1, ref_bits=16)
    assert r.add("k", first, b"A", now=0.0) is None
    assert r.add("k", ConcatInfo.from_sar(0x1234, 2, 2), b"B", now=0.0) == b"AB"


def test_reassembler_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Reassembler(max_pending=0)
