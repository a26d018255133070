"""Errors raised by the counters layer, named for who is at fault.

`StoreUnavailable` is the one the engine must handle on every call: Redis did not confirm the
operation (unreachable, restarting, timed out), so it may or may not have happened and must be
retried by whoever owns the message (for inbound SMS, the carrier, after a temporary error).
"""

from __future__ import annotations

__all__ = ["CountersError", "EmbeddedServerError", "StoreError", "StoreUnavailable"]


class CountersError(Exception):
    """Base class of every error raised by `counters`."""


class StoreUnavailable(CountersError):
    """Redis did not confirm the operation: treat it as not done and retry later.

    Raised quickly (bounded socket timeouts) while Redis is unreachable or restarting; the batcher
    keeps reconnecting with back-off in the background and calls succeed again once it answers.
    """


class StoreError(CountersError):
    """Redis answered with an error (a bug or a misconfigured server, not an outage)."""


class EmbeddedServerError(CountersError):
    """The embedded server could not be started (missing binary, bad data directory, ...)."""
