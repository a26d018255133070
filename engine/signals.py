"""What a permanent delivery failure means for consent.

A number the carrier reports as undeliverable or barred (a receipt in state UNDELIV or
REJECTD, or a submit refused for its destination) is kept for the operator, and a number we
know (a subscriber, or a public appeal's signer) is opted out with the carrier named as the
source in the consent log: numbers are recycled, and the next owner never agreed to our
messages. Fan-outs and the send-time check then skip it like any opted-out number.
"""

from __future__ import annotations

from counters import Store
from engine.metrics import Metrics

__all__ = ["undeliverable"]


async def undeliverable(store: Store, metrics: Metrics, number: str, reason: str) -> None:
    """Record a permanent failure for ``number`` and opt it out if we know it.

    Raises:
        StoreUnavailable: not recorded; the caller keeps it and tries again.
    """
    await store.deliveries.mark_undeliverable(number, reason)
    (subscriber,) = await store.subscribers.ids([number], create=False)
    if not subscriber:
        return
    ((_, stopped),) = await store.subscribers.consent_states([subscriber])
    if not stopped:
        await store.subscribers.unsubscribe(number, source="carrier", text=reason[:80])
        metrics.child("consent", "opt_out", "carrier").inc()
