"""Text <-> short_message octets for the data_coding values carriers use.

GSM 7-bit is carried *unpacked* in SMPP (one septet per octet, §5.2.19 of SMPP 3.4); the
SMSC packs it for the air interface. ``pack_septets``/``unpack_septets`` exist for the few
carriers that want it packed. Encoding is strict (raises ``TextEncodingError``) because
we choose what we send; decoding is lenient and never raises, because the peer's bytes are
whatever they are and an inbound "JA" must still be read.
"""

from __future__ import annotations

from enum import Enum

from smpp.constants import DataCoding

__all__ = [
    "Alphabet",
    "TextEncodingError",
    "alphabet_of",
    "choose_data_coding",
    "decode_text",
    "encode_text",
    "encoded_units",
    "gsm_decode",
    "gsm_encode",
    "gsm_septet_count",
    "is_gsm",
    "pack_septets",
    "unpack_septets",
]

ESC = 0x1B
"""Escape to the extension table (TS 23.038 §6.2.1.1)."""

# TS 23.038 §6.2.1: the GSM 7-bit default alphabet, indexed by septet. 0x1B is ESC, not a char.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# TS 23.038 §6.2.1.1: the extension table, reached by ESC + code.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_ENCODE: dict[int, str] = {ord(ch): chr(code) for code, ch in enumerate(_BASIC) if code != ESC}
_ENCODE.update({ord(ch): chr(ESC) + chr(code) for code, ch in _EXTENSION.items()})
_GSM_CHARS = frozenset(chr(c) for c in _ENCODE)

REPLACEMENT = "\ufffd"
"""What a byte above 0x7F decodes to in GSM 7-bit data: it cannot be a septet."""

# A lone ESC, or ESC ESC (reserved for a second extension table), shows as a space
# (TS 23.038 §6.2.1.1, note on 0x1B).
_DECODE = tuple(" " if c == ESC else ch for c, ch in enumerate(_BASIC)) + (REPLACEMENT,) * 128
_DECODE_TABLE = dict(enumerate(_DECODE))


class TextEncodingError(ValueError):
    """Text has a character the chosen data_coding cannot carry."""

    def __init__(self, char: str, index: int, encoding: str) -> None:
        super().__init__(f"U+{ord(char):04X} {char!r} at index {index} has no {encoding} encoding")
        self.char = char
        self.index = index
        self.encoding = encoding


class Alphabet(Enum):
    """The three character sizes of TS 23.038 §4; they decide the units of a segment limit."""

    GSM7 = "gsm7"
    EIGHT_BIT = "8bit"
    UCS2 = "ucs2"


def is_gsm(text: str) -> bool:
    """True if every character is in the GSM default alphabet or its extension table."""
    return _GSM_CHARS.issuperset(text)


def gsm_septet_count(text: str) -> int | None:
    """Septets ``text`` takes in GSM 7-bit (extension characters count 2), or None."""
    return len(text.translate(_ENCODE)) if is_gsm(text) else None


def gsm_encode(text: str) -> bytes:
    """Encode to unpacked GSM 7-bit septets, one per octet.

    Raises:
        TextEncodingError: naming the first character outside the alphabet.
    """
    if not is_gsm(text):
        index, char = next((i, c) for i, c in enumerate(text) if c not in _GSM_CHARS)
        raise TextEncodingError(char, index, "GSM 03.38")
    return text.translate(_ENCODE).encode("latin-1")


def gsm_decode(data: bytes) -> str:
    """Decode unpacked GSM 7-bit; never raises.

    ESC + a code not in the extension table shows the basic table's character for that code
    (TS 23.038 §6.2.1.1); octets above 0x7F become U+FFFD.
    """
    if ESC not in data:
        return data.decode("latin-1").translate(_DECODE_TABLE)
    chars: list[str] = []
    octets = iter(data)
    for octet in octets:
        if octet != ESC:
            chars.append(_DECODE[octet])
            continue
        code = next(octets, ESC)
        chars.append(_EXTENSION.get(code) or _DECODE[code])
    return "".join(chars)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets LSB first, 8 in 7 octets (TS 23.038 §6.1.2.1.1).

    ``fill_bits`` zero bits come first, so that after a UDH the text starts on a septet
    boundary (TS 23.040 §9.2.3.24): 1 after the 6-octet concat UDH, 0 after the 7-octet one.
    """
    _check_fill_bits(fill_bits)
    value = 0
    for i, septet in enumerate(septets):
        if septet > 0x7F:
            raise ValueError(f"septets[{i}] is 0x{septet:02X}, above 0x7F")
        value |= septet << (fill_bits + 7 * i)
    return value.to_bytes((fill_bits + 7 * len(septets) + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Inverse of ``pack_septets``; ``count`` comes from TP-UDL, as trailing bits are ambiguous."""
    _check_fill_bits(fill_bits)
    if count < 0 or fill_bits + 7 * count > 8 * len(data):
        raise ValueError(
            f"{count} septets after {fill_bits} fill bits need more than {len(data)} octets"
        )
    value = int.from_bytes(data, "little") >> fill_bits
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))


