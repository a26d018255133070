"""Exception groups at the edge of a process: which error to tell the operator about.

Trio's nurseries wrap what they raise in an `ExceptionGroup`, often several levels deep. A
command line that maps one known error (Redis unreachable, port taken) to a message and an
exit status needs that error back out, but only when it is the whole story.
"""

from __future__ import annotations

__all__ = ["sole"]


def sole(exc: BaseException, kinds: tuple[type[Exception], ...]) -> Exception | None:
    """``exc`` if it is one of ``kinds``, or the first of them in a group holding nothing
    else (however deeply nested); otherwise None."""
    if isinstance(exc, BaseExceptionGroup):
        found, rest = exc.split(kinds)
        if found is None or rest is not None:
            return None
        inner: BaseException = found
        while isinstance(inner, BaseExceptionGroup):
            inner = inner.exceptions[0]
        exc = inner
    return exc if isinstance(exc, kinds) else None
