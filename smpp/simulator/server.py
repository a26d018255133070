"""The simulator as a whole: serve TCP (or TLS), one ``Link`` per connection, and the
operator's levers (drop binds, unbind, send a malformed PDU, refuse binds) for tests and
scripts.

Start it with ``open_simulator(config)``, inside ``trio.run``::

    async with open_simulator(config) as sim:
        host, port = await sim.listen()
        ...                                  # bind to it, submit, read sim.ledger
        await sim.shutdown()                 # unbind every client

or over in-memory streams in virtual-time tests: ``stream = sim.connect_memory()``.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import trio
import trio.testing

from smpp.simulator.accounts import Account, Accounts
from smpp.simulator.carrier import Carrier
from smpp.simulator.centre import MessageCentre
from smpp.simulator.config import FaultStep, SimulatorConfig
from smpp.simulator.handsets import Handsets
from smpp.simulator.ledger import Ledger
from smpp.simulator.link import Link
from smpp.simulator.stats import Stats
from smpp.simulator.tv import CallToAction

__all__ = ["Simulator", "open_simulator"]


class Simulator:
    """A running message centre. Create it with ``open_simulator``."""

    def __init__(self, config: SimulatorConfig, nursery: trio.Nursery) -> None:
        self.config = config
        self.centre = MessageCentre(config)
        self.carrier = Carrier(
            config.faults, self.centre.stats, seed=config.seed, now=trio.current_time()
        )
        self.links: set[Link] = set()
        self.tv: CallToAction | None = None
        self._nursery = nursery
        self.started_at = trio.current_time()

    # --- the parts, for tests and scripts ----------------------------------------------------

    @property
    def accounts(self) -> Accounts:
        return self.centre.accounts

    @property
    def handsets(self) -> Handsets:
        return self.centre.handsets

    @property
    def ledger(self) -> Ledger:
        return self.centre.ledger

    @property
    def stats(self) -> Stats:
        return self.centre.stats

    def pdu_counts(self) -> tuple[Counter[int], Counter[int]]:
        """PDUs (received, sent) by command_id, on every connection so far."""
        received, sent = Counter(self.stats.pdus_in), Counter(self.stats.pdus_out)
        for link in list(self.links):
            if link.conn is not None:
                received.update(link.conn.session.pdus_in)
                sent.update(link.conn.session.pdus_out)
        return received, sent

    def account(self, system_id: str | None = None) -> Account:
        """An account by system_id (default: the first)."""
        return self.accounts.at(0) if system_id is None else self.accounts[system_id]

    # --- serving -----------------------------------------------------------------------------

    async def listen(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Serve TCP (TLS if configured) in the background; returns the bound (host, port)."""
        host = self.config.host if host is None else host
        port = self.config.port if port is None else port
        if self.config.tls_cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
            serve_tls = partial(
                trio.serve_ssl_over_tcp, self.serve_stream, port, context, host=host
            )
            tls_listeners = await self._nursery.start(serve_tls)
            sock = tls_listeners[0].transport_listener.socket
        else:
            listeners = await self._nursery.start(
                partial(trio.serve_tcp, self.serve_stream, port, host=host)
            )
            sock = listeners[0].socket
        address = sock.getsockname()
        return address[0], address[1]

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one ESME connection until it ends."""
        await Link(self).run(stream)

    def connect_memory(self) -> trio.abc.Stream:
        """A client stream wired to a new in-memory connection (tests, virtual time)."""
        client, server = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self.serve_stream, server)
        return client

    def start_tv(self) -> CallToAction:
        """Start the configured TV call to action now (it stops at the profile's end)."""
        self.tv = CallToAction(self.centre, self.config.tv, seed=self.config.seed)
        self._nursery.start_soon(self.tv.run)
        return self.tv

    # --- levers ------------------------------------------------------------------------------

    def bound_links(self, system_id: str | None = None) -> list[Link]:
        return [
            link
            for link in self.links
            if link.is_bound()
            and (system_id is None or (link.account and link.account.system_id == system_id))
        ]

    async def _each(self, action: Callable[[Link], Awaitable[None]], system_id: str | None) -> int:
        links = self.bound_links(system_id)
        async with trio.open_nursery() as nursery:
            for link in links:
                nursery.start_soon(action, link)
        return len(links)

    async def drop_binds(self, system_id: str | None = None) -> int:
        """Fault: cut every bound connection (of one account); returns how many."""
        return await self._each(Link.drop, system_id)

    async def unbind_clients(self, system_id: str | None = None, grace: float = 5.0) -> int:
        """Unbind every bound client (of one account), as on shutdown; returns how many."""

        async def unbind(link: Link) -> None:
            await link.unbind(grace)

        return await self._each(unbind, system_id)

    async def fault_unbind(self, system_id: str | None = None) -> int:
        """Fault: unbind every bound client (counted as a fault)."""
        return await self._each(Link._fault_unbind, system_id)

    def send_malformed(self, system_id: str | None = None) -> int:
        """Fault: send one malformed PDU on every bound connection; returns how many."""
        links = self.bound_links(system_id)
        for link in links:
            link.send_malformed()
        return len(links)

    def refuse_binds(self, seconds: float) -> None:
        """Fault: refuse every bind for the next ``seconds``."""
        self.carrier.refuse_binds(seconds, trio.current_time())

    async def run_script(self, steps: list[FaultStep]) -> None:
        """Apply scripted faults at their times (seconds after the simulator started)."""
        for step in sorted(steps, key=lambda s: s.at):
            await trio.sleep_until(self.started_at + step.at)
            account = step.account or None
            if step.action == "drop_binds":
                await self.drop_binds(account)
            elif step.action == "unbind":
                await self.fault_unbind(account)
            elif step.action == "malformed":
                self.send_malformed(account)
            elif step.action == "refuse_binds":
                self.refuse_binds(step.duration)
            else:
                self.carrier.set(step.field, step.value)

    async def shutdown(self, grace: float = 5.0) -> None:
        """Clean stop: unbind every client (at most ``grace`` seconds each)."""
        await self.unbind_clients(grace=grace)


@asynccontextmanager
async def open_simulator(config: SimulatorConfig | None = None) -> AsyncIterator[Simulator]:
    """Run a simulator (scheduler, TV mode, fault script) for the duration of the block."""
    config = config or SimulatorConfig()
    async with trio.open_nursery() as nursery:
        sim = Simulator(config, nursery)
        nursery.start_soon(sim.centre.scheduler.run)
        if config.tv.enabled:
            sim.start_tv()
        if config.faults.script:
            nursery.start_soon(sim.run_script, config.faults.script)
        try:
            yield sim
        finally:
            nursery.cancel_scope.cancel()
