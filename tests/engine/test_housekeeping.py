"""Failures contained: housekeeping through a Redis outage; the carrier's receipt words as
metric labels (a fixed set); nothing from the wire unescaped in a log."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from counters import InboundRecord, SentRecord, Store, StoreConfig, open_store
from engine.app import Engine
from engine.campaigns.router import CampaignRouter
from engine.config import parse_config
from engine.inbox import Inbox
from engine.metrics import Metrics
from engine.routers import LoggingRouter, RouterContext
from smpp.constants import EsmClass, MessageState
from smpp.pdu import DeliverSM
from smpp.receipt import Receipt
from tests.redis_support import PrivateRedis
from tests.waiting import poll_for

CONFIG = """
short_code = "4777"
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
system_id = "ja"
password = "pw"
"""


async def test_late_receipts_wait_out_an_outage(private_redis: PrivateRedis) -> None:
    store_config = StoreConfig(url=private_redis.url, namespace="hk", socket_timeout=0.5,
                               connect_timeout=0.5)  # fmt: skip
    async with open_store(store_config) as store:
        engine = Engine(parse_config(CONFIG), store, Metrics(), LoggingRouter)
        record = SentRecord(ref="r1", to="+31600000001", lane="bulk", bind="sim-1")
        receipt = Receipt(message_id="abc", state=MessageState.UNDELIVERABLE, stat="UNDELIV")
        engine.inbox._late.append((receipt, record))
        private_redis.kill()
        await engine.housekeep()  # before the fix: StoreUnavailable, and the engine died
        assert engine.inbox._late == [(receipt, record)]  # kept for the next round
        private_redis.start()

        async def applied() -> bool:  # the store reconnects to the restarted server
            await engine.housekeep()
            return not engine.inbox._late

        await poll_for(applied, timeout=20, what="the late receipt applied")
        assert await store.deliveries.undeliverable("+31600000001") == "UNDELIV err:"


async def test_receipt_states_from_the_wire_stay_a_fixed_set(store: Store) -> None:
    """5,000 made-up ``stat:`` words make one "OTHER" series, not 5,000."""
    metrics = Metrics()
    inbox = Inbox(store, parse_config(CONFIG), metrics)
    bind = SimpleNamespace(carrier="sim", name="sim-1")
    pdus = [
        DeliverSM(
            source_addr="31600000001",
            destination_addr="4777",
            esm_class=int(EsmClass.SMSC_DELIVERY_RECEIPT),
            short_message=f"id:{n:x} sub:001 dlvrd:001 stat:MADE{n} err:000 text:".encode(),
        )
        for n in range(5000)
    ]
    await inbox._receipts(bind, pdus)  # type: ignore[arg-type]
    states = {
        sample.labels["state"]
        for family in metrics.receipts.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert states == {"OTHER"}
    assert await store.deliveries.status("1") == ("OTHER", "000")


async def test_nothing_from_the_wire_reaches_a_log_unescaped(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A sender or a text with a newline cannot forge a log line; numbers are masked."""
    config = parse_config(CONFIG)
    context = RouterContext(store, config, Metrics())

    def record(source: str, text: str) -> InboundRecord:
        return InboundRecord(source=source, destination="4777", text=text, carrier="sim",
                             bind="sim-1", received_at=1.0)  # fmt: skip

    batch = [
        ("1-1", record("EVIL\nINFO fake line", "hi")),
        ("1-2", record("+31612345678", "JA\nERROR forged")),
        ("1-3", record("+31612345679", "Wie is dit?\r\nWARNING forged")),
    ]
    with caplog.at_level(logging.INFO):
        await LoggingRouter(context).route(batch, again=False)
        await CampaignRouter(context).route(batch, again=False)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) >= 4
    assert not [m for m in messages if "\n" in m or "\r" in m]
    assert not [m for m in messages if "+31612345678" in m or "+31612345679" in m]
    assert any("+3161234****" in m for m in messages)
