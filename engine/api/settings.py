"""``[api]``: the integration API's tokens, each with a name and scopes.

A token's value never stands in the file: it comes from an environment variable
(``token_env``) or a file readable by the engine's user only (``token_file``), like a bind's
password. After loading, ``ApiToken.token`` holds it; ``repr`` hides it.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from msgspec import Meta, Struct, field

__all__ = ["MIN_TOKEN_LENGTH", "SCOPES", "ApiConfig", "ApiToken", "Scope"]

Scope = Literal["read", "subscribe", "send", "appeals", "export", "admin"]
"""What a token may do; each endpoint names the scopes it needs (docs/api.md):

* ``read``: list and show appeals, look a subscriber up (masked), the OpenAPI document;
* ``subscribe``: add a number from a web form (pending until the handset confirms);
* ``send``: one transactional text to a subscriber (a CRM);
* ``appeals``: create, send, pause, resume, cancel an appeal, send its outcome;
* ``export``: an appeal's signatures, numbers masked;
* ``admin``: forget a number; with ``export``, the signatures unmasked (audited).
"""
SCOPES: tuple[Scope, ...] = get_args(Scope)
MIN_TOKEN_LENGTH = 32
"""Characters a token needs at least (``openssl rand -hex 32`` gives 64)."""


class ApiToken(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    """Who uses it ("crm", "website"): recorded with what it did, never secret."""
    scopes: Annotated[list[Scope], Meta(min_length=1)]
    token_env: Annotated[str, Meta(min_length=1)] | None = None
    token_file: Annotated[str, Meta(min_length=1)] | None = None
    token: str = ""
    """Filled from ``token_env`` or ``token_file`` when loading; refused in the file."""

    def __repr__(self) -> str:
        return (
            f"ApiToken(name={self.name!r}, scopes={self.scopes!r}, token_env={self.token_env!r}, "
            f"token_file={self.token_file!r}, token={'<hidden>' if self.token else repr('')})"
        )


class ApiConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    tokens: list[ApiToken] = field(default_factory=list)
    """With none, every ``/api/v1`` request is refused (401)."""
    max_body: Annotated[int, Meta(ge=1024, le=1_048_576)] = 65536
    """Bytes a request body may have (more: 413)."""
