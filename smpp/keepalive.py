"""When to probe the link and when to give up on it, as decisions of ``now``.

enquire_link (§4.11) keeps NAT tables and the peer's inactivity timer happy and tells us the
link is alive. The rules, all in seconds of the caller's clock:

* nothing received for ``interval``: send an enquire_link (one at a time);
* an enquire_link unanswered for ``response_timeout``: the link is dead, close it;
* nothing at all received for ``inactivity_timeout`` (when set): close it;
* a PDU begun but not finished within ``pdu_timeout``: close it.

"Received" means a whole PDU, never a byte: a peer that trickles an unfinished 64 KiB PDU at
one octet a second would otherwise keep the link "alive" for 18 hours per PDU without ever
answering a probe.

``tick(now)`` returns the action; ``next_deadline()`` says when to call it again, so the Trio
layer sleeps exactly until then and tests run on a virtual clock.
"""

from __future__ import annotations

import math

import msgspec

__all__ = ["Close", "Keepalive", "SendEnquireLink"]


class SendEnquireLink(msgspec.Struct, frozen=True):
    """Send an enquire_link now."""


class Close(msgspec.Struct, frozen=True):
    """Give up on the connection."""

    reason: str


class Keepalive:
    """Enquire-link and inactivity timers for one connection."""

    def __init__(
        self,
        now: float,
        *,
        interval: float = 30.0,
        response_timeout: float = 10.0,
        inactivity_timeout: float | None = None,
        pdu_timeout: float | None = None,
    ) -> None:
        if interval <= 0 or response_timeout <= 0:
            raise ValueError("interval and response_timeout must be positive")
        self.interval = interval
        self.response_timeout = response_timeout
        self.inactivity_timeout = inactivity_timeout
        self.pdu_timeout = response_timeout if pdu_timeout is None else pdu_timeout
        """How long the octets of one PDU may take to arrive (default: response_timeout)."""
        self._last_received = now
        self._probe_sent_at: float | None = None
        self._partial_since: float | None = None

    def received(self, now: float) -> None:
        """A whole PDU arrived: the link is alive."""
        self._last_received = now

    def partial(self, now: float, pending: bool) -> bool:
        """After a read: ``pending`` says whether octets of an unfinished PDU are buffered.
        Returns True when a new PDU just began arriving (its deadline is new)."""
        if not pending:
            self._partial_since = None
            return False
        if self._partial_since is None or self._last_received > self._partial_since:
            # A PDU completed since the partial one was first seen: this one is new.
            self._partial_since = now
            return True
        return False

    def probe_answered(self, now: float) -> None:
        """Our enquire_link got its response."""
        self._probe_sent_at = None
        self._last_received = now

    def tick(self, now: float) -> SendEnquireLink | Close | None:
        """What to do at ``now``.

        Every comparison is against the same sums that ``next_deadline`` returns, so a
        caller that sleeps until that deadline always finds the action due (comparing
        ``now - last >= interval`` instead can round the other way and spin).
        """
        sent = self._probe_sent_at
        if sent is not None and now >= sent + self.response_timeout:
            return Close(f"enquire_link unanswered after {now - sent:.1f} s")
        begun = self._partial_since
        if begun is not None and now >= begun + self.pdu_timeout:
            return Close(f"a PDU still incomplete after {now - begun:.1f} s")
        last = self._last_received
        if self.inactivity_timeout is not None and now >= last + self.inactivity_timeout:
            return Close(f"nothing received for {now - last:.1f} s")
        if sent is None and now >= last + self.interval:
            self._probe_sent_at = now
            return SendEnquireLink()
        return None

    def next_deadline(self) -> float:
        """The earliest time at which ``tick`` may return an action."""
        deadline = math.inf
        if self._probe_sent_at is not None:
            deadline = self._probe_sent_at + self.response_timeout
        else:
            deadline = self._last_received + self.interval
        if self.inactivity_timeout is not None:
            deadline = min(deadline, self._last_received + self.inactivity_timeout)
        if self._partial_since is not None:
            deadline = min(deadline, self._partial_since + self.pdu_timeout)
        return deadline
