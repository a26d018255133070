"""Every metric the engine exports, in one place (style guide item 18).

Names are ``ja_<subsystem>_<noun>_<unit>``: base units (seconds), ``_total`` on counters and
only there, labels from bounded sets (carrier, bind, command, status, lane, state, kind,
result; appeal ids only for the newest appeals, read from Redis). Children are bound once per
label set and cached, because ``.labels()`` on every update costs 2-3x the update itself.
Label sets known in advance (the configured binds, the results of a JA) are created at zero,
so a series exists before its first event: ``rate()`` sees that event, and a dashboard shows
0 rather than "no data". Redis-held counts (queue lengths, signatures per appeal, fan-out
progress) are read at scrape time by the counters package's collector, never mirrored here.
"""

from __future__ import annotations

import importlib.metadata
import platform
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from smpp.constants import CommandId, CommandStatus

if TYPE_CHECKING:
    from engine.config import BindConfig

__all__ = ["BindCollector", "LatencyHistograms", "Metrics", "status_label"]

_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
)  # fmt: skip
"""Finer around 10 ms, where a submit round-trip objective usually sits."""

_BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
"""Operations per Redis round trip: 1 when idle, up to ``max_batch`` (1000) under load and
more from ``call_many`` (fan-out chunks, bulk imports)."""

_BATCH_SECONDS_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
"""A batch costs a thread hop (0.1-0.2 ms) plus Redis time; over 100 ms Redis is struggling."""

# Each counter and histogram would also be exposed as a ``*_created`` gauge (in the text
# format a series of its own, ``ja_campaign_ja_created`` beside ``ja_campaign_ja_total``):
# twice the series, and names that break the ``_total`` rule. Process-wide, as is the
# library's setting; nothing here reads creation times.
disable_created_metrics()  # type: ignore[no-untyped-call]

JA_RESULTS = ("accepted", "duplicate", "late", "unattributed", "not_subscribed")
"""What became of a JA (``ja_campaign_ja_total{result}``), created at zero."""


def _version() -> str:
    try:
        return importlib.metadata.version("ja-engine")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def status_label(status: int) -> str:
    """A response's command_status as a label from a bounded set: the spec's name, the
    hex code in the range SMPP 3.4 §5.1.3 reserves for SMSC vendor errors (0x400-0x4FF: 256
    values, worth seeing one by one), ``RESERVED`` for anything else (a carrier inventing
    codes must not make a series per code)."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}" if 0x400 <= status <= 0x4FF else "RESERVED"


class Metrics:
    """The engine's metric objects, registered in ``registry`` (a fresh one in tests)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build = Gauge(
            "build_info",
            "Always 1: the ja-engine version and the Python running it, as labels",
            ("version", "python"),
            namespace="ja",
            registry=r,
        )
        self.build.labels(_version(), platform.python_version()).set(1)

        def counter(subsystem: str, name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, namespace="ja", subsystem=subsystem, registry=r)

        def gauge(subsystem: str, name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, namespace="ja", subsystem=subsystem, registry=r)

        bind = ("carrier", "bind")
        self.binds_up = gauge("bind", "up", "1 while the bind is bound and ready", *bind)
        self.reconnects = counter("bind", "reconnects", "Reconnections after a failure", *bind)
        self.rate_current = gauge(
            "bind",
            "rate_limit_per_second",
            "Send rate allowed now (lowered after throttling)",
            *bind,
        )
        self.rate_configured = gauge(
            "bind", "configured_rate_limit_per_second", "Send rate agreed with the carrier", *bind
        )
        self.throttles = counter(
            "bind", "throttles", "ESME_RTHROTTLED / ESME_RMSGQFUL responses", *bind
        )
        self.window_in_use = gauge("smpp", "window_in_use", "Requests awaiting a response", *bind)
        self.window_size = gauge(
            "smpp", "window_size", "Requests a bind may have awaiting a response", *bind
        )
        self.responses = counter(
            "smpp", "responses", "Responses to our submits by command_status", "carrier", "status"
        )
        self.submit_latency = LatencyHistograms(
            "ja_smpp_response_duration_seconds", "submit_sm round trip", "carrier"
        )
        r.register(self.submit_latency)
        self.outbox_messages = counter(
            "outbox", "messages", "Outbound messages by lane and final result", "lane", "result"
        )
        self.possible_duplicates = counter(
            "outbox", "possible_duplicates", "Resends of submits whose outcome was unknown", "lane"
        )
        self.queue_depth = gauge(
            "outbox", "queue_depth", "Messages read and waiting for a bind", "carrier", "lane"
        )
        self.oldest_age = gauge(
            "outbox", "oldest_age_seconds", "Age of the oldest message waiting in memory", "lane"
        )
        self.receipts = counter(
            "inbox", "receipts", "Delivery receipts by final state", "carrier", "state"
        )
        self.inbound = counter("inbox", "messages", "Inbound messages by kind", "carrier", "kind")
        self.store_errors = counter(
            "engine", "store_unavailable", "Operations refused: Redis was unavailable", "where"
        )
        self.store_batch_size = Histogram(
            "batch_operations",
            "Operations per Redis round trip (one pipeline or script batch)",
            namespace="ja",
            subsystem="store",
            buckets=_BATCH_SIZE_BUCKETS,
            registry=r,
        )
        self.store_batch_latency = Histogram(
            "batch_duration_seconds",
            "Time of one Redis batch, thread hop included",
            namespace="ja",
            subsystem="store",
            buckets=_BATCH_SECONDS_BUCKETS,
            registry=r,
        )
        self.dead_letters = Counter(
            "router_dead_letters",
            "Inbound messages the router could not handle, kept in the dead-letter stream",
            namespace="ja",
            registry=r,
        )
        self.inbound_rules = counter(
            "campaign",
            "inbound_messages",
            "Inbound messages by the routing rule that matched",
            "rule",
        )
        self.signatures = counter(
            "campaign",
            "ja",
            "JA replies: accepted, duplicate, late (appeal closed), unattributed (no appeal), "
            "not_subscribed (appeal not public)",
            "result",
        )
        for result in JA_RESULTS:
            self.signatures.labels(result)
        self.consent = counter(
            "campaign",
            "consent_changes",
            "Subscriptions and opt-outs by source",
            "change",
            "source",
        )
        for change in ("subscribe", "opt_out"):
            self.consent.labels(change, "sms")
        self.replies = counter(
            "campaign", "replies", "Replies queued by kind (welcome, stop, help, ...)", "kind"
        )
        self.fanout = counter(
            "campaign", "fanout_messages", "Messages queued by fan-outs, by kind", "kind"
        )
        self.thank_you_delay = Histogram(
            "thank_you_delay_seconds",
            "From a JA's arrival to its thank-you's submit_sm_resp",
            namespace="ja",
            subsystem="campaign",
            buckets=(1, 5, 15, 30, 45, 55, 60, 61, 62, 65, 70, 90, 120, 300, 600),
            registry=r,
        )
        self.thank_you_target = gauge(
            "campaign", "thank_you_target_seconds", "Configured delay from a JA to its thank-you"
        )
        self.thank_you_delays: deque[float] = deque(maxlen=200_000)
        """The latest thank-you delays (seconds), exact, for the demo and the benchmark."""

    @lru_cache(maxsize=4096)  # noqa: B019 - bounded label sets; Metrics lives as long as the app
    def child(self, metric_name: str, *labels: str) -> Any:
        """The bound child of a metric for these label values (cached)."""
        return getattr(self, metric_name).labels(*labels)

    def expect_binds(self, binds: Iterable[tuple[str, BindConfig]]) -> None:
        """Create the per-bind series of the configured binds at zero (a bind that never
        comes up shows ``ja_bind_up 0`` rather than nothing) and set their limits."""
        for carrier, bind in binds:
            self.child("binds_up", carrier, bind.name)
            self.child("reconnects", carrier, bind.name)
            self.child("throttles", carrier, bind.name)
            self.child("window_size", carrier, bind.name).set(bind.window)
            self.child("rate_configured", carrier, bind.name).set(bind.rate)

    def observe_batch(self, operations: int, seconds: float) -> None:
        """The Redis batcher's ``on_batch`` callback: one batch done."""
        self.store_batch_size.observe(operations)
        self.store_batch_latency.observe(seconds)


