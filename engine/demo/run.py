"""The demo's settings and what a run learns on the way (shared by its steps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from counters import Store
from engine.app import Engine
from engine.config import Config, parse_config
from engine.metrics import Metrics
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.ledger import Record
from smpp.simulator.server import Simulator

DEFAULT_RECIPIENTS = 10_000
DEFAULT_RATE = 2000.0
COMPRESSION = 2400.0
"""Simulated seconds per demo second for the handsets: one demo second is 40 minutes."""
THANK_DELAY = 3.0
REDELIVERY_WINDOW = 0.1
FIRST_NUMBER = 31600000000
SYSTEM_ID = "ja"
PASSWORD = "demo"
TITLE = "Ahmed: gevaar van marteling"
APPEAL = (
    "Urgente actie: Ahmed (28) loopt in de gevangenis gevaar gemarteld te worden. Eis met ons "
    "dat de minister hem beschermt: antwoord JA om te tekenen."
)
OUTCOME = (
    "Goed nieuws: Ahmed is vrij! De minister liet hem gaan na jullie handtekeningen. Dank je "
    "wel voor je steun. Amnesty"
)
UNRELATED = ["Wie is dit?", "ok", "Bedankt", "nee", "Wat is dit voor?", "Stpo", "Hepl", "jsa"]
"""What handsets send besides JA, STOP and HELP: questions, a no, and typos (a near STOP, a
near HELP, a near JA), which get a clarifying question, never a silent signature or opt-out."""
SIGN_KINDS = frozenset({"ja", "duplicate", "stranger"})
PERMANENT = frozenset({"UNDELIVERABLE", "REJECTED"})
"""Receipt states the engine takes as "this number is gone" (it opts the subscriber out)."""
SETTLE_TIMEOUT = 120.0

_ENGINE_CONFIG = """
short_code = "4777"
[redis]
namespace = "{namespace}"
[inbox]
redelivery_window = {redelivery_window}
[campaigns]
thank_delay = {thank_delay}
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = {port}
system_id = "{system_id}"
password = "{password}"
window = 256
rate = {rate}
burst = {burst}
"""


@dataclass
class DemoOptions:
    recipients: int = DEFAULT_RECIPIENTS
    rate: float = DEFAULT_RATE
    keep: bool = False
    seed: int = 1
    redis_url: str = ""
    """"" for ``REDIS_URL``, else the embedded server."""
    write: Callable[[str], None] = field(default=lambda line: print(line, flush=True))


@dataclass
class Check:
    ok: bool
    text: str


@dataclass
class Run:
    """What the story learns on the way, for the summary."""

    options: DemoOptions
    sim: Simulator
    engine: Engine
    store: Store
    metrics: Metrics
    started: float
    appeal: int = 0
    sent_at: float = 0.0
    outcome_at: float = 0.0
    fanout_done_at: float = 0.0
    examples: list[Record] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        self.options.write(line)

    def clock(self) -> str:
        return f"t+{trio.current_time() - self.started:5.1f}s"

    def metric(self, name: str, **labels: str) -> int:
        value = self.metrics.registry.get_sample_value(name, labels)
        return int(value or 0)

    def inbound(self, kind: str) -> int:
        return self.metric("ja_inbox_messages_total", carrier="sim", kind=kind)

    def ja(self, result: str) -> int:
        return self.metric("ja_campaign_ja_total", result=result)


def num(value: int) -> str:
    return f"{value:,}"


def sim_config(options: DemoOptions) -> SimulatorConfig:
    """The handsets: delays are real-world seconds, divided by ``COMPRESSION``."""
    handsets = HandsetConfig(
        count=options.recipients,
        first_number=str(FIRST_NUMBER),
        reply_probability=0.45,
        stop_probability=0.015,
        help_probability=0.01,
        unrelated_probability=0.02,
        long_probability=0.0,
        duplicate_probability=0.1,
        stranger_probability=0.006,
        delay_min=20.0,
        delay_median=900.0,
        delay_sigma=0.6,
        duplicate_gap=1800.0,
        unrelated_texts=UNRELATED,
    )
    receipts = ReceiptConfig(
        delay=5.0,
        jitter=5.0,
        outcomes={"DELIVRD": 0.97, "UNDELIV": 0.012, "EXPIRED": 0.012, "REJECTD": 0.006},
    )
    return SimulatorConfig(
        port=0,
        seed=options.seed,
        time_compression=COMPRESSION,
        accounts=[AccountConfig(system_id=SYSTEM_ID, password=PASSWORD)],
        receipts=receipts,
        handsets=handsets,
    )


def engine_config(port: int, namespace: str, rate: float) -> Config:
    return parse_config(
        _ENGINE_CONFIG.format(
            namespace=namespace,
            redelivery_window=REDELIVERY_WINDOW,
            thank_delay=THANK_DELAY,
            port=port,
            system_id=SYSTEM_ID,
            password=PASSWORD,
            rate=rate,
            burst=max(10, int(rate / 20)),
        ),
        source="<demo>",
    )


def receipts_by_state(run: Run) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in run.metrics.receipts.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.value:
                out[sample.labels["state"]] = int(sample.value)
    return out
