"""Structured logs: JSON lines with their fields, and never a whole phone number at INFO."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trio

from counters import Store
from engine.logs import JsonFormatter, make_handler
from engine.routers import LoggingRouter
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.handsets import Reply
from smpp.simulator.ledger import Kind
from smpp.simulator.server import Simulator
from tests.engine.support import rig

STRANGER = 31612345678
"""A number outside the simulator's population that writes in."""
HANDSET = 31600000007
"""A handset in the population (first_number + 7) that gets a message and writes back."""


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=100, reply_probability=0.0, stranger_probability=0.0),
    )


def send_mo(sim: Simulator, number: int, text: str) -> None:
    reply = Reply(0.0, Kind.JA, text, number)
    sim.centre.send_mo(sim.account("ja"), reply, "4777", (0, 0), trio.current_time())


@contextmanager
def json_logs(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """Everything logged at ``level`` or above in the block, as JSON lines."""
    out = io.StringIO()
    handler = make_handler("json", out)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_a_json_line_has_the_fields_and_the_extras() -> None:
    record = logging.LogRecord(
        "engine.bind", logging.WARNING, __file__, 1, "bind %s down", ("b1",), None
    )
    record.carrier, record.bind = "kpn", "b1"
    line = json.loads(JsonFormatter().format(record))
    assert line.pop("ts").endswith("Z")
    assert line == {
        "level": "WARNING",
        "logger": "engine.bind",
        "message": "bind b1 down",
        "carrier": "kpn",
        "bind": "b1",
    }


def test_an_exception_goes_in_its_own_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exc"]


@pytest.mark.parametrize("router", [None, LoggingRouter], ids=["campaigns", "log"])
async def test_a_flow_logged_at_info_as_json_shows_no_whole_number(
    store: Store, router: type[LoggingRouter] | None
) -> None:
    """Binding, sending, and inbound messages through the campaign router (or the logging
    one), logged at INFO as JSON: every line parses, the numbers that wrote in appear
    masked, never whole."""
    with json_logs() as out:
        async with rig(store, sim_config(), router=router) as r:
            await r.push(10)
            send_mo(r.sim, STRANGER, "Wat is dit voor?")
            send_mo(r.sim, HANDSET, "Wie stuurt dit?")
            send_mo(r.sim, HANDSET + 1, "STOP")
            await r.settle(10)
            await r.settle_inbound(3)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= set(line)
    text = out.getvalue()
    for number in (STRANGER, HANDSET, HANDSET + 1, *(31600000000 + i for i in range(10))):
        assert str(number) not in text, number
    assert "+3161234****" in text
    up = next(line for line in lines if line["message"].startswith("bind sim-1 up"))
    assert (up["carrier"], up["bind"]) == ("sim", "sim-1")