def _check_fill_bits(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, got {fill_bits}")


def choose_data_coding(text: str) -> DataCoding:
    """GSM 7-bit when it fits, else UCS2. Latin-1 only when asked: many handsets garble it."""
    return DataCoding.SMSC_DEFAULT if is_gsm(text) else DataCoding.UCS2


# data_coding -> Python codec. UTF-16-BE rather than UCS-2 so emoji travel as surrogate pairs,
# which is what handsets send and expect.
_CODECS: dict[int, str] = {
    DataCoding.SMSC_DEFAULT: "gsm",
    DataCoding.IA5: "ascii",
    DataCoding.OCTET_UNSPECIFIED: "latin-1",
    DataCoding.LATIN1: "latin-1",
    DataCoding.OCTET_UNSPECIFIED_2: "latin-1",
    DataCoding.CYRILLIC: "iso8859_5",
    DataCoding.LATIN_HEBREW: "iso8859_8",
    DataCoding.UCS2: "utf-16-be",
}


def _codec(data_coding: int) -> str | None:
    """The codec for a data_coding, including the TS 23.038 §4 coding groups SMPP defers to."""
    if data_coding in _CODECS:
        return _CODECS[data_coding]
    if 0xC0 <= data_coding <= 0xDF:  # message waiting indication, GSM 7-bit
        return "gsm"
    if 0xE0 <= data_coding <= 0xEF:  # message waiting indication, UCS2
        return "utf-16-be"
    if data_coding >= 0xF0:  # data coding/message class: bit 2 picks 8-bit over GSM 7-bit
        return "latin-1" if data_coding & 0x04 else "gsm"
    return None


def alphabet_of(data_coding: int) -> Alphabet:
    """The unit a segment limit counts for this data_coding (unknown codings: octets)."""
    codec = _codec(data_coding)
    if codec == "gsm":
        return Alphabet.GSM7
    return Alphabet.UCS2 if codec == "utf-16-be" else Alphabet.EIGHT_BIT


def encode_text(text: str, data_coding: int) -> bytes:
    """Encode ``text`` as short_message octets for ``data_coding``.

    Raises:
        TextEncodingError: a character the coding cannot carry.
        ValueError: a data_coding we do not encode (JIS, pictogram, reserved values...).
    """
    codec = _codec(data_coding)
    if codec is None:
        raise ValueError(f"data_coding 0x{data_coding:02X} is not supported for sending")
    if codec == "gsm":
        return gsm_encode(text)
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise TextEncodingError(exc.object[exc.start], exc.start, codec) from None


def decode_text(data: bytes, data_coding: int) -> str:
    """Decode short_message octets; never raises.

    Undecodable input becomes U+FFFD (``errors="replace"``): for UCS2 a lone surrogate or an
    odd trailing octet. "surrogatepass" would keep lone surrogates, but such a str cannot be
    encoded to UTF-8 later (Redis, logs, CSV). Unknown codings fall back to Latin-1, which
    maps every octet and so loses nothing.
    """
    codec = _codec(data_coding) or "latin-1"
    if codec == "gsm":
        return gsm_decode(data)
    return data.decode(codec, errors="replace")


def encoded_units(text: str, data_coding: int) -> int:
    """Length of ``text`` in the units of its alphabet: septets, octets or UTF-16 code units."""
    octets = len(encode_text(text, data_coding))
    return octets // 2 if alphabet_of(data_coding) is Alphabet.UCS2 else octets
