"""Checks on appeal texts and reply templates, run before anything is stored or sent.

Theory of operation. What an SMS costs depends on its encoding: one character outside GSM
03.38 (a curly quote, "ê", an emoji) switches the whole message to UCS2 and cuts a segment
from 160 characters to 70, so a text that looked short goes out as three billed parts to
every subscriber. ``check_text`` measures a text with the same functions the sender uses
(``smpp.text`` picks the coding, ``smpp.segment`` counts the parts), and refuses one that
needs more segments than allowed unless forced, naming the characters that force UCS2 so the
operator can replace them.

Templates are Python ``str.format`` strings restricted to plain names ("{count}"); literal
braces are doubled ("{{", "}}"). ``check_template`` refuses anything else (positional
fields, attribute or index access, conversions, format specs) and names outside the allowed
set, so rendering can only substitute values the engine supplies; ``format_count`` writes
numbers the way each language groups thousands, using only GSM characters.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from functools import lru_cache

import msgspec

from smpp.constants import DataCoding
from smpp.segment import capacity, count_segments
from smpp.text import TextEncodingError, choose_data_coding, encoded_units, is_gsm

__all__ = [
    "TextCheck",
    "TextError",
    "check_template",
    "check_text",
    "format_count",
    "render",
]

_ENCODING_NAMES: dict[int, str] = {
    DataCoding.SMSC_DEFAULT: "GSM 03.38",
    DataCoding.LATIN1: "Latin-1",
    DataCoding.UCS2: "UCS2",
}
_MAX_LISTED = 10  # characters forcing UCS2 listed in a TextCheck
_MAX_IN_MESSAGE = 3  # ...and named in an error message
_CONCAT_UDH_OCTETS = 6  # the 8-bit reference concatenation UDH that count_segments assumes
_THOUSANDS: dict[str, str] = {"nl": ".", "de": ".", "fr": " ", "en": ","}
_FORMATTER = string.Formatter()


class TextError(ValueError):
    """A text or template cannot be used; the message says what is wrong and how to fix it."""


class TextCheck(msgspec.Struct, frozen=True, kw_only=True):
    """How a text goes out: its encoding, length in encoded units and segment count."""

    text: str
    encoding: str
    data_coding: int
    segments: int
    length: int
    """Septets (escaped characters count 2) for GSM, UTF-16 code units for UCS2."""
    per_segment: int
    """What one unsegmented message holds in this encoding: 160, 70..."""
    forcing_ucs2: list[tuple[int, str]]
    """(index, character) of the first characters outside GSM 03.38."""


def check_text(text: str, *, max_segments: int = 1, force: bool = False) -> TextCheck:
    """Measure ``text``; raise TextError if it is blank or needs too many segments.

    ``force`` accepts a text longer than ``max_segments`` (the caller then pays for more
    parts); a blank or unencodable text is refused regardless.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, got {max_segments}")
    if not text.strip():
        raise TextError("text is empty; write the message to send")
    coding = int(choose_data_coding(text))
    try:
        length = encoded_units(text, coding)
    except TextEncodingError as exc:
        raise TextError(
            f"text has U+{ord(exc.char):04X} at {exc.index}, which no SMS can carry; "
            "remove it (it is half of a broken emoji or symbol)"
        ) from None
    check = TextCheck(
        text=text,
        encoding=_ENCODING_NAMES.get(coding, f"data_coding 0x{coding:02X}"),
        data_coding=coding,
        segments=count_segments(text, coding),
        length=length,
        per_segment=capacity(coding),
        forcing_ucs2=_non_gsm(text),
    )
    if check.segments > max_segments and not force:
        raise TextError(_too_long(check, max_segments))
    return check


def _non_gsm(text: str) -> list[tuple[int, str]]:
    """The first characters that keep ``text`` out of GSM 03.38, with their indexes."""
    found: list[tuple[int, str]] = []
    for index, char in enumerate(text):
        if not is_gsm(char):
            found.append((index, char))
            if len(found) == _MAX_LISTED:
                break
    return found


def _too_long(check: TextCheck, max_segments: int) -> str:
    """Say how many segments the text needs, why, and how to bring it down."""
    allowed = "1 segment" if max_segments == 1 else f"{max_segments} segments"
    head = f"text needs {check.segments} SMS segments, {allowed} allowed"
    limit = _limit_for(check.data_coding, max_segments)
    if not check.forcing_ucs2:
        return (
            f"{head} ({check.length} {check.encoding} septets; € [ ] {{ }} ^ ~ | \\ count 2); "
            f"shorten it to {limit} septets or pass force=True"
        )
    chars = ", ".join(
        f"{char!r} at {index}" for index, char in check.forcing_ucs2[:_MAX_IN_MESSAGE]
    )
    more = "..." if len(check.forcing_ucs2) > _MAX_IN_MESSAGE else ""
    gsm_limit = _limit_for(DataCoding.SMSC_DEFAULT, max_segments)
    return (
        f"{head} ({check.encoding} because of {chars}{more}; {check.length} UTF-16 units, "
        f"emoji count 2); replace those characters (GSM 03.38 fits {gsm_limit}), "
        f"shorten it to {limit} characters or pass force=True"
    )


def _limit_for(coding: int, max_segments: int) -> int:
    """Units of ``coding`` that fit in ``max_segments`` parts."""
    if max_segments == 1:
        return capacity(coding)
    return capacity(coding, _CONCAT_UDH_OCTETS) * max_segments


def check_template(template: str, allowed: Iterable[str]) -> list[str]:
    """The placeholder names ``template`` uses, in first-use order; TextError if not allowed.

    Only plain names are accepted: "{0}", "{}", "{count.x}", "{count[0]}", "{count!r}" and
    "{count:>5}" could read attributes or reformat values the caller did not intend.
    """
    names = frozenset(allowed)
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise TextError(
            f"template has a stray brace ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    used: list[str] = []
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        _check_field(field, spec, conversion, names)
        if field not in used:
            used.append(field)
    return used


def _check_field(
    field: str, spec: str | None, conversion: str | None, names: frozenset[str]
) -> None:
    """Refuse a placeholder that is not a plain, allowed name."""
    shown = (
        "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    )
    listing = ", ".join("{" + name + "}" for name in sorted(names)) or "none"
    if not field.isidentifier():
        raise TextError(
            f"placeholder {shown} is not a plain name; use one of {listing} "
            "(positions, attributes and indexes are not allowed)"
        )
    if spec or conversion:
        raise TextError(
            f"placeholder {shown} has a format; write just {{{field}}} (numbers come formatted)"
        )
    if field not in names:
        raise TextError(f"unknown placeholder {{{field}}}; this text can use {listing}")


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill in ``template``, checked first against the names ``values`` provides (the check
    is remembered: a TV burst renders one thank-you template thousands of times a second)."""
    _checked(template, frozenset(values))
    return template.format_map(values)


@lru_cache(maxsize=1024)
def _checked(template: str, names: frozenset[str]) -> None:
    check_template(template, names)


def format_count(n: int, language: str) -> str:
    """``n`` with the language's thousands separator: 4.211 (nl, de), 4 211 (fr), 4,211.

    French uses a plain space: the narrow no-break space it prefers is not in GSM 03.38.
    Region tags are ignored ("nl-BE" is "nl").
    """
    base = language.lower().replace("_", "-").split("-")[0]
    return f"{n:,}".replace(",", _THOUSANDS.get(base, ","))
