"""What an inbound SMS means: opt-out, help, join, signature, refusal, a near miss or other.

Theory of operation. Every text, and every word of the operator's keyword tables, goes through
one normalisation (``tokens``): NFKC, casefold, accents stripped, split into runs of letters
and runs of digits (punctuation, symbols and emoji dropped), and runs of one letter collapsed
to one ("JAAAA" -> "ja", "stoppen" -> "stopen"). Because both sides are normalised alike, the
tables need no variants: "Stoppppen" meets "STOPPEN", "Jà" meets "JA".

``Classifier`` compiles the tables once into dicts keyed by normalised phrases (tuples of
tokens), so a message costs one normalisation and a few dict look-ups; results for short
texts are cached, as a TV burst repeats the same few texts. The rules, first that applies:

1. no tokens: OTHER ("empty");
2. OPT_OUT only when bare: the message is opt-out entries and politeness words, nothing else
   ("STOP", "Stop. Thank you", "stop all"). A message that merely starts with an opt-out
   entry ("STOP this bill") is a NEAR_MISS, so an opt-out is never silently read into a
   sentence;
3.-6. the first word (or multi-word entry) is a help, join, sign or negative keyword. A sign
   followed by a number is a signature for that appeal ("JA 17", "ja17"). A join, like an
   opt-out, must be bare (joining is consent): "An error in your text" is a NEAR_MISS;
7. NEAR_MISS: the first word is one typo from an opt-out, sign, join or help keyword (see
   ``Classifier._near``), or a lone word hides an opt-out word ("pleasestop");
8. OTHER.

Near misses use the Damerau-Levenshtein distance 1 (an insertion, deletion, substitution or
swap of adjacent letters) on normalised forms, with guards against false alarms, because
short words are one edit from many real words:

* keywords of two letters ("ja", and "an" from AAN) count only a letter inserted between
  their two letters ("jsa") or their two letters swapped ("aj"): a substitution gives "je",
  "de", and a letter added before or after gives "jan", "and", "van", "kan";
* a two-letter word is never a three-letter keyword with a letter missing ("en" is not END,
  "it" is not UIT);
* negative words, politeness words and ``COMMON_WORDS`` (frequent words one edit from a
  default keyword: "na", "and", "top", "are", "qui"...) are never near misses.

Keywords are disjoint across categories (checked when the ``Classifier`` is built), so a
phrase has one meaning; when several languages list it, the first table in the mapping's
order gives the language and the spelling used for suggestions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import Enum
from functools import lru_cache

import msgspec

__all__ = [
    "COMMON_WORDS",
    "DEFAULT_TABLES",
    "POLITENESS",
    "Classifier",
    "Decision",
    "Intent",
    "KeywordTable",
    "tokens",
]


class Intent(Enum):
    """What the sender wants; the campaigns layer acts on it."""

    OPT_OUT = "opt_out"
    HELP = "help"
    JOIN = "join"
    SIGN = "sign"
    NEGATIVE = "negative"
    NEAR_MISS = "near_miss"
    OTHER = "other"


class KeywordTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One language's words (as an operator writes them in TOML: any case, accents allowed)."""

    opt_out: list[str] = []
    help: list[str] = []
    join: list[str] = []
    sign: list[str] = []
    negative: list[str] = []


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The meaning of one message, with the rule that decided it (a fixed set, for metrics)."""

    intent: Intent
    rule: str
    word: str
    language: str
    appeal: int | None = None
    suggestion: str = ""


DEFAULT_TABLES: dict[str, KeywordTable] = {
    "nl": KeywordTable(
        opt_out=["STOP", "STOPPEN", "UIT", "AFMELDEN", "STOP ALLES"],
        help=["HELP", "INFO", "HULP"],
        join=["START", "AAN", "AANMELDEN"],
        sign=["JA", "JAWEL", "JAH"],
        negative=["NEE", "NEEN"],
    ),
    "en": KeywordTable(
        opt_out=[
            "STOP",
            "STOPALL",
            "STOP ALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
            "OPT OUT",
            "OPT-OUT",
            "REMOVE",
        ],
        help=["HELP", "INFO"],
        join=["START", "JOIN", "SUBSCRIBE", "UNSTOP"],
        sign=["YES", "Y", "YEP", "YEAH"],
        negative=["NO", "NOPE", "NAH"],
    ),
    "fr": KeywordTable(
        opt_out=["ARRET", "ARRETER", "STOP"],
        help=["AIDE", "INFO"],
        join=["START", "INSCRIPTION"],
        sign=["OUI"],
        negative=["NON"],
    ),
    "de": KeywordTable(
        opt_out=["STOP", "ABMELDEN"],
        help=["HILFE", "INFO"],
        join=["START", "ANMELDEN"],
        sign=["JA"],
        negative=["NEIN"],
    ),
}
"""Defaults; French keywords are written without accents so a suggestion stays GSM 03.38."""


def _words(text: str) -> frozenset[str]:
    """A word list written as one string, which reads better than a column of literals."""
    return frozenset(text.split())


POLITENESS: frozenset[str] = _words(
    "please pls thanks thank you thx aub alstublieft alsjeblieft bedankt dank je u merci svp "
    "bitte danke"
)
"""Words allowed around a bare opt-out ("STOP please", "Stop. Thank you")."""

COMMON_WORDS: frozenset[str] = _words(
    # nl
    "na dit top stap uil wit hup staat jan jas "
    # en
    "and are art out our yet eyes send ends bend lend tend step shop atop quite quiet suit "
    "into joint john hell held hello jam jaw jar jay bah hah "
    # fr, de
    "qui des les mit und"
)
"""Frequent words one edit from a default keyword: never read as a near miss."""

_CATEGORIES: tuple[tuple[str, Intent], ...] = (
    ("opt_out", Intent.OPT_OUT),
    ("help", Intent.HELP),
    ("join", Intent.JOIN),
    ("sign", Intent.SIGN),
    ("negative", Intent.NEGATIVE),
)
# Near-miss targets, in priority order: a typo is read as the most consequential intent.
_NEAR_PRIORITY: dict[Intent, int] = {
    Intent.OPT_OUT: 0,
    Intent.SIGN: 1,
    Intent.JOIN: 2,
    Intent.HELP: 3,
}
_NEAR_RULE: dict[Intent, str] = {intent: "near_miss_" + intent.value for intent in _NEAR_PRIORITY}
_EXACT_RULE: dict[Intent, str] = {intent: intent.value for _, intent in _CATEGORIES}

_REPEAT = re.compile(r"(\w)\1+")  # faster than a letters-only class; _collapse skips digits
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_MAX_APPEAL_DIGITS = 9  # int() of a 5000-digit token raises; no appeal number is that long
_CACHE_MAX_LEN = 64  # longer texts are rarely repeated verbatim; keep the cache small
_WILD = "\x00"  # stands for "any letter" in substitution patterns; never in a token


class _DropMarks(dict[int, int | None]):
    """A ``str.translate`` table deleting combining marks, filled in as characters arrive.

    Translating is five times faster than testing each character's category in Python; the
    table stops growing at ``_MARKS_TABLE_MAX`` entries, so odd input cannot bloat it.
    """

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code))[0] == "M" else code
        if len(self) < _MARKS_TABLE_MAX:
            self[code] = value
        return value


_MARKS_TABLE_MAX = 1 << 16
_DROP_MARKS = _DropMarks()


def _fold(text: str) -> str:
    """NFKC, casefold, accents dropped; ASCII (most inbound SMS) skips the Unicode work."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return decomposed.translate(_DROP_MARKS)


