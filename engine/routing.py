"""Which carrier a number goes through, and E.164 normalisation of SMPP addresses.

Replies go back through the carrier the subscriber last wrote in on (free-to-end-user replies
usually must, and numbers port between operators); the campaigns layer puts that carrier on
the queued message. Number-prefix rules are the fallback, then the default carrier.
"""

from __future__ import annotations

import enum
import re

from engine.config import Config
from smpp.constants import Ton

__all__ = ["Routing", "SenderKind", "e164_from_smpp", "sender_kind", "smpp_destination"]

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9 ._&'-]{1,11}")


class Routing:
    """Carrier choice from the configuration's prefixes and default."""

    def __init__(self, config: Config) -> None:
        prefixes = [
            (prefix, name)
            for name, carrier in config.carriers.items()
            for prefix in carrier.prefixes
        ]
        self._prefixes = sorted(prefixes, key=lambda item: -len(item[0]))
        default = config.routing.default_carrier
        if default is None and len(config.carriers) == 1:
            default = next(iter(config.carriers))
        self.default = default
        self.known = frozenset(config.carriers)

    def carrier_for(self, number: str, hint: str = "") -> str | None:
        """``hint`` (the carrier on the message) if known, else the longest prefix, else default."""
        if hint in self.known:
            return hint
        for prefix, name in self._prefixes:
            if number.startswith(prefix):
                return name
        return self.default


def e164_from_smpp(address: str, ton: int, country_code: str) -> str:
    """An SMPP source address as E.164 ("+316...") where it is a number; else as received.

    International (TON 1) gets a "+"; national (TON 2) or unknown numbers with a leading 0
    get the country code; alphanumeric senders (TON 5) and short codes stay as they are.
    """
    digits = address.strip()
    if ton == Ton.ALPHANUMERIC or not digits:
        return digits
    if digits.startswith("+"):
        return "+" + "".join(c for c in digits[1:] if c.isdigit())
    if not digits.isdigit():
        return digits
    if ton == Ton.INTERNATIONAL:
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0") and ton in (Ton.NATIONAL, Ton.UNKNOWN):
        return "+" + country_code + digits[1:]
    if ton == Ton.UNKNOWN and len(digits) > 8:
        return "+" + digits
    return digits


class SenderKind(enum.Enum):
    """What the sender of a mobile-originated message is, once normalised.

    Only a NUMBER is a person who can subscribe, sign and be answered. A SHORT_CODE or an
    ALPHANUMERIC sender is a service (another short code, a carrier's notice): accepted, never
    recorded as a subscriber and never answered, so two services cannot loop. INVALID (empty,
    non-numeric without TON 5, control characters, too long) is refused: ESME_RINVSRCADR.
    """

    NUMBER = "number"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"
    INVALID = "invalid"


def sender_kind(normalised: str, ton: int) -> SenderKind:
    """Classify a sender already passed through ``e164_from_smpp``."""
    if _E164.fullmatch(normalised):
        return SenderKind.NUMBER
    if ton == Ton.ALPHANUMERIC:
        if _ALPHANUMERIC.fullmatch(normalised) and not normalised.isdigit():
            return SenderKind.ALPHANUMERIC
        return SenderKind.INVALID
    if _SHORT_CODE.fullmatch(normalised):
        return SenderKind.SHORT_CODE
    return SenderKind.INVALID


def smpp_destination(number: str) -> tuple[int, int, str]:
    """(ton, npi, address) for a destination: E.164 goes out international/ISDN."""
    if number.startswith("+"):
        return Ton.INTERNATIONAL, 1, number[1:]
    return Ton.UNKNOWN, 1, number
