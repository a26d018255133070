"""Phone numbers as logs and exports show them: never whole at INFO or above."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["mask_number", "printable", "redact_url"]


def mask_number(number: str) -> str:
    """``+31612345678`` -> ``+3161234****``: enough to tell numbers apart in a log, not to
    call anyone. Short codes and alphanumeric senders are shown as they are (escaped)."""
    digits = number[1:] if number.startswith("+") else number
    if not digits.isdigit() or len(digits) < 8:
        return printable(number)
    return number[:-4] + "****"


def printable(text: str, limit: int = 40) -> str:
    """Text from the wire, safe for one log line: escapes instead of control characters."""
    clipped = text[:limit]
    escaped = (
        clipped.encode("unicode_escape").decode("ascii") if not clipped.isprintable() else clipped
    )
    return escaped + ("..." if len(text) > limit else "")


def redact_url(url: str) -> str:
    """A Redis URL fit to print: its password replaced by ``***``."""
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@", 1) if password else url