def _collapse(match: re.Match[str]) -> str:
    """One letter for a run of it; digit and underscore runs stay as they are."""
    run = match.group()
    return run if run[0].isdecimal() or run[0] == "_" else run[0]


def tokens(text: str) -> list[str]:
    """The normalised words of ``text``: letter runs (one letter per run) and digit runs."""
    folded = _fold(text)
    if _REPEAT.search(folded):
        folded = _REPEAT.sub(_collapse, folded)
    return _TOKEN.findall(folded)


class _Entry(msgspec.Struct, frozen=True):
    """A table phrase compiled: its intent, first language and the operator's spelling."""

    intent: Intent
    language: str
    written: str
    order: int  # position in table order, for deterministic near-miss ties


def _edits(word: str) -> tuple[list[str], list[str], list[str]]:
    """``word`` with one letter deleted, one letter wildcarded, two neighbours swapped."""
    cuts = range(len(word))
    deletions = [word[:i] + word[i + 1 :] for i in cuts]
    wildcards = [word[:i] + _WILD + word[i + 1 :] for i in cuts]
    swaps = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in cuts[:-1]]
    return deletions, wildcards, swaps


def _normalised_set(words: Iterable[str]) -> frozenset[str]:
    """Single-token normalised forms, so built-in word lists collapse like the input."""
    return frozenset(" ".join(tokens(word)) for word in words)


