"""Carrier behaviour in virtual time: throttling, the per-bind window, faults on demand."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from smpp.constants import CommandStatus
from smpp.pdu import BindTransceiver, DeliverSM, GenericNack, SubmitSM, SubmitSMResp
from smpp.receipt import receipt_from_fields
from smpp.simulator import FaultStep, SecondCounts, SlidingWindow, TokenBucket, open_simulator
from smpp.transport import BindError, Connection, ResponseTimeout
from tests.simulator.helpers import FIRST, Inbox, esme, make_config

Clock = trio.testing.MockClock


def submit(i: int = 0) -> SubmitSM:
    return SubmitSM(source_addr="4000", destination_addr=str(FIRST + i), short_message=b"x")


async def flood(conn: Connection, n: int) -> list[int]:
    """Send ``n`` submits as fast as the window allows; their command_status values."""
    statuses: list[int] = []

    async def one(i: int) -> None:
        statuses.append((await conn.request(submit(i))).command_status)

    async with trio.open_nursery() as nursery:
        for i in range(n):
            nursery.start_soon(one, i)
    return statuses


# --- the pure pieces --------------------------------------------------------------------------


def test_token_bucket_allows_burst_then_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=5.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    # From t=1 with a full bucket: the burst of 5, then 10/s for the 0.99 s that follow.
    assert sum(bucket.take(t / 100) for t in range(100, 200)) == 5 + 9


def test_sliding_window_never_lets_more_than_limit_into_any_second() -> None:
    window = SlidingWindow(limit=3)
    times = [0.0, 0.1, 0.2, 0.3, 0.99, 1.0, 1.05, 1.1, 1.2, 2.0]
    admitted = [t for t in times if window.take(t)]
    assert admitted == [0.0, 0.1, 0.2, 1.0, 1.1, 1.2, 2.0]
    for t in admitted:
        assert sum(t <= u < t + 1 for u in admitted) <= 3


def test_second_counts() -> None:
    counts = SecondCounts()
    for t in (0.1, 0.5, 1.2, 1.3, 1.9, 5.0):
        counts.add(t)
    assert counts.snapshot() == {0: 2, 1: 3, 5: 1}


# --- throttling and window through the server -------------------------------------------------


async def test_throttle_above_tps(autojump_clock: Clock) -> None:
    config = make_config(accounts=[{"system_id": "ja", "password": "pw", "tps": 100}])
    async with open_simulator(config) as sim, esme(sim, window=500) as (conn, _):
        statuses = await flood(conn, 500)
        account = sim.account()
        assert statuses.count(CommandStatus.ESME_RTHROTTLED) == account.throttled
        assert statuses.count(0) == account.submitted
        assert 100 <= account.submitted <= 110  # the one-second burst, nothing more
        assert sim.stats.messages == account.submitted


@pytest.mark.slow
async def test_paced_client_is_never_throttled(autojump_clock: Clock) -> None:
    config = make_config(accounts=[{"system_id": "ja", "password": "pw", "tps": 50}])
    async with open_simulator(config) as sim, esme(sim) as (conn, _):
        start = trio.current_time()
        for i in range(500):
            await trio.sleep_until(start + i / 50)
            assert (await conn.request(submit(i))).command_status == 0
        assert sim.account().throttled == 0
        assert trio.current_time() - start == pytest.approx(9.98, abs=0.01)


async def test_strict_mode_counts_every_second(autojump_clock: Clock) -> None:
    accounts = [{"system_id": "ja", "password": "pw", "tps": 20, "strict": True}]
    async with open_simulator(make_config(accounts=accounts)) as sim, esme(sim) as (conn, _):
        start = trio.current_time()
        for i in range(100):  # 25/s: 5 too many each second
            await trio.sleep_until(start + i / 25)
            await conn.request(submit(i))
        per_second = sim.account().submits_per_second()
        assert max(per_second.values()) <= 20
        assert sum(per_second.values()) == sim.account().submitted
        assert sim.account().throttled == 100 - sim.account().submitted >= 16


async def test_window_overflow_gets_rmsgqful(autojump_clock: Clock) -> None:
    config = make_config(
        accounts=[{"system_id": "ja", "password": "pw", "window": 10}],
        faults={"response_delay": 1.0},
    )
    async with open_simulator(config) as sim, esme(sim, window=30) as (conn, _):
        statuses = await flood(conn, 30)
        assert statuses.count(CommandStatus.ESME_RMSGQFUL) == 20
        assert sim.account().queue_full == 20
        assert statuses.count(0) == 10
        assert sim.stats.faults["delayed"] == 10  # refusals go out at once


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_generic_nack_and_error_fractions(autojump_clock: Clock) -> None:
    config = make_config(faults={"generic_nack_fraction": 0.2, "error_fraction": 0.1})
    async with open_simulator(config) as sim, esme(sim, window=200) as (conn, _):
        results = []

        async def one(i: int) -> None:
            results.append(await conn.request(submit(i)))

        async with trio.open_nursery() as nursery:
            for i in range(1000):
                nursery.start_soon(one, i)
        nacks = [r for r in results if isinstance(r.response, GenericNack)]
        errors = [r for r in results if r.command_status == CommandStatus.ESME_RSYSERR]
        assert len(nacks) == sim.stats.faults["generic_nack"]
        assert 150 < len(nacks) < 250
        assert len(errors) - len(nacks) == sim.stats.faults["error_status"]
        assert 60 < sim.stats.faults["error_status"] < 140


async def test_withheld_answers_time_out(autojump_clock: Clock) -> None:
    config = make_config(faults={"withhold_fraction": 1.0})
    async with open_simulator(config) as sim, esme(sim, response_timeout=3.0) as (conn, _):
        with pytest.raises(ResponseTimeout):
            await conn.request(submit())
        assert sim.stats.faults["withheld"] == 1


async def test_drop_bind_after_messages(autojump_clock: Clock) -> None:
    config = make_config(faults={"drop_bind_after_messages": 3})
    async with open_simulator(config) as sim, esme(sim, response_timeout=3.0) as (conn, _):
        for i in range(3):
            assert (await conn.request(submit(i))).command_status == 0
        with pytest.raises(Exception):  # noqa: B017,PT011 - ConnectionLost or ResponseTimeout
            await conn.request(submit(3))
        await conn.wait_closed()
        assert sim.stats.faults["dropped_bind"] == 1


async def test_drop_and_unbind_after_seconds(autojump_clock: Clock) -> None:
    config = make_config(faults={"drop_bind_after_seconds": 5.0})
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        await conn.wait_closed()
        assert trio.current_time() == pytest.approx(5.0, abs=0.1)
        assert sim.stats.faults["dropped_bind"] == 1
        assert inbox.others == []
    config = make_config(faults={"unbind_after_seconds": 7.0})
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        start = trio.current_time()
        await conn.wait_closed()
        assert trio.current_time() - start == pytest.approx(7.0, abs=0.1)
        assert [type(p).__name__ for p in inbox.others] == ["Unbind"]
        assert sim.stats.faults["unbind"] == 1


async def test_refuse_binds_for_a_while(autojump_clock: Clock) -> None:
    config = make_config(faults={"refuse_binds_for": 10.0})
    async with open_simulator(config) as sim:
        async with esme(sim, bind=None) as (conn, _):
            with pytest.raises(BindError) as info:
                await conn.bind(BindTransceiver(system_id="ja", password="pw"))
            assert info.value.status == CommandStatus.ESME_RBINDFAIL
        await trio.sleep(10)
        async with esme(sim) as (conn, _):
            assert conn.session.is_bound()
        assert sim.stats.faults["refused_bind"] == 1
        assert sim.stats.binds == {"refused": 1, "ok": 1}


async def test_malformed_pdu_reaches_the_client(autojump_clock: Clock) -> None:
    config = make_config(faults={"malformed_after_messages": 2})
    async with open_simulator(config) as sim, esme(sim) as (conn, _):
        for i in range(3):
            await conn.request(submit(i))
        await trio.sleep(1)
        assert conn.rejected_pdus == 1  # our client answered it with an error, link intact
        assert sim.stats.faults["malformed"] == 1
        assert sim.send_malformed() == 1
        await trio.sleep(1)
        assert conn.rejected_pdus == 2
        assert (await conn.request(submit(9))).command_status == 0


async def test_scripted_faults(autojump_clock: Clock) -> None:
    script = [
        FaultStep(at=5.0, action="set", field="error_fraction", value=1.0),
        FaultStep(at=10.0, action="set", field="error_fraction", value=0.0),
        FaultStep(at=20.0, action="drop_binds"),
    ]
    async with open_simulator(make_config(faults={"script": script})) as sim:
        async with esme(sim) as (conn, _):
            statuses = []
            for second in range(19):
                await trio.sleep_until(sim.started_at + second + 0.5)
                statuses.append((await conn.request(submit(second))).command_status)
            await conn.wait_closed()
            assert trio.current_time() - sim.started_at == pytest.approx(20.0, abs=0.1)
        assert statuses == [0] * 5 + [CommandStatus.ESME_RSYSERR] * 5 + [0] * 9
        assert sim.stats.faults["error_status"] == 5
        assert sim.stats.faults["dropped_bind"] == 1


async def test_fault_settings_are_checked(autojump_clock: Clock) -> None:
    async with open_simulator(make_config()) as sim:
        with pytest.raises(ValueError, match="no setting"):
            sim.carrier.set("nonsense", 1)
        with pytest.raises(ValueError, match="generic_nack_fraction"):
            sim.carrier.set("generic_nack_fraction", 2.0)


async def test_late_answers_are_reordered_and_receipts_overtake_them(
    autojump_clock: Clock,
) -> None:
    """response_delay with jitter answers out of order; a receipt due before the answer goes
    out first. Both are counted, so a test of the ESME can show it met them."""
    config = make_config(
        receipts={"delay": 0.0, "jitter": 0.0, "outcomes": {"DELIVRD": 1.0}},
        faults={"response_delay": 1.0, "response_jitter": 2.0},
    )
    answered: dict[str, int] = {}
    early: list[bool] = []

    def on_receipt(pdu: DeliverSM) -> int:
        receipt = receipt_from_fields(pdu.short_message, {t.tag: t.value for t in pdu.tlvs})
        assert receipt is not None
        early.append(receipt.message_id not in answered)
        return 0

    async with open_simulator(config) as sim, esme(sim, inbox=Inbox(on_receipt)) as (conn, inbox):
        order: list[int] = []

        async def one(i: int) -> None:
            outcome = await conn.request(registered(i))
            assert isinstance(outcome.response, SubmitSMResp)
            answered[outcome.response.message_id] = i
            order.append(i)

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(one, i)
                await trio.sleep(0.01)
        await inbox.wait_for(20)
        assert early == [True] * 20
        assert sim.stats.faults["early_receipt"] == 20
        assert order != sorted(order)
        assert sim.stats.faults["reordered_response"] > 0
        assert not sim.centre.held_responses


def registered(i: int) -> SubmitSM:
    """A submit that asks for its receipt."""
    return SubmitSM(
        source_addr="4000",
        destination_addr=str(FIRST + i),
        short_message=b"x",
        registered_delivery=1,
    )
