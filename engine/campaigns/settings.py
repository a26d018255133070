"""The campaign layer's configuration: the ``[campaigns]`` table of the engine's TOML file.

Keyword tables and reply texts are per language. Every reply is a template with named
placeholders ({organisation}, {short_code}, {count}, {others}, {appeal}, {suggestion}); the
engine checks at load time that each names only placeholders it can fill and fits one SMS.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct, field

from engine.campaigns.keywords import DEFAULT_TABLES, KeywordTable

__all__ = ["DEFAULT_TEMPLATES", "PLACEHOLDERS", "CampaignConfig", "Templates", "with_defaults"]


class Templates(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the engine answers, in one language. Each fits one SMS once filled in. A text
    left out of the configuration is the built-in one of that language (or English)."""

    welcome: str = ""
    stop: str = ""
    help: str = ""
    thank_you: str = ""
    thank_you_public: str = ""
    """To a signer of a public appeal who is not a subscriber: thanks and an invitation."""
    clarify_sign: str = ""
    clarify_stop: str = ""
    clarify_other: str = ""
    no_appeal: str = ""
    late: str = ""
    not_subscribed: str = ""
    other: str = ""


PLACEHOLDERS: dict[str, frozenset[str]] = {
    name: frozenset({"organisation", "short_code"}) for name in Templates.__struct_fields__
}
PLACEHOLDERS["thank_you"] = frozenset({"organisation", "short_code", "count", "others", "appeal"})
PLACEHOLDERS["thank_you_public"] = PLACEHOLDERS["thank_you"]
PLACEHOLDERS["clarify_other"] = frozenset({"organisation", "short_code", "suggestion"})
PLACEHOLDERS["late"] = frozenset({"organisation", "short_code", "appeal"})

DEFAULT_TEMPLATES: dict[str, Templates] = {
    "nl": Templates(
        welcome=(
            "Welkom bij het SMS-netwerk van {organisation}! Ongeveer 2 oproepen per maand, "
            "gratis. Antwoord JA om te tekenen. Stoppen? Stuur STOP naar {short_code}."
        ),
        stop=(
            "Je bent afgemeld bij {organisation} en krijgt geen berichten meer van "
            "{short_code}. Opnieuw aanmelden? Stuur AAN."
        ),
        help=(
            "{organisation}: SMS-acties voor mensen in gevaar. Teken met JA. Stoppen: stuur "
            "STOP naar {short_code}. Gratis."
        ),
        thank_you="Dank je! Jij en {others} anderen hebben getekend. {organisation}",
        thank_you_public=(
            "Dank je! Jij en {others} anderen hebben getekend. Vaker meedoen? Stuur AAN naar "
            "{short_code}. {organisation}"
        ),
        clarify_sign="Bedoelde je JA? Stuur JA om de oproep te tekenen. {organisation}",
        clarify_stop="Wil je je afmelden? Stuur alleen het woord STOP. {organisation}",
        clarify_other="Bedoelde je {suggestion}? Stuur alleen {suggestion}. {organisation}",
        no_appeal=(
            "Dank je, maar er loopt nu geen oproep om te tekenen. {organisation}. Info: stuur "
            "HELP naar {short_code}."
        ),
        late="Dank je! De oproep {appeal} is al gesloten. {organisation}",
        not_subscribed=(
            "Je bent (nog) niet aangemeld bij {organisation}. Aanmelden? Stuur AAN naar "
            "{short_code}."
        ),
        other=(
            "{organisation}: teken een oproep met JA, stoppen met STOP, info met HELP "
            "(naar {short_code})."
        ),
    ),
    "en": Templates(
        welcome=(
            "Welcome to the {organisation} SMS network! About 2 urgent actions a month, free. "
            "Reply YES to sign. To stop, text STOP to {short_code}."
        ),
        stop=(
            "You have left {organisation} and will get no more messages from {short_code}. "
            "To join again, text START."
        ),
        help=(
            "{organisation}: SMS actions for people at risk. Sign with YES. To stop, text STOP "
            "to {short_code}. Free."
        ),
        thank_you="Thank you! You and {others} others have signed. {organisation}",
        thank_you_public=(
            "Thank you! You and {others} others have signed. Want to join? Text START to "
            "{short_code}. {organisation}"
        ),
        clarify_sign="Did you mean YES? Text YES to sign the appeal. {organisation}",
        clarify_stop="Do you want to stop? Text just the word STOP. {organisation}",
        clarify_other="Did you mean {suggestion}? Text just {suggestion}. {organisation}",
        no_appeal=(
            "Thank you, but there is no open appeal to sign right now. {organisation}. Text "
            "HELP to {short_code} for info."
        ),
        late="Thank you! Appeal {appeal} has closed already. {organisation}",
        not_subscribed=(
            "You are not subscribed to {organisation}. To join, text START to {short_code}."
        ),
        other=(
            "{organisation}: sign an appeal with YES, stop with STOP, info with HELP "
            "(to {short_code})."
        ),
    ),
}


class CampaignConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[campaigns]``: who we are, keyword tables and reply texts per language, timing."""

    organisation: Annotated[str, Meta(min_length=1, max_length=40)] = "Amnesty"
    default_language: str = "nl"
    thank_delay: Annotated[float, Meta(ge=0)] = 60.0
    """Seconds between a JA and its thank-you (which carries the count at sending time)."""
    reply_window: Annotated[float, Meta(gt=0)] = 7 * 86400.0
    """Default seconds an appeal accepts JA after it is sent."""
    reply_budget: Annotated[int, Meta(ge=1)] = 5
    """Automatic answers (HELP, questions, hints) per number per hour: stops loops with
    other robots. Confirmations of STOP and thank-yous are not limited."""
    max_appeals_per_week: Annotated[int, Meta(ge=0)] = 4
    """Appeals one subscriber receives in any rolling 7 days, at most (0: no cap). An appeal
    created as urgent goes to everyone regardless (recorded on the appeal)."""
    quiet_hours: str = ""
    """"HH:MM-HH:MM" in each subscriber's local time (zone from the number's country code):
    appeals and outcomes wait until it ends; "" for none. Replies (thank-yous, STOP and HELP
    answers) are not held: the person just wrote to us."""
    fanout_chunk: Annotated[int, Meta(ge=64, le=1_000_000)] = 1024
    """Recipients queued per step of a fan-out (the cursor advances by this many ids)."""
    fanout_high_water: Annotated[int, Meta(ge=1000)] = 50_000
    """The fan-out waits while the bulk lane holds more than this."""
    keywords: dict[str, KeywordTable] = field(default_factory=lambda: dict(DEFAULT_TABLES))
    """Per language; a language configured here replaces that language's built-in table."""
    templates: dict[str, Templates] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))


def with_defaults(configured: dict[str, Templates]) -> dict[str, Templates]:
    """The built-in languages plus the configured ones, each text left empty filled in from
    the built-in texts of its language (English for a language we have none for)."""
    merged = dict(DEFAULT_TEMPLATES)
    for language, templates in configured.items():
        base = DEFAULT_TEMPLATES.get(language, DEFAULT_TEMPLATES["en"])
        filled = {
            name: getattr(templates, name) or getattr(base, name)
            for name in Templates.__struct_fields__
        }
        merged[language] = Templates(**filled)
    return merged
