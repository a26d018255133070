"""The inbound path: MO recorded before the answer, redeliveries, multi-part, receipts."""

from __future__ import annotations

import trio

from counters import Lane, OutboundMessage, Store, StoreConfig, open_store
from engine.app import LoggingRouter, open_engine
from engine.config import parse_config
from engine.metrics import Metrics
from smpp.receipt import normalise_message_id
from smpp.simulator.config import (
    AccountConfig,
    DeliveryConfig,
    HandsetConfig,
    ReceiptConfig,
    SimulatorConfig,
)
from smpp.simulator.handsets import Reply
from smpp.simulator.ledger import Kind, Record
from smpp.simulator.server import Simulator, open_simulator
from tests.engine.support import Rig, rig, wait_finished
from tests.redis_support import PrivateRedis
from tests.waiting import wait_for


def sim_config(**receipts: object) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(**receipts) if receipts else ReceiptConfig(enabled=False),  # type: ignore[arg-type]
        delivery=DeliveryConfig(response_timeout=1.0, retry_initial=0.2, retry_max=0.5,
                                max_attempts=50),
        handsets=HandsetConfig(count=1000, reply_probability=0.0, stranger_probability=0.0),
    )  # fmt: skip


def send_mo(sim: Simulator, number: int, text: str) -> None:
    reply = Reply(0.0, Kind.JA, text, number)
    sim.centre.send_mo(sim.account("ja"), reply, "4777", (0, 0), trio.current_time())


def routed(r: Rig) -> list[tuple[str, str]]:
    router = r.engine.router
    assert isinstance(router, LoggingRouter)
    return [(record.source, record.text) for record in router.seen]


async def test_mo_is_normalised_recorded_and_routed(store: Store) -> None:
    async with rig(store, sim_config()) as r:
        send_mo(r.sim, 31612345678, "Ja!")
        await r.wait_routed(1)
        assert routed(r) == [("+31612345678", "Ja!")]


async def test_multi_part_mo_is_reassembled(store: Store) -> None:
    text = "Ik teken graag, en ik wil ook weten hoe het afloopt met deze gevangene. " * 4
    async with rig(store, sim_config()) as r:
        send_mo(r.sim, 31612345679, text)
        await r.wait_routed(1)
        assert routed(r) == [("+31612345679", text)]


async def test_redelivery_is_not_acted_on_twice(store: Store) -> None:
    async with rig(store, sim_config()) as r:
        send_mo(r.sim, 31612345670, "JA")
        send_mo(r.sim, 31612345670, "JA")
        send_mo(r.sim, 31612345671, "JA")
        await r.settle_inbound(3)  # all three answered, all that was recorded routed
        assert sorted(routed(r)) == [("+31612345670", "JA"), ("+31612345671", "JA")]
        assert r.inbound("redelivery") == 1


async def test_mo_while_redis_is_down_is_recorded_on_redelivery(
    private_redis: PrivateRedis,
) -> None:
    config = StoreConfig(url=private_redis.url, namespace="inbound")
    async with open_store(config) as store, rig(store, sim_config()) as r:
        private_redis.kill()
        send_mo(r.sim, 31612345672, "JA")
        await wait_for(
            lambda: r.sim.stats.deliveries["retried"] >= 1,
            on=r.sim.centre.changed,
            what="the deliver_sm refused and retried",
        )
        assert routed(r) == []
        store_errors = r.metrics.registry.get_sample_value(
            "ja_engine_store_unavailable_total", {"where": "inbox"}
        )
        assert store_errors is not None
        assert store_errors >= 1
        private_redis.start()
        await r.wait_routed(1)
        assert routed(r) == [("+31612345672", "JA")]


