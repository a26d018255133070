"""Inbound SMS normalisation and keyword classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.campaigns.keywords import (
    COMMON_WORDS,
    DEFAULT_TABLES,
    POLITENESS,
    Classifier,
    Decision,
    Intent,
    KeywordTable,
    tokens,
)

CLASSIFIER = Classifier()

OPT_OUT = Intent.OPT_OUT
HELP = Intent.HELP
JOIN = Intent.JOIN
SIGN = Intent.SIGN
NEGATIVE = Intent.NEGATIVE
NEAR = Intent.NEAR_MISS
OTHER = Intent.OTHER

# (text, intent, rule, language)
CASES: list[tuple[str, Intent, str, str]] = [
    # signatures, Dutch
    ("JA", SIGN, "sign", "nl"),
    ("ja", SIGN, "sign", "nl"),
    ("Ja!", SIGN, "sign", "nl"),
    (" JA.", SIGN, "sign", "nl"),
    ("jaaa", SIGN, "sign", "nl"),
    ("JAAAA!!!", SIGN, "sign", "nl"),
    ("Ja 👍", SIGN, "sign", "nl"),
    ("Jà", SIGN, "sign", "nl"),
    ("JÁ", SIGN, "sign", "nl"),
    ("\uff4a\uff41", SIGN, "sign", "nl"),
    ("Ja, ik teken. Succes!", SIGN, "sign", "nl"),
    ("Jawel", SIGN, "sign", "nl"),
    ("jah", SIGN, "sign", "nl"),
    ("ja\nik teken", SIGN, "sign", "nl"),
    # signatures, other languages
    ("yes", SIGN, "sign", "en"),
    ("Yes!", SIGN, "sign", "en"),
    ("YES!!! 🙌", SIGN, "sign", "en"),
    ("Y", SIGN, "sign", "en"),
    ("yep", SIGN, "sign", "en"),
    ("Yeah sure", SIGN, "sign", "en"),
    ("oui", SIGN, "sign", "fr"),
    ("Oui, je signe", SIGN, "sign", "fr"),
    # refusals: never a signature
    ("nee", NEGATIVE, "negative", "nl"),
    ("Neeee!", NEGATIVE, "negative", "nl"),
    ("Nee bedankt", NEGATIVE, "negative", "nl"),
    ("NO", NEGATIVE, "negative", "en"),
    ("no thanks", NEGATIVE, "negative", "en"),
    ("nope", NEGATIVE, "negative", "en"),
    ("NEIN", NEGATIVE, "negative", "de"),
    ("non merci", NEGATIVE, "negative", "fr"),
    # bare opt-outs
    ("STOP", OPT_OUT, "opt_out", "nl"),
    ("stop.", OPT_OUT, "opt_out", "nl"),
    ("Stop!", OPT_OUT, "opt_out", "nl"),
    ("STOP please", OPT_OUT, "opt_out", "nl"),
    ("Stop. Thank you", OPT_OUT, "opt_out", "nl"),
    ("please stop", OPT_OUT, "opt_out", "nl"),
    ("Stop aub", OPT_OUT, "opt_out", "nl"),
    ("STOPPEN", OPT_OUT, "opt_out", "nl"),
    ("Stoppppen", OPT_OUT, "opt_out", "nl"),
    ("stopppp", OPT_OUT, "opt_out", "nl"),
    ("Uit", OPT_OUT, "opt_out", "nl"),
    ("afmelden", OPT_OUT, "opt_out", "nl"),
    ("Afmelden!", OPT_OUT, "opt_out", "nl"),
    ("stop alles", OPT_OUT, "opt_out", "nl"),
    ("STOP STOP", OPT_OUT, "opt_out", "nl"),
    ("UNSUBSCRIBE", OPT_OUT, "opt_out", "en"),
    ("stop all", OPT_OUT, "opt_out", "en"),
    ("STOPALL", OPT_OUT, "opt_out", "en"),
    ("opt-out", OPT_OUT, "opt_out", "en"),
    ("Opt out", OPT_OUT, "opt_out", "en"),
    ("cancel", OPT_OUT, "opt_out", "en"),
    ("ARRÊT", OPT_OUT, "opt_out", "fr"),
    ("arrêter svp", OPT_OUT, "opt_out", "fr"),
    ("Abmelden bitte", OPT_OUT, "opt_out", "de"),
    # help and join
    ("HELP", HELP, "help", "nl"),
    ("info?", HELP, "help", "nl"),
    ("Help me", HELP, "help", "nl"),
    ("hulp", HELP, "help", "nl"),
    ("AIDE", HELP, "help", "fr"),
    ("Hilfe!", HELP, "help", "de"),
    ("START", JOIN, "join", "nl"),
    ("aan", JOIN, "join", "nl"),
    ("Aanmelden", JOIN, "join", "nl"),
    ("JOIN", JOIN, "join", "en"),
    ("START please", JOIN, "join", "nl"),
    ("An error in your text?", NEAR, "near_miss_join", "nl"),
    ("Aanmelden voor de nieuwsbrief", NEAR, "near_miss_join", "nl"),
    ("subscribe", JOIN, "join", "en"),
    ("UNSTOP", JOIN, "join", "en"),
    ("inscription", JOIN, "join", "fr"),
    # near misses
    ("stpo", NEAR, "near_miss_opt_out", "nl"),
    ("STOP this bill", NEAR, "near_miss_opt_out", "nl"),
    ("Stop 17", NEAR, "near_miss_opt_out", "nl"),
    ("please stop texting me", NEAR, "near_miss_opt_out", "nl"),
    ("pleasestop", NEAR, "near_miss_opt_out", "nl"),
    ("afmeldn", NEAR, "near_miss_opt_out", "nl"),
    ("JSA", NEAR, "near_miss_sign", "nl"),
    ("aj", NEAR, "near_miss_sign", "nl"),
    ("yea", NEAR, "near_miss_sign", "en"),
    ("yse", NEAR, "near_miss_sign", "en"),
    ("Yse!", NEAR, "near_miss_sign", "en"),
    ("srart", NEAR, "near_miss_join", "nl"),
    ("hlep", NEAR, "near_miss_help", "nl"),
    # other
    ("we must STOP this bill", OTHER, "other", ""),
    ("Wie is dit?", OTHER, "other", ""),
    ("👍", OTHER, "empty", ""),
    ("", OTHER, "empty", ""),
    ("   ", OTHER, "empty", ""),
    ("?!", OTHER, "empty", ""),
    ("ok", OTHER, "other", ""),
    ("Oké", OTHER, "other", ""),
    ("Bedankt", OTHER, "other", ""),
    ("je", OTHER, "other", ""),
    ("na", OTHER, "other", ""),
    ("de", OTHER, "other", ""),
    ("en ik ook", OTHER, "other", ""),
    ("Top!", OTHER, "other", ""),
    ("And so on", OTHER, "other", ""),
    ("Kan ik tekenen?", OTHER, "other", ""),
    ("Jan hier", OTHER, "other", ""),
    ("Hello", OTHER, "other", ""),
    ("17", OTHER, "other", ""),
]


@pytest.mark.parametrize(("text", "intent", "rule", "language"), CASES)
def test_classify(text: str, intent: Intent, rule: str, language: str) -> None:
    decision = CLASSIFIER.classify(text)
    assert (decision.intent, decision.rule, decision.language) == (intent, rule, language)
    assert decision.word == (tokens(text)[0] if tokens(text) else "")
    if intent is not SIGN:
        assert decision.appeal is None
    if intent is not NEAR:
        assert decision.suggestion == ""


@pytest.mark.parametrize(
    ("text", "appeal"),
    [("JA 17", 17), ("ja17", 17), ("Ja #17!", 17), ("JA 0", 0), ("yes 4", 4), ("JA", None)],
)
def test_sign_with_appeal_reference(text: str, appeal: int | None) -> None:
    decision = CLASSIFIER.classify(text)
    assert decision.intent is SIGN
    assert decision.appeal == appeal
    assert decision.rule == ("sign" if appeal is None else "sign_ref")


def test_absurd_appeal_number_is_a_plain_signature() -> None:
    decision = CLASSIFIER.classify("JA " + "9" * 5000)
    assert (decision.intent, decision.rule, decision.appeal) == (SIGN, "sign", None)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("Stpo", "STOP"),
        ("STOP this bill", "STOP"),
        ("stoppen nu", "STOPPEN"),
        ("JSA", "JA"),
        ("yea", "YES"),
        ("yse", "YES"),
        ("afmeldn", "AFMELDEN"),
        ("hupl", "HULP"),
    ],
)
def test_near_miss_suggests_the_keyword_as_written(text: str, suggestion: str) -> None:
    decision = CLASSIFIER.classify(text)
    assert decision.intent is NEAR
    assert decision.suggestion == suggestion


def test_near_miss_prefers_opt_out_to_sign() -> None:
    tables = {"xx": KeywordTable(opt_out=["ABCD"], sign=["ABCE"])}
    decision = Classifier(tables).classify("abcf")
    assert (decision.rule, decision.suggestion) == ("near_miss_opt_out", "ABCD")


def test_guarded_words_are_never_near_misses() -> None:
    for word in COMMON_WORDS | POLITENESS:
        assert CLASSIFIER.classify(word).intent is not NEAR, word


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JAAAA!!!", ["ja"]),
        ("ja17", ["ja", "17"]),
        ("JA 👍", ["ja"]),
        ("👍", []),
        ("", []),
        ("Stoppen", ["stopen"]),
        ("STOPPPPEN", ["stopen"]),
        ("Jà, ARRÊT", ["ja", "aret"]),
        ("opt-out", ["opt", "out"]),
        ("appeal 1100", ["apeal", "1100"]),
        ("\ufb01ne \uff2a\uff41", ["fine", "ja"]),
        ("Straße", ["strase"]),
        ("snake_case", ["snake", "case"]),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_same_word_in_several_languages_takes_the_first_table() -> None:
    tables = {"de": DEFAULT_TABLES["de"], "nl": DEFAULT_TABLES["nl"]}
    assert Classifier(tables).classify("JA").language == "de"
    assert Classifier(tables).classify("AAN").language == "nl"


def test_custom_multi_word_sign_entry_takes_the_reference_after_it() -> None:
    tables = {"nl": KeywordTable(sign=["IK TEKEN"], opt_out=["STOP"])}
    decision = Classifier(tables).classify("ik teken 12")
    assert (decision.intent, decision.rule, decision.appeal) == (SIGN, "sign_ref", 12)


def test_word_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match=r"keywords\.nl\.sign: '👍'"):
        Classifier({"nl": KeywordTable(sign=["JA", "👍"])})


def test_word_with_two_meanings_is_refused() -> None:
    tables = {"nl": DEFAULT_TABLES["nl"], "en": KeywordTable(opt_out=["ja"])}
    with pytest.raises(ValueError, match=r"keywords\.en\.opt_out: 'ja'.*sign in keywords\.nl"):
        Classifier(tables)


def test_collapsed_words_with_two_meanings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'STOPPEN'.*opt_out"):
        Classifier({"nl": KeywordTable(opt_out=["STOPEN"], join=["STOPPEN"])})


def test_default_tables_are_valid_and_complete() -> None:
    assert {"nl", "en", "fr", "de"} <= set(DEFAULT_TABLES)
    Classifier(DEFAULT_TABLES)
    assert "OK" not in DEFAULT_TABLES["nl"].sign


def test_keyword_table_decodes_from_toml_shape() -> None:
    import msgspec

    table = msgspec.convert({"sign": ["JA"], "opt_out": ["STOP"]}, KeywordTable)
    assert table.sign == ["JA"]
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"signs": ["JA"]}, KeywordTable)


def test_long_text_is_classified_without_the_cache() -> None:
    text = "ja " + "x" * 500
    assert CLASSIFIER.classify(text) == Decision(intent=SIGN, rule="sign", word="ja", language="nl")


# Parts that make opt-outs likely, so the property below sees many of them.
_OPT_OUT_WORDS = [w for table in DEFAULT_TABLES.values() for w in table.opt_out]
_PIECES = st.sampled_from(
    [*_OPT_OUT_WORDS, *POLITENESS, "bill", "ja", "17", "!", ".", " ", "👍", "e\u0301"]
)
_MESSAGES = st.text() | st.lists(_PIECES, max_size=5).map(" ".join)
_OPT_OUT_TOKENS = {t for w in _OPT_OUT_WORDS for t in tokens(w)}
_POLITE_TOKENS = {t for w in POLITENESS for t in tokens(w)}


@given(_MESSAGES)
def test_classify_never_raises_and_opt_out_is_always_bare(text: str) -> None:
    decision = CLASSIFIER.classify(text)
    assert isinstance(decision, Decision)
    words = tokens(text)
    if decision.intent is OPT_OUT:
        assert set(words) <= _OPT_OUT_TOKENS | _POLITE_TOKENS
        assert set(words) & _OPT_OUT_TOKENS
    if not words:
        assert decision.rule == "empty"


@given(st.text())
def test_tokens_are_normalised(text: str) -> None:
    for token in tokens(text):
        assert token
        assert token.isdecimal() or tokens(token) == [token]