class Classifier:
    """Compiled keyword tables; ``classify`` is pure and cached for short texts."""

    def __init__(self, tables: Mapping[str, KeywordTable] = DEFAULT_TABLES) -> None:
        self._phrases: dict[tuple[str, ...], _Entry] = {}
        for language, table in tables.items():
            for category, intent in _CATEGORIES:
                for word in getattr(table, category):
                    self._add(language, category, intent, word)
        self._opt_out_phrases = {
            p: e for p, e in self._phrases.items() if e.intent is Intent.OPT_OUT
        }
        self._opt_out_starts = frozenset(p[0] for p in self._opt_out_phrases)
        self._others = {p: e for p, e in self._phrases.items() if e.intent is not Intent.OPT_OUT}
        self._opt_out_lengths = _lengths(self._opt_out_phrases)
        self._others_lengths = _lengths(self._others)
        self._politeness = _normalised_set(POLITENESS)
        self._never_near = _normalised_set(COMMON_WORDS) | self._politeness
        self._compile_near()
        self._cached = lru_cache(maxsize=8192)(self._classify)

    def _add(self, language: str, category: str, intent: Intent, word: str) -> None:
        """Record one table word; raise ValueError if it is empty or already means else."""
        phrase = tuple(tokens(word))
        if not phrase:
            raise ValueError(f"keywords.{language}.{category}: {word!r} has no letters or digits")
        known = self._phrases.get(phrase)
        if known is None:
            self._phrases[phrase] = _Entry(intent, language, word, len(self._phrases))
        elif known.intent is not intent:
            raise ValueError(
                f"keywords.{language}.{category}: {word!r} reads as {' '.join(phrase)!r}, "
                f"which is already {known.intent.value} in keywords.{known.language} "
                f"({known.written!r}); a word can have only one meaning"
            )

    def _compile_near(self) -> None:
        """Index one-edit neighbours of single-word targets (see the module docstring)."""
        self._near_exact: dict[str, _Entry] = {}
        self._near_deleted: dict[str, _Entry] = {}  # keyword minus a letter -> keyword
        self._near_wild: dict[str, _Entry] = {}  # keyword, one letter wildcarded -> keyword
        hidden: list[str] = []
        for phrase, entry in self._phrases.items():
            word = phrase[0]
            if len(phrase) != 1 or entry.intent not in _NEAR_PRIORITY or len(word) < 2:
                continue
            if word.isdecimal():
                continue
            self._near_exact[word] = entry
            if entry.intent is Intent.OPT_OUT and len(word) >= 4:
                hidden.append(word)
            if len(word) == 2:
                self._keep(self._near_deleted, word[0] + _WILD + word[1], entry)
                continue
            deletions, wildcards, _ = _edits(word)
            for key in deletions:
                self._keep(self._near_deleted, key, entry)
            for key in wildcards:
                self._keep(self._near_wild, key, entry)
        hidden.sort(key=len, reverse=True)
        self._hidden = re.compile("|".join(map(re.escape, hidden))) if hidden else None

    @staticmethod
    def _keep(index: dict[str, _Entry], key: str, entry: _Entry) -> None:
        """Keep the higher-priority entry for a shared neighbour key."""
        known = index.get(key)
        if known is None or _rank(entry) < _rank(known):
            index[key] = entry

    def classify(self, text: str) -> Decision:
        """The meaning of ``text``; never raises."""
        if len(text) <= _CACHE_MAX_LEN:
            return self._cached(text)
        return self._classify(text)

    def _classify(self, text: str) -> Decision:
        words = tokens(text)
        if not words:
            return Decision(intent=Intent.OTHER, rule="empty", word="", language="")
        opt_out = self._opt_out(words)
        if opt_out is not None:
            return opt_out
        size, entry = self._prefix(words, 0, self._others, self._others_lengths)
        if entry is not None:
            if entry.intent is Intent.JOIN and any(w not in self._politeness for w in words[size:]):
                # Joining is consent, so, like an opt-out, it takes the bare word: "An error
                # in your text" starts with "an" (AAN, collapsed) and must not subscribe.
                return _near_miss(words[0], entry)
            return _exact(words, size, entry)
        near = self._near(words)
        if near is not None:
            return _near_miss(words[0], near)
        return Decision(intent=Intent.OTHER, rule="other", word=words[0], language="")

    @staticmethod
    def _prefix(
        words: list[str], start: int, phrases: dict[tuple[str, ...], _Entry], lengths: list[int]
    ) -> tuple[int, _Entry | None]:
        """The longest of ``phrases`` at ``words[start:]`` and its length in tokens."""
        for size in lengths:
            if start + size <= len(words):
                entry = phrases.get(tuple(words[start : start + size]))
                if entry is not None:
                    return size, entry
        return 0, None

    def _opt_out(self, words: list[str]) -> Decision | None:
        """OPT_OUT if ``words`` are only opt-out entries and politeness; NEAR_MISS if they
        merely start with one, after any politeness ("STOP this bill", "please stop it")."""
        start, end = 0, len(words)
        while start < end and words[start] in self._politeness:
            start += 1
        if start == end or words[start] not in self._opt_out_starts:
            return None  # the common case, decided by one set look-up
        while end > start and words[end - 1] in self._politeness:
            end -= 1
        core = words[start:end]
        size, first = self._prefix(core, 0, self._opt_out_phrases, self._opt_out_lengths)
        if first is None:
            return None
        position = size
        while position < len(core):
            size, entry = self._prefix(core, position, self._opt_out_phrases, self._opt_out_lengths)
            if entry is None:
                return _near_miss(words[0], first)
            position += size
        return Decision(
            intent=Intent.OPT_OUT, rule="opt_out", word=words[0], language=first.language
        )

    def _near(self, words: list[str]) -> _Entry | None:
        """The keyword the first word is one typo from, by priority; None if none or guarded."""
        word = words[0]
        if len(word) < 2 or word.isdecimal() or word in self._never_near:
            return None
        deletions, wildcards, swaps = _edits(word)
        found = [self._near_exact.get(w) for w in swaps]
        found += [self._near_wild.get(w) for w in wildcards]
        if len(word) > 3:  # a letter inserted into a keyword of three letters or more
            found += [self._near_exact.get(w) for w in deletions]
        if len(word) > 2:  # a letter deleted from a keyword of three letters or more
            found.append(self._near_deleted.get(word))
        if len(word) == 3:  # a letter inserted between a two-letter keyword's letters
            found.append(self._near_deleted.get(word[0] + _WILD + word[2]))
        candidates = [entry for entry in found if entry is not None]
        if len(words) == 1 and len(word) >= 5 and self._hidden is not None:
            match = self._hidden.search(word)
            if match is not None:
                candidates.append(self._near_exact[match.group()])
        return min(candidates, key=_rank, default=None)