async def test_receipts_update_status_and_mark_dead_numbers(store: Store) -> None:
    sim = sim_config(delay=0.0, jitter=0.0, outcomes={"UNDELIV": 1.0})
    async with rig(store, sim) as r:
        message = OutboundMessage(ref="x1", to="+31600000005", text="appeal")
        await store.queues.push(Lane.BULK, message)
        await r.wait_delivered(1, timeout=10)
        (record,) = r.sim.ledger.received(31600000005)
        assert record.message_id is not None
        message_id = normalise_message_id(record.message_id)
        # The receipt follows the submit_sm_resp, which taught the inbox the message id: it
        # is applied before it is answered.
        await r.wait_answered(1)
        assert await store.deliveries.undeliverable("+31600000005") is not None
        status = await store.deliveries.status(message_id)
        assert status is not None
        assert status[0] == "UNDELIVERABLE"
        receipts = r.metrics.registry.get_sample_value(
            "ja_inbox_receipts_total", {"carrier": "sim", "state": "UNDELIVERABLE"}
        )
        assert receipts == 1


async def test_a_flooding_number_is_limited(store: Store) -> None:
    """30 messages from one number, with a token every 1,000 s after a burst of 10: the burst
    goes through, the rest is counted as a flood, and another number is not held up."""
    extra = "[inbox]\nper_number_rate = 0.001\nper_number_burst = 10"
    async with rig(store, sim_config(), extra=extra) as r:
        for i in range(30):
            send_mo(r.sim, 31612345673, f"JA {i}")
        send_mo(r.sim, 31612345674, "JA")
        await r.settle_inbound(31)
        from_flooder = [text for source, text in routed(r) if source == "+31612345673"]
        assert len(from_flooder) == 10
        assert ("+31612345674", "JA") in routed(r)
        assert r.inbound("flood") == 20


async def test_reply_goes_back_through_the_carrier_the_subscriber_wrote_in_on(
    store: Store,
) -> None:
    sim = SimulatorConfig(
        port=0,
        accounts=[
            AccountConfig(system_id="ja", password="pw"),
            AccountConfig(system_id="jb", password="pw"),
        ],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=1000, reply_probability=0.0, stranger_probability=0.0),
    )
    async with open_simulator(sim) as simulator:
        _, port = await simulator.listen("127.0.0.1", 0)
        config = parse_config(
            f"""
short_code = "4777"
[redis]
namespace = "{store.keys.namespace}"
[routing]
default_carrier = "a"
[carriers.a]
[[carriers.a.binds]]
name = "a-1"
port = {port}
system_id = "ja"
password = "pw"
[carriers.b]
[[carriers.b.binds]]
name = "b-1"
port = {port}
system_id = "jb"
password = "pw"
"""
        )
        metrics = Metrics()
        async with open_engine(config, store=store, metrics=metrics) as engine:
            with trio.fail_after(10):
                await engine.wait_bound()
            subscriber = await store.subscribers.id("+31612345675")
            reply = Reply(0.0, Kind.JA, "JA", 31612345675)
            simulator.centre.send_mo(
                simulator.account("jb"), reply, "4777", (0, 0), trio.current_time()
            )
            with trio.fail_after(10):  # routes are noted before the router acknowledges
                await engine.router_loop.wait_routed(1)
            assert await store.subscribers.route(subscriber) == "b/b-1"
            thanks = OutboundMessage(
                ref="t1", to="+31612345675", text="Dank je", subscriber=subscriber
            )
            await store.queues.push(Lane.TRANSACTIONAL, thanks)

            def thanked() -> list[Record]:
                return [r for r in simulator.ledger.received(31612345675) if r.text == "Dank je"]

            await wait_for(lambda: bool(thanked()), on=simulator.centre.changed, what="thanked")
            # With the campaigns' own answer to the JA, every message to the number written back
            sent = len(simulator.ledger.received(31612345675))
            await wait_finished(engine, metrics, sent, lane=Lane.TRANSACTIONAL)
            (record,) = thanked()
            assert record.message_id is not None
            hit = await store.deliveries.find_sent([normalise_message_id(record.message_id)])
            assert hit is not None
            assert hit[1].bind == "b-1"
