"""One live engine per consumer name.

Engines sharing Redis tell their queue entries apart by consumer name (``outbox.consumer``,
default the host name). Two processes under one name would each hold, recover and reclaim the
other's entries as their own, and messages would go out twice: easy to do by starting a second
engine on the same host with the same file. So an engine leases its name in Redis for a few
seconds and keeps renewing it; a second one under the same name waits for the lease (a
crashed engine's lease runs out within ``TTL``; one whose process is gone from this host is
taken over at once) and then refuses to start, naming the setting to change.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

import trio

from counters import Store, StoreUnavailable

__all__ = ["TTL", "ConsumerLease", "ConsumerTaken"]

log = logging.getLogger(__name__)

TTL = 5.0
"""Seconds a lease lasts without renewal (renewed every third of this)."""


class ConsumerTaken(RuntimeError):
    """Another live engine uses this consumer name."""


class ConsumerLease:
    def __init__(self, store: Store, name: str, *, ttl: float = TTL) -> None:
        self.store = store
        self.name = name
        self.ttl = ttl
        self.token = f"{_here()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def acquire(self) -> None:
        """Take the name, waiting up to ``ttl`` (and a second) for a previous holder's lease.

        Raises:
            ConsumerTaken: another engine holds it and keeps renewing it.
        """
        holder: str | None = ""
        with trio.move_on_after(self.ttl + 1.0):
            while True:
                holder = await self.store.queues.lease_consumer(
                    self.name, self.token, self.ttl, replacing=_dead_here(holder or "")
                )
                if holder is None:
                    return
                await trio.sleep(0.2)
        raise ConsumerTaken(
            f"another engine is running as consumer {self.name!r} ({holder}): give each engine "
            f"process sharing this Redis its own outbox.consumer"
        )

    async def keep(self) -> None:
        """Renew until cancelled.

        Raises:
            ConsumerTaken: another process took the name (this engine stalled longer than
                ``ttl``, or Redis lost the lease): sending on would send twice.
        """
        while True:
            await trio.sleep(self.ttl / 3)
            try:
                holder = await self.store.queues.lease_consumer(self.name, self.token, self.ttl)
            except StoreUnavailable:
                continue  # nobody else can take it while Redis is away
            if holder is not None:
                raise ConsumerTaken(f"consumer name {self.name!r} was taken over by {holder}")

    async def release(self) -> None:
        try:
            await self.store.queues.release_consumer(self.name, self.token)
        except StoreUnavailable:
            pass  # the lease runs out on its own


def _here() -> str:
    """This host and PID namespace: a pid means the same process only within both
    (containers can share a host name and still not see each other's processes)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: never judge another process dead
        namespace = 0
    return f"{socket.gethostname()}/{namespace}"


def _dead_here(token: str) -> str:
    """``token`` if it names a process of this host and PID namespace that no longer runs,
    else ""."""
    where, _, rest = token.partition(":")
    pid = rest.partition(":")[0]
    if where != _here() or where.endswith("/0") or not pid.isdigit() or int(pid) == os.getpid():
        return ""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return token
    except PermissionError:
        return ""  # it runs, under another user
    return ""