def _lengths(phrases: Mapping[tuple[str, ...], _Entry]) -> list[int]:
    """Phrase lengths in tokens, longest first, for longest-match look-ups."""
    return sorted({len(phrase) for phrase in phrases}, reverse=True)


def _rank(entry: _Entry) -> tuple[int, int]:
    """Near-miss priority: opt-out, sign, join, help; then table order."""
    return _NEAR_PRIORITY[entry.intent], entry.order


def _appeal(token: str) -> int | None:
    """An appeal number from a digit token; None for words and absurdly long numbers."""
    if not token.isdecimal() or len(token) > _MAX_APPEAL_DIGITS:
        return None
    return int(token)


def _exact(words: list[str], size: int, entry: _Entry) -> Decision:
    """The decision for a help, join, sign or negative phrase at the start of ``words``."""
    appeal = None
    rule = _EXACT_RULE[entry.intent]
    if entry.intent is Intent.SIGN and len(words) > size:
        appeal = _appeal(words[size])
        rule = "sign" if appeal is None else "sign_ref"
    return Decision(
        intent=entry.intent, rule=rule, word=words[0], language=entry.language, appeal=appeal
    )


def _near_miss(word: str, entry: _Entry) -> Decision:
    """A near miss of ``entry``, suggesting the keyword as the operator wrote it."""
    return Decision(
        intent=Intent.NEAR_MISS,
        rule=_NEAR_RULE[entry.intent],
        word=word,
        language=entry.language,
        suggestion=entry.written,
    )
