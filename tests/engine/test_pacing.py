"""The outbound pacing in virtual time: the outbox's sender, real binds and the simulator's
strict accounts over memory streams, on ``autojump_clock``, with no Redis on the send path.

A strict carrier throttles any submit that would put more than its rate in any one-second
window of its own clock. Here that clock is ours and the network adds no delay, so the
result is exact: the rate is never exceeded over any window, and it is reached (less the
engine's documented margin, ``engine.ratelimit``), however slow the machine running it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import pytest
import trio
import trio.testing

from counters import Lane, OutboundMessage, Store
from engine.bind import BindListener, CarrierBind
from engine.lanes import InFlight
from engine.metrics import Metrics
from engine.outbox import Outbox
from engine.pool import CarrierPool
from smpp.segment import split_message
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.ledger import Kind
from smpp.simulator.server import Simulator, open_simulator
from smpp.state import Role
from smpp.transport import LinkOptions, open_connection
from tests.engine.support import engine_config
from tests.waiting import wait_for


class Attempts:
    """The Redis calls of the send path (recording the attempts, then the fates and the
    carrier ids), answered at once: a message holds its window slot until its fate is
    written, so the write-back runs here too."""

    async def mark_attempts(self, attempts: object) -> None:
        await trio.lowlevel.checkpoint()

    async def record_sent(self, records: object) -> None:
        await trio.lowlevel.checkpoint()

    async def finish(self, lane: object, entry_ids: object) -> None:
        await trio.lowlevel.checkpoint()


class NoRedis:
    """Stands in for the ``Store`` where the outbox's sender needs it."""

    deliveries = Attempts()


class Listener(BindListener):
    def __init__(self) -> None:
        self.changed = trio.lowlevel.ParkingLot()

    def bind_up(self, bind: CarrierBind) -> None:
        self.changed.unpark_all()


async def serve(bind: CarrierBind, sim: Simulator) -> None:
    """The bind's own bind-and-serve, over an in-memory connection to the simulator."""
    options = LinkOptions(window=bind.config.window, response_timeout=bind.config.response_timeout)
    async with open_connection(sim.connect_memory(), Role.ESME, options) as conn:
        await bind._serve(conn)


def strict_sim(system_ids: list[str], tps: int) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id=s, password="pw", tps=tps, strict=True)
                  for s in system_ids],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=200_000, reply_probability=0.0, stranger_probability=0.0),
    )  # fmt: skip


@asynccontextmanager
async def sending(
    sim: Simulator, system_ids: list[str], rate: float, burst: int
) -> AsyncIterator[tuple[Outbox, CarrierPool]]:
    """Binds up on ``sim`` and an outbox whose sender for carrier "sim" runs."""
    config = engine_config(2775, "pacing", system_ids=system_ids, rate=rate, burst=burst)
    listener = Listener()
    binds = [CarrierBind(cfg, "sim", listener) for cfg in config.carriers["sim"].binds]
    pool = CarrierPool("sim", binds)
    outbox = Outbox(cast(Store, NoRedis()), {"sim": pool}, config, Metrics(), consumer="pacing")
    async with trio.open_nursery() as nursery:
        for bind in binds:
            nursery.start_soon(serve, bind, sim)
        await wait_for(lambda: all(b.is_up() for b in binds), on=listener.changed, what="bound")
        nursery.start_soon(outbox.writeback.run)
        nursery.start_soon(outbox._sender, outbox.queues["sim"], pool, nursery)
        yield outbox, pool
        nursery.cancel_scope.cancel()


def queue_messages(outbox: Outbox, count: int, text: str) -> int:
    """``count`` messages of ``text`` in carrier "sim"'s queue; returns the parts of each."""
    parts = split_message(text, reference=1)
    short_messages = [p.short_message for p in parts]
    for i in range(count):
        message = OutboundMessage(ref=f"m{i}", to=f"+{31600000000 + i}", text=text)
        coding, udhi = parts[0].data_coding, parts[0].esm_class_udhi
        item = InFlight(Lane.BULK, f"0-{i}", message, "sim", short_messages, coding, udhi, 0.0)
        outbox.queues["sim"].put(item)
    return len(parts)


def most_in_any_second(times: list[float]) -> int:
    """The most submits in any half-open one-second window (t - 1, t]."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


CASES = {
    "two binds, one part": (["ja1", "ja2"], 1000, 10, 6000, "Urgent Action: reply JA"),
    "one bind, three parts": (["ja1"], 100, 5, 200, "Urgent Action " * 30),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_rate_is_held_over_every_window_and_reached(
    autojump_clock: trio.testing.MockClock, case: str
) -> None:
    system_ids, rate, burst, count, text = CASES[case]
    async with (
        open_simulator(strict_sim(system_ids, rate)) as sim,
        sending(sim, system_ids, float(rate), burst) as (outbox, _),
    ):
        parts = queue_messages(outbox, count, text)
        start = trio.current_time()
        total = count * parts
        await wait_for(
            lambda: sim.ledger.count(Kind.MT) >= total,
            on=sim.centre.changed,
            timeout=10 * total / (rate * len(system_ids)),
            what=f"{total} submits accepted",
        )
        elapsed = trio.current_time() - start
    for system_id in system_ids:
        account = sim.account(system_id)
        assert account.throttled == 0  # the carrier's own sliding window: never exceeded
        assert max(account.submits_per_second().values()) <= rate
    times = [record.t for record in sim.ledger]
    assert len(times) == total
    assert most_in_any_second(times) <= rate * len(system_ids)
    # Reached: after the first second (the burst, then the bucket) each bind fills every
    # window of 1.03 s (the engine's 3 % margin for network jitter) with as many whole
    # messages as fit, and takes no more time.
    span = 1.03
    per_window = rate // parts * parts
    per_bind = total / len(system_ids)
    assert elapsed <= 1.0 + (per_bind - per_window) / per_window * span + 0.01, elapsed
