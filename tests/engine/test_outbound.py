"""The outbound path against the simulator over loopback TCP and the real Redis."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
import trio

from counters import Lane, OutboundMessage, Store, StoreConfig, open_store
from engine.bind import NotSent
from smpp.codec import encode_body
from smpp.pdu import SubmitSM
from smpp.receipt import normalise_message_id
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.state import SessionState
from smpp.transport import Outcome
from tests.engine.support import Rig, fill, rig
from tests.redis_support import PrivateRedis
from tests.waiting import wait_for


def quiet_sim(**account: object) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw", **account)],  # type: ignore[arg-type]
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=200_000, reply_probability=0.0, stranger_probability=0.0,
                               stop_probability=0.0, help_probability=0.0,
                               unrelated_probability=0.0, long_probability=0.0),
    )  # fmt: skip


async def test_every_message_delivered_once_and_acknowledged(store: Store) -> None:
    async with rig(store, quiet_sim()) as r:
        await r.push(500)
        await r.settle(500, timeout=20)
        assert r.received(0, 500) == [1] * 500
        assert await store.queues.length(Lane.BULK) == 0
        assert await store.queues.pending(Lane.BULK) == 0
        assert await store.deliveries.in_flight() == 0
        assert r.finished("sent") == 500


async def test_long_text_goes_as_concatenated_parts_on_one_bind(store: Store) -> None:
    async with rig(store, quiet_sim(), binds=2) as r:
        text = "Urgent Action " * 30  # 420 characters: 3 parts of 153
        await store.queues.push(
            Lane.BULK, OutboundMessage(ref="long", to="+31600000007", text=text)
        )
        await r.settle(1)
        parts = r.sim.ledger.received(31600000007)
        assert len(parts) == 3
        assert "".join(p.text for p in parts) == text
        # All parts through one bind: each part's carrier message id maps to the same bind.
        binds: set[str] = set()
        for part in parts:
            assert part.message_id is not None
            hit = await store.deliveries.find_sent([normalise_message_id(part.message_id)])
            assert hit is not None
            binds.add(hit[1].bind)
        assert len(binds) == 1


async def test_a_number_no_submit_sm_can_carry_is_final_and_blocks_nothing(store: Store) -> None:
    async with rig(store, quiet_sim()) as r:
        bad = OutboundMessage(ref="bad", to="+3160000000712345678901", text="Free Ali")  # 22 digits
        await store.queues.push(Lane.BULK, bad)
        long = OutboundMessage(ref="long", to=bad.to, text="Urgent Action " * 30)  # 3 parts
        await store.queues.push(Lane.BULK, long)
        await r.push(20)
        await r.wait_finished(2, "rejected")
        await r.settle(20)
        assert await store.queues.length(Lane.BULK) == 0
        assert r.finished("rejected") == 2
        assert r.received(0, 20) == [1] * 20
        assert await store.deliveries.status("ref:bad") == ("rejected", "")
        assert await store.deliveries.status("ref:long") == ("rejected", "")
        assert r.engine.binds[0].reserved == 0  # its window slot was given back


def store_errors(r: Rig, where: str = "outbox_attempt") -> float:
    value = r.metrics.registry.get_sample_value(
        "ja_engine_store_unavailable_total", {"where": where}
    )
    return value or 0.0


async def test_redis_outage_while_sending_pauses_and_frees_the_window(
    private_redis: PrivateRedis,
) -> None:
    """Messages admitted to the bind whose attempts Redis could not record wait and go later;
    the window slots they held are given back (not leaked until the next reconnect)."""
    config = StoreConfig(url=private_redis.url, namespace="outage")
    async with open_store(config) as store, rig(store, quiet_sim(), rate=100.0, burst=5) as r:
        await r.push(60)
        outbox = r.engine.outbox
        queue = outbox.queues["sim"]  # the reader has them in memory; the bind sends 100/s
        await wait_for(lambda: outbox.backlog_size() >= 20, on=queue.lot, what="20 read")
        private_redis.kill()
        # A batch whose attempts Redis could not record goes back to the queue (unparking
        # its lot) after the error is counted: Redis stays down until that has happened.
        await wait_for(lambda: store_errors(r) >= 1, on=queue.lot, what="an attempt refused")
        private_redis.start()
        await r.settle(60, timeout=20)
        assert r.received(0, 60) == [1] * 60
        assert await store.queues.length(Lane.BULK) == 0
        bind = r.engine.binds[0]
        assert bind.reserved == 0
        assert bind.free_window() == bind.config.window


@pytest.mark.slow
async def test_over_loopback_the_rate_is_never_exceeded(store: Store) -> None:
    """Two binds of 1,000/s each over real TCP: no second of the simulator's per-second
    counts holds more than a bind's rate, give or take what scheduling stalls can bunch up.
    Exact pacing over every window, and reaching the rate, are tested in virtual time
    (``test_pacing``); this checks the real path only for going over, never for speed."""
    sim = SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja1", password="pw"),
                  AccountConfig(system_id="ja2", password="pw")],  # no limit: count everything
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=200_000, reply_probability=0.0, stranger_probability=0.0),
    )  # fmt: skip
    await fill(store, 4000)
    # Engine and simulator share this process: a full garbage collection (60-80 ms here)
    # would hold back the simulator's reads and bunch up its view of the arrival times.
    # Freezing what exists now keeps those pauses short, as `ja-engine run` does.
    gc.collect()
    gc.freeze()
    try:
        async with rig(store, sim, system_ids=["ja1", "ja2"], rate=1000.0, burst=10) as r:
            await r.settle(4000, timeout=60)
    finally:
        gc.unfreeze()
    # A stall between the engine's write and the simulator's read moves sends into the next
    # second of the simulator's clock. The engine's 3 % margin absorbs 30 ms of it; a shared
    # machine can stall longer, so allow 0.1 s of bunching (100 submits): going over by a
    # rate's worth (a window not charged, a burst of the whole backlog) still shows.
    stalls = 0.1
    for system_id in ("ja1", "ja2"):
        per_second = r.sim.account(system_id).submits_per_second()
        assert sum(per_second.values()) > 1000  # more than a second's worth to count
        assert max(per_second.values()) <= 1000 * (1 + stalls), per_second


def one_submit() -> tuple[list[SubmitSM], list[Callable[[Outcome], None]], list[bytes]]:
    """(pdus, callbacks, bodies) of a one-part message, as the outbox hands them to a bind."""
    pdu = SubmitSM(destination_addr="31600000001")
    return [pdu], [lambda outcome: None], [encode_body(pdu)]


async def test_a_bind_that_is_unbinding_takes_no_submit(store: Store) -> None:
    """The carrier sent unbind while a batch waited for Redis: the submit finds the bind down
    (and the outbox queues the message again) instead of failing in the session."""
    async with rig(store, quiet_sim()) as r:
        bind = r.engine.binds[0]
        conn = bind.conn
        assert conn is not None
        now = trio.current_time()
        bind.take(1, now)
        conn.session._set_state(SessionState.UNBINDING)
        pdus, done, bodies = one_submit()
        with pytest.raises(NotSent):
            bind.submit(pdus, done, now, bodies, conn)
        assert bind.reserved == 1  # still reserved: the outbox gives the slot back
        bind.release(1, conn)
        assert bind.reserved == 0


async def test_reservations_belong_to_their_connection(store: Store) -> None:
    """A batch admitted before a reconnect neither sends on the new connection nor gives back
    slots the new connection's own batches reserved."""
    async with rig(store, quiet_sim()) as r:
        bind = r.engine.binds[0]
        old = bind.conn
        assert old is not None
        now = trio.current_time()
        bind.take(2, now)
        await old.aclose()  # the bind reconnects
        await wait_for(
            lambda: bind.conn is not None and bind.conn is not old and bind.is_up(),
            on=r.engine.inbox.changed,  # bind_up and bind_down unpark it
            what="bound again",
        )
        bind.take(3, trio.current_time())
        pdus, done, bodies = one_submit()
        with pytest.raises(NotSent):
            bind.submit(pdus, done, now, bodies, old)
        bind.release(2, old)
        assert bind.reserved == 3


async def test_a_full_window_sends_nothing(store: Store) -> None:
    """An enquire_link (or anything else) took the slot a message had reserved."""
    async with rig(store, quiet_sim(), window=1) as r:
        bind = r.engine.binds[0]
        conn = bind.conn
        assert conn is not None
        conn.session._pending[999] = (SubmitSM(), 0.0, 0x80000004)  # the slot is taken
        pdus, done, bodies = one_submit()
        with pytest.raises(NotSent, match="window"):
            bind.submit(pdus, done, 0.0, bodies, conn)
        del conn.session._pending[999]
