"""``ja-engine demo``: the simulator and the engine, end to end, in one process.

Starts the SMSC simulator on a free loopback port, runs the engine against it (Redis from
``REDIS_URL``, or the embedded server), queues one message to each of a few hundred handsets,
and prints what happened: submits, receipts, replies recorded, and the simulator's ledger.
"""

from __future__ import annotations

import argparse
import time

import trio

from counters import Lane, OutboundMessage
from engine.app import open_engine
from engine.config import parse_config
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.server import open_simulator

__all__ = ["main"]

_CONFIG = """
short_code = "4777"
[redis]
namespace = "{namespace}"
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = {port}
system_id = "ja"
password = "secret"
window = 256
rate = {rate}
burst = 50
"""


async def _demo(recipients: int, rate: float) -> None:
    sim_config = SimulatorConfig(
        port=0,
        time_compression=600.0,
        accounts=[AccountConfig(system_id="ja", password="secret", tps=rate * 2)],
        receipts=ReceiptConfig(delay=0.5, jitter=0.5),
        handsets=HandsetConfig(count=10_000, reply_probability=0.6, delay_min=1.0),
    )
    async with open_simulator(sim_config) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        namespace = f"demo{int(time.time())}"
        config = parse_config(_CONFIG.format(port=port, rate=rate, namespace=namespace))
        async with open_engine(config) as engine:
            with trio.fail_after(10):
                await engine.wait_bound()
            print(f"simulator on 127.0.0.1:{port}; engine bound")
            start = trio.current_time()
            for i in range(recipients):
                number = f"+{31600000000 + i}"
                text = "Urgent Action: stop the torture of a prisoner. Reply JA to sign."
                message = OutboundMessage(ref=f"demo-{i}", to=number, text=text, kind="appeal")
                await engine.store.queues.push(Lane.BULK, message)
            for _ in range(300):  # at most 30 s
                if sim.ledger.count() >= recipients:
                    break
                await trio.sleep(0.1)
            elapsed = trio.current_time() - start
            print(f"sent {recipients} appeals in {elapsed:.2f} s")
            await trio.sleep(3)
            print(f"simulator ledger: {sim.ledger.summary()}")
            receipts = {
                sample.labels["state"]: int(sample.value)
                for metric in engine.metrics.receipts.collect()
                for sample in metric.samples
                if sample.name.endswith("_total")
            }
            print(f"delivery receipts recorded: {receipts}")
            inbound = getattr(engine.router, "seen", [])
            print(f"replies recorded by the engine: {len(inbound)}")
            for record in inbound[:5]:
                print(f"  {record.source}: {record.text!r}")


def main(args: argparse.Namespace | None = None) -> int:
    recipients = getattr(args, "recipients", None) or 300
    rate = getattr(args, "rate", None) or 500.0
    trio.run(_demo, recipients, rate)
    return 0
