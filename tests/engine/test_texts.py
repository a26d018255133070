"""Appeal text and template checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.campaigns.texts import (
    TextCheck,
    TextError,
    check_template,
    check_text,
    format_count,
    render,
)
from smpp.constants import DataCoding
from smpp.segment import count_segments


def test_gsm_160_characters_fit_one_segment() -> None:
    check = check_text("a" * 160)
    assert check == TextCheck(
        text="a" * 160,
        encoding="GSM 03.38",
        data_coding=DataCoding.SMSC_DEFAULT,
        segments=1,
        length=160,
        per_segment=160,
        forcing_ucs2=[],
    )


def test_gsm_161_characters_need_two_segments_and_are_refused() -> None:
    with pytest.raises(TextError, match=r"needs 2 SMS segments.*161 GSM 03\.38 septets.*160"):
        check_text("a" * 161)


def test_force_accepts_a_long_text() -> None:
    check = check_text("a" * 161, force=True)
    assert (check.segments, check.length) == (2, 161)


def test_max_segments_allows_concatenated_text() -> None:
    assert check_text("a" * 306, max_segments=2).segments == 2
    with pytest.raises(TextError, match=r"needs 3 SMS segments, 2 segments allowed.*306"):
        check_text("a" * 307, max_segments=2)


def test_euro_sign_counts_two_septets() -> None:
    check = check_text("€" * 80)
    assert (check.encoding, check.length, check.segments) == ("GSM 03.38", 160, 1)
    with pytest.raises(TextError, match=r"162 GSM 03\.38 septets"):
        check_text("€" * 81)


def test_e_acute_is_gsm_but_e_circumflex_forces_ucs2() -> None:
    assert check_text("Café").encoding == "GSM 03.38"
    check = check_text("Fête à Genève, ça va")
    assert check.encoding == "UCS2"
    assert check.data_coding == DataCoding.UCS2
    assert check.per_segment == 70
    assert check.forcing_ucs2 == [(1, "ê"), (15, "ç")]


def test_ucs2_70_fits_71_does_not() -> None:
    assert check_text("ê" * 70).segments == 1
    with pytest.raises(TextError) as caught:
        check_text("ê" + "a" * 70)
    message = str(caught.value)
    assert "UCS2 because of 'ê' at 0" in message
    assert "shorten it to 70 characters or pass force=True" in message
    assert "GSM 03.38 fits 160" in message


def test_emoji_counts_two_units() -> None:
    check = check_text("👍" * 35)
    assert (check.length, check.segments) == (70, 1)
    assert check_text("👍" * 36, force=True).length == 72


def test_only_the_first_ten_non_gsm_characters_are_listed() -> None:
    check = check_text("ê" * 20)
    assert check.forcing_ucs2 == [(i, "ê") for i in range(10)]


def test_error_names_at_most_three_characters() -> None:
    quotes = "\u201ca\u2019b\u201dc\u2013"  # curly quotes and an en dash, as word processors write
    with pytest.raises(TextError, match=r"'\u201c' at 0, '\u2019' at 2, '\u201d' at 4\.\.\."):
        check_text(quotes + "x" * 70)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_blank_text_is_refused(text: str) -> None:
    with pytest.raises(TextError, match="empty"):
        check_text(text, force=True)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(TextError, match=r"U\+D83D at 2"):
        check_text("ab\ud83d")


def test_bad_max_segments() -> None:
    with pytest.raises(ValueError, match="max_segments"):
        check_text("hi", max_segments=0)


@given(st.text(min_size=1))
def test_check_agrees_with_the_sender(text: str) -> None:
    try:
        check = check_text(text, force=True)
    except TextError:
        return
    assert check.segments == count_segments(text)
    assert check.segments >= 1
    assert (check.encoding == "GSM 03.38") == (check.forcing_ucs2 == [])


ALLOWED = {"count", "others", "organisation"}


def test_template_names_in_first_use_order() -> None:
    template = "{others} others and {count}; {organisation} thanks {others}"
    assert check_template(template, ALLOWED) == ["others", "count", "organisation"]


def test_literal_braces_are_fine() -> None:
    assert check_template("{{literal}} {count}", ALLOWED) == ["count"]
    assert render("{{literal}} {count}", {"count": 3}) == "{literal} 3"


def test_unknown_placeholder_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(
        TextError, match=r"unknown placeholder \{title\}.*\{count\}, \{organisation\}, \{others\}"
    ):
        check_template("Sign {title}", ALLOWED)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{0}", r"\{0\} is not a plain name"),
        ("{}", r"\{\} is not a plain name"),
        ("{count.x}", r"\{count\.x\} is not a plain name"),
        ("{count[0]}", r"\{count\[0\]\} is not a plain name"),
        ("{count:>5}", r"\{count:>5\} has a format"),
        ("{count!r}", r"\{count!r\} has a format"),
        ("{count", "stray brace"),
        ("count}", "stray brace"),
        ("{ count }", "not a plain name"),
    ],
)
def test_refused_templates(template: str, message: str) -> None:
    with pytest.raises(TextError, match=message):
        check_template(template, ALLOWED)


def test_render_fills_in_values() -> None:
    text = render(
        "Jij en {others} anderen. {organisation}", {"others": "4.211", "organisation": "AI"}
    )
    assert text == "Jij en 4.211 anderen. AI"


def test_render_refuses_a_missing_value() -> None:
    with pytest.raises(TextError, match=r"unknown placeholder \{count\}"):
        render("{count}", {"others": 1})


@pytest.mark.parametrize(
    ("n", "language", "expected"),
    [
        (4211, "nl", "4.211"),
        (4211, "de", "4.211"),
        (4211, "fr", "4 211"),
        (4211, "en", "4,211"),
        (4211, "xx", "4,211"),
        (1234567, "nl", "1.234.567"),
        (999, "nl", "999"),
        (0, "fr", "0"),
        (-4211, "nl", "-4.211"),
        (4211, "nl-BE", "4.211"),
        (4211, "FR", "4 211"),
    ],
)
def test_format_count(n: int, language: str, expected: str) -> None:
    assert format_count(n, language) == expected
