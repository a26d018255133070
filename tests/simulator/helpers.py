"""A small simulator configuration and an ESME client over memory streams, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter, DeliverSM, DeliverSMResp, Pdu
from smpp.simulator import SimulatorConfig
from smpp.simulator.server import Simulator
from smpp.state import Role
from smpp.transport import Connection, InboundRequest, LinkOptions, open_connection

FIRST = 31600000000
"""The number of handset 0 in ``make_config``."""

QUIET: dict[str, Any] = {
    "reply_probability": 0.0,
    "stop_probability": 0.0,
    "help_probability": 0.0,
    "unrelated_probability": 0.0,
    "long_probability": 0.0,
    "duplicate_probability": 0.0,
    "stranger_probability": 0.0,
}


WHOLE = frozenset({"outcomes", "variants", "keywords"})
"""Tables that an override replaces rather than merges into."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in WHOLE:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_config(**overrides: Any) -> SimulatorConfig:
    """1,000 silent handsets, one account ja/pw, receipts all DELIVRD after exactly 1 s."""
    base: dict[str, Any] = {
        "accounts": [{"system_id": "ja", "password": "pw"}],
        "handsets": {"count": 1000, "first_number": str(FIRST), **QUIET},
        "receipts": {"delay": 1.0, "jitter": 0.0, "outcomes": {"DELIVRD": 1.0}},
        "delivery": {"response_timeout": 5.0, "retry_initial": 2.0},
        "ledger": {"max_records": 100_000},
        "message_store": 10_000,
        "inactivity_timeout": None,
    }
    return msgspec.convert(_merge(base, overrides), SimulatorConfig)


class Inbox:
    """deliver_sm received by a test ESME; ``answer`` picks each command_status."""

    def __init__(self, answer: Callable[[DeliverSM], int] | None = None) -> None:
        self.pdus: list[DeliverSM] = []
        self.others: list[Pdu] = []
        self.answer = answer
        self.arrived = trio.Event()

    def __call__(self, request: InboundRequest) -> None:
        pdu = request.pdu
        if not isinstance(pdu, DeliverSM):
            self.others.append(pdu)
            request.respond()  # unbind: unbind_resp
            return
        status = self.answer(pdu) if self.answer is not None else 0
        if status >= 0:
            request.respond(DeliverSMResp(), status)
        if status == 0:
            self.pdus.append(pdu)
            self.arrived.set()

    @property
    def receipts(self) -> list[DeliverSM]:
        return [p for p in self.pdus if p.esm_class & 0x04]

    @property
    def mo(self) -> list[DeliverSM]:
        return [p for p in self.pdus if not p.esm_class & 0x04]

    async def wait_for(self, n: int) -> None:
        while len(self.pdus) < n:
            self.arrived = trio.Event()
            await self.arrived.wait()


BindClass = type[BindTransmitter] | type[BindReceiver] | type[BindTransceiver]
BINDS: dict[str, BindClass] = {
    "transceiver": BindTransceiver,
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
}


@asynccontextmanager
async def esme(
    sim: Simulator,
    *,
    system_id: str = "ja",
    password: str = "pw",
    bind: str | None = "transceiver",
    inbox: Inbox | None = None,
    window: int = 64,
    response_timeout: float = 10.0,
) -> AsyncIterator[tuple[Connection, Inbox]]:
    """An ESME connected to ``sim`` over memory streams, bound unless ``bind`` is None."""
    inbox = inbox or Inbox()
    options = LinkOptions(window=window, response_timeout=response_timeout)
    stream = sim.connect_memory()
    async with open_connection(stream, Role.ESME, options, handler=inbox) as conn:
        if bind is not None:
            await conn.bind(BINDS[bind](system_id=system_id, password=password))
        yield conn, inbox