class _CountsSource(Protocol):
    """What the collector needs of a bind (engine.bind.CarrierBind)."""

    carrier: str
    name: str
    tls_refusals: int

    def pdu_counts(self) -> tuple[Mapping[int, int], Mapping[int, int]]: ...


def _command_name(command_id: int) -> str:
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return "unknown"


class BindCollector(Collector):
    """``ja_smpp_pdus_total{carrier, bind, command, direction}`` read from the sessions' plain
    counters at scrape time: the hot path pays an integer add, never a Prometheus call."""

    def __init__(self, binds: Callable[[], Iterable[_CountsSource]]) -> None:
        self._binds = binds

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "ja_smpp_pdus",
            "PDUs by command and direction",
            labels=["carrier", "bind", "command", "direction"],
        )
        refusals = CounterMetricFamily(
            "ja_bind_tls_refusals",
            "Connections refused by our TLS checks (certificate, name or pin)",
            labels=["carrier", "bind"],
        )
        for bind in list(self._binds()):
            received, sent = bind.pdu_counts()
            for direction, counts in (("in", received), ("out", sent)):
                for command_id, n in sorted(counts.items()):
                    labels = [bind.carrier, bind.name, _command_name(command_id), direction]
                    family.add_metric(labels, n)
            refusals.add_metric([bind.carrier, bind.name], bind.tls_refusals)
        yield family
        yield refusals


class LatencyHistograms(Collector):
    """A histogram per label value, counted in plain lists and exported at scrape time.

    ``prometheus_client.Histogram.observe`` costs about 1.5 µs (3 with ``.labels()``); at tens
    of thousands of responses a second that is a large share of a core. Here an observation is
    one bisect and two additions.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        label: str,
        buckets: tuple[float, ...] = _LATENCY_BUCKETS,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.buckets = buckets
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe(self, value: str, seconds: float) -> None:
        counts = self._counts.get(value)
        if counts is None:
            counts = self._counts[value] = [0] * (len(self.buckets) + 1)
            self._sums[value] = 0.0
        counts[bisect_left(self.buckets, seconds)] += 1
        self._sums[value] += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, counts in self._counts.items():
            cumulative, running = [], 0
            for bound, n in zip((*self.buckets, float("inf")), counts, strict=True):
                running += n
                cumulative.append((str(bound) if bound != float("inf") else "+Inf", running))
            family.add_metric([value], cumulative, self._sums[value])
        yield family
