"""Bearer tokens and their scopes.

Every request names a token (``Authorization: Bearer TOKEN``). The token is compared with
each configured one in constant time (``hmac.compare_digest`` over SHA-256 digests, so
neither the content nor the length leaks through timing, and every token is compared: which
one matched does not either). No token or an unknown one: 401 with ``WWW-Authenticate:
Bearer`` (RFC 6750 §3); a known token without the scopes the endpoint needs: 403.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from engine.api.errors import ApiError
from engine.api.settings import ApiToken, Scope

__all__ = ["Tokens", "require"]

_REALM = 'Bearer realm="ja-engine"'


class Tokens:
    """The configured tokens, checked against a request's ``Authorization`` header."""

    def __init__(self, tokens: Sequence[ApiToken]) -> None:
        self._known = [(_digest(t.token), t) for t in tokens if t.token]

    def identify(self, authorization: str | None) -> ApiToken:
        """The token the header names.

        Raises:
            ApiError: 401, no bearer token or none that is configured.
        """
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "unauthorized",
                "send a token: Authorization: Bearer TOKEN",
                headers={"WWW-Authenticate": _REALM},
            )
        digest = _digest(given.strip())
        found: ApiToken | None = None
        for known, token in self._known:  # no early exit: every request takes as long
            if hmac.compare_digest(digest, known):
                found = token
        if found is None:
            raise ApiError(
                401,
                "unauthorized",
                "this token is not valid here (or no longer)",
                headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            )
        return found


def require(token: ApiToken, scopes: Iterable[Scope]) -> None:
    """Raises ApiError (403) unless ``token`` has every one of ``scopes``."""
    missing = [s for s in scopes if s not in token.scopes]
    if missing:
        wanted = " ".join(missing)
        raise ApiError(
            403,
            "forbidden",
            f"token {token.name!r} lacks the scope {', '.join(missing)} this request needs",
            headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope="{wanted}"'},
        )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
