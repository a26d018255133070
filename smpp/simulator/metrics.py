"""The simulator's own Prometheus metrics, read from its counters at scrape time.

The hot path only adds to plain integers (``Stats``, the accounts); this collector turns
them into metric families when Prometheus scrapes, in a registry of the simulator's own so
that it never mixes with the engine's. Names follow ``ja_sim_<noun>_<unit>``; every label
comes from a bounded set (command, direction, result, fault, kind, stat, account).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from smpp.constants import CommandId

if TYPE_CHECKING:
    from smpp.simulator.server import Simulator

__all__ = ["SimulatorCollector", "registry_for", "serve_metrics"]


def _command(cid: int) -> str:
    try:
        return CommandId(cid).name.lower()
    except ValueError:
        return f"0x{cid:08x}"


class SimulatorCollector(Collector):
    """Reads a running simulator's counters."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        sim = self.sim
        stats = sim.stats
        pdus = CounterMetricFamily(
            "ja_sim_pdus", "PDUs by command and direction", labels=["command", "direction"]
        )
        received, sent = sim.pdu_counts()
        for direction, by_command in (("in", received), ("out", sent)):
            for cid, n in sorted(by_command.items()):
                pdus.add_metric([_command(cid), direction], n)
        yield pdus
        for name, doc, label, counts in (
            ("binds", "Bind attempts by result", "result", stats.binds),
            ("faults", "Faults injected, by fault", "fault", stats.faults),
            ("replies", "MO sent by handsets, by kind", "kind", stats.replies),
            ("receipts", "Delivery receipts generated, by stat", "stat", stats.receipts),
            ("deliveries", "deliver_sm outcomes", "result", stats.deliveries),
        ):
            family = CounterMetricFamily(f"ja_sim_{name}", doc, labels=[label])
            for key, n in sorted(counts.items()):
                family.add_metric([key], n)
            yield family
        yield CounterMetricFamily(
            "ja_sim_rejected_pdus", "PDUs answered with generic_nack", value=stats.rejected_pdus
        )
        yield CounterMetricFamily("ja_sim_messages", "Messages accepted", value=stats.messages)
        yield from self._accounts()
        yield GaugeMetricFamily(
            "ja_sim_scheduled_jobs",
            "Receipts, replies and retries waiting",
            value=len(sim.centre.scheduler),
        )
        yield GaugeMetricFamily(
            "ja_sim_ledger_records", "Records in the ledger", value=len(sim.ledger)
        )

    def _accounts(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["account"]
        submitted = CounterMetricFamily(
            "ja_sim_submits_accepted", "Submits accepted", labels=labels
        )
        throttled = CounterMetricFamily(
            "ja_sim_throttled", "Submits answered ESME_RTHROTTLED", labels=labels
        )
        queue_full = CounterMetricFamily(
            "ja_sim_queue_full", "Requests answered ESME_RMSGQFUL", labels=labels
        )
        dropped = CounterMetricFamily(
            "ja_sim_held_dropped", "deliver_sm dropped: hold queue full", labels=labels
        )
        binds = GaugeMetricFamily("ja_sim_binds_active", "Bound connections", labels=labels)
        held = GaugeMetricFamily(
            "ja_sim_held_messages", "deliver_sm waiting to be sent", labels=labels
        )
        for account in self.sim.accounts:
            key = [account.system_id]
            submitted.add_metric(key, account.submitted)
            throttled.add_metric(key, account.throttled)
            queue_full.add_metric(key, account.queue_full)
            dropped.add_metric(key, account.outbox.dropped)
            binds.add_metric(key, account.binds)
            held.add_metric(key, len(account.outbox))
        yield from (submitted, throttled, queue_full, dropped, binds, held)


def registry_for(sim: Simulator) -> CollectorRegistry:
    """A fresh registry holding only this simulator's metrics."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(SimulatorCollector(sim))
    return registry


def serve_metrics(sim: Simulator, port: int, host: str = "127.0.0.1") -> tuple[object, int]:
    """Serve /metrics on ``port`` (0 picks one) in a daemon thread; returns (server, port).

    Call ``server.shutdown()`` to stop it.
    """
    server, _thread = start_http_server(port, addr=host, registry=registry_for(sim))
    return server, server.server_address[1]
