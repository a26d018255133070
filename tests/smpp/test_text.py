"""smpp.text: GSM 03.38 tables, packing, and data_coding dispatch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpp.constants import DataCoding
from smpp.text import (
    Alphabet,
    TextEncodingError,
    alphabet_of,
    choose_data_coding,
    decode_text,
    encode_text,
    encoded_units,
    gsm_decode,
    gsm_encode,
    gsm_septet_count,
    is_gsm,
    pack_septets,
    unpack_septets,
)

# TS 23.038 §6.2.1, written out again independently of the module, row by row.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # Greek capitals, as in the spec
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
GSM_CHARS = [ch for ch in BASIC if ch != "\x1b"] + list(EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS))


def test_basic_table_round_trips_every_septet() -> None:
    for code, char in enumerate(BASIC):
        if code == 0x1B:
            continue
        assert gsm_encode(char) == bytes([code]), char
        assert gsm_decode(bytes([code])) == char
    assert len(BASIC) == 128


@pytest.mark.parametrize(("char", "code"), EXTENSION.items())
def test_extension_chars_are_escaped_and_count_two(char: str, code: int) -> None:
    assert gsm_encode(char) == bytes([0x1B, code])
    assert gsm_decode(bytes([0x1B, code])) == char
    assert gsm_septet_count(char) == 2
    assert gsm_septet_count("a" + char) == 3


def test_golden_encoding() -> None:
    assert gsm_encode("Ja! 5€ {ok}") == bytes.fromhex("4a61212035 1b65 20 1b28 6f6b 1b29")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x1b\x41", "A"),  # unknown escape: the basic table's character (§6.2.1.1)
        (b"\x1b\x00", "@"),
        (b"\x1b\x1b", " "),  # reserved second extension table: a space
        (b"ok\x1b", "ok "),  # lone trailing ESC
        (b"a\x80\xff", "a\ufffd\ufffd"),  # not septets
        (b"\x1b\xff", "\ufffd"),
        (b"", ""),
    ],
)
def test_decode_is_lenient(data: bytes, text: str) -> None:
    assert gsm_decode(data) == text


@pytest.mark.parametrize(
    ("text", "index", "char"), [("abc😀", 3, "😀"), ("`", 0, "`"), ("ok\x1b", 2, "\x1b")]
)
def test_encode_names_first_bad_char(text: str, index: int, char: str) -> None:
    with pytest.raises(TextEncodingError, match=rf"at index {index}") as info:
        gsm_encode(text)
    assert (info.value.char, info.value.index) == (char, index)
    assert gsm_septet_count(text) is None
    assert not is_gsm(text)


@given(gsm_text)
def test_gsm_round_trip(text: str) -> None:
    encoded = gsm_encode(text)
    assert gsm_decode(encoded) == text
    assert gsm_septet_count(text) == len(encoded)
    assert is_gsm(text)


@given(st.binary())
def test_gsm_decode_never_raises(data: bytes) -> None:
    assert len(gsm_decode(data)) <= len(data)


def test_pack_golden() -> None:
    # The classic TS 23.038 §6.1.2.1.1 example: "hellohello" in 9 octets.
    septets = gsm_encode("hellohello")
    packed = bytes.fromhex("e8329bfd4697d9ec37")
    assert pack_septets(septets) == packed
    assert unpack_septets(packed, 10) == septets


def test_pack_fill_bits_shift_the_text() -> None:
    # After the 6-octet concat UDH one fill bit aligns the text to a septet boundary.
    assert pack_septets(b"\x01", fill_bits=1) == b"\x02"
    assert pack_septets(b"\x7f\x7f", fill_bits=6) == b"\xc0\xff\x0f"
    assert unpack_septets(b"\xc0\xff\x0f", 2, fill_bits=6) == b"\x7f\x7f"


@given(st.binary().map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack_round_trip(septets: bytes, fill_bits: int) -> None:
    packed = pack_septets(septets, fill_bits)
    assert len(packed) == (fill_bits + 7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets), fill_bits) == septets


def test_pack_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="above 0x7F"):
        pack_septets(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        pack_septets(b"a", fill_bits=7)
    with pytest.raises(ValueError, match="need more than 1 octets"):
        unpack_septets(b"\x00", 2)


@pytest.mark.parametrize(
    ("text", "coding"),
    [
        ("Ja, ich unterschreibe", DataCoding.SMSC_DEFAULT),
        ("Café {€}", DataCoding.SMSC_DEFAULT),
        ("", DataCoding.SMSC_DEFAULT),
        ("Так", DataCoding.UCS2),
        ("ça", DataCoding.UCS2),  # only capital Ç is in the GSM table
        ("👍", DataCoding.UCS2),
    ],
)
def test_choose_data_coding(text: str, coding: DataCoding) -> None:
    assert choose_data_coding(text) is coding


@pytest.mark.parametrize(
    ("text", "coding", "octets"),
    [
        ("€", 0, b"\x1b\x65"),
        ("Hi", 1, b"Hi"),
        ("\xe9\xff", 3, b"\xe9\xff"),
        ("\x00\xff", 4, b"\x00\xff"),
        ("Ж", 8, b"\x04\x16"),
        ("😀", 8, b"\xd8\x3d\xde\x00"),  # U+1F600 as a surrogate pair: 4 octets
        ("ok", 0xF1, b"ok"),  # TS 23.038 §4 message class group, GSM 7-bit
        ("\xff", 0xF5, b"\xff"),  # ...and 8-bit data
        ("Я", 0xE0, b"\x04\x2f"),  # message waiting group, UCS2
    ],
)
def test_encode_decode_text(text: str, coding: int, octets: bytes) -> None:
    assert encode_text(text, coding) == octets
    assert decode_text(octets, coding) == text


def test_encode_text_errors() -> None:
    with pytest.raises(TextEncodingError, match="index 1 has no ascii"):
        encode_text("aé", DataCoding.IA5)
    with pytest.raises(TextEncodingError, match="latin-1"):
        encode_text("€", DataCoding.LATIN1)
    with pytest.raises(ValueError, match="0x05 is not supported"):
        encode_text("a", DataCoding.JIS)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x00a\x00", "a\ufffd"),  # odd trailing octet
        (b"\xd8\x3d\x00a", "\ufffda"),  # high surrogate with no low one
        (b"\xde\x00", "\ufffd"),  # lone low surrogate
    ],
)
def test_ucs2_decode_replaces_broken_input(data: bytes, text: str) -> None:
    assert decode_text(data, DataCoding.UCS2) == text


def test_decode_unknown_coding_is_latin1() -> None:
    assert decode_text(b"\x80\xff", 0x05) == "\x80\xff"
    assert decode_text(b"\x80", DataCoding.IA5) == "\ufffd"


@given(st.binary(max_size=300), st.integers(0, 255))
def test_decode_text_never_raises(data: bytes, coding: int) -> None:
    assert isinstance(decode_text(data, coding), str)


@pytest.mark.parametrize(
    ("coding", "alphabet"),
    [
        (0, Alphabet.GSM7),
        (0xC3, Alphabet.GSM7),
        (0xF2, Alphabet.GSM7),
        (3, Alphabet.EIGHT_BIT),
        (0xF4, Alphabet.EIGHT_BIT),
        (0x09, Alphabet.EIGHT_BIT),
        (8, Alphabet.UCS2),
        (0xE8, Alphabet.UCS2),
    ],
)
def test_alphabet_of(coding: int, alphabet: Alphabet) -> None:
    assert alphabet_of(coding) is alphabet


def test_encoded_units() -> None:
    assert encoded_units("a€", 0) == 3
    assert encoded_units("a€", 8) == 2
    assert encoded_units("a😀", 8) == 3
    assert encoded_units("aé", 3) == 2
