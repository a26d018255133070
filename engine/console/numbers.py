"""Phone numbers as operators write them, to E.164 once: "06 1234 5678", "+31 (0)6-12345678",
"0031612345678" and "31612345678" are all +31612345678 (with country code 31)."""

from __future__ import annotations

import re

__all__ = ["NumberError", "to_e164"]

_SEPARATORS = re.compile(r"[\s\-./()]")


class NumberError(ValueError):
    """Not a phone number we can send to; the message says why."""


def to_e164(raw: str, country_code: str) -> str:
    """``raw`` as E.164 ("+" and 8 to 15 digits).

    Raises:
        NumberError: letters, too short or too long, or a national number without the
            leading 0.
    """
    text = raw.strip().replace("(0)", "")
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("+"):
        number = digits[1:]
    elif digits.startswith("00"):
        number = digits[2:]
    elif digits.startswith("0"):
        number = country_code + digits[1:]
    else:
        number = digits
    if not number.isdigit():
        raise NumberError(f"{raw.strip()!r} is not a phone number (only digits, +, spaces, -)")
    if not 8 <= len(number) <= 15:
        raise NumberError(f"{raw.strip()!r} has {len(number)} digits; E.164 numbers have 8 to 15")
    return "+" + number
