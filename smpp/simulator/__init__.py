"""An SMPP 3.4 message centre (SMSC) with a population of handsets behind it.

It serves ESMEs over TCP (or TLS) with the same codec and session state machine as the
client side, in the message-centre role: accounts, per-account throughput limits, per-bind
windows, delivery receipts, handsets that reply (JA, duplicates, STOP, HELP, ...), a TV
call-to-action burst, faults on demand, a ledger of everything, and Prometheus metrics.
Run it with ``python -m smpp.simulator``; use it from tests with ``open_simulator``.
"""

from smpp.simulator.accounts import Account, Accounts, BindRefused
from smpp.simulator.carrier import Carrier
from smpp.simulator.centre import DEFAULT_ACCOUNT, MessageCentre, format_receipt
from smpp.simulator.config import (
    AccountConfig,
    ConfigError,
    DeliveryConfig,
    FaultConfig,
    FaultStep,
    HandsetConfig,
    LedgerConfig,
    ReceiptConfig,
    SimulatorConfig,
    TvConfig,
    load_config,
)
from smpp.simulator.handsets import Decision, Handsets, Reply
from smpp.simulator.ledger import Kind, Ledger, Record
from smpp.simulator.server import Simulator, open_simulator
from smpp.simulator.throttle import SecondCounts, SlidingWindow, TokenBucket
from smpp.simulator.tv import CallToAction

__all__ = [
    "DEFAULT_ACCOUNT",
    "Account",
    "AccountConfig",
    "Accounts",
    "BindRefused",
    "CallToAction",
    "Carrier",
    "ConfigError",
    "Decision",
    "DeliveryConfig",
    "FaultConfig",
    "FaultStep",
    "HandsetConfig",
    "Handsets",
    "Kind",
    "Ledger",
    "LedgerConfig",
    "MessageCentre",
    "ReceiptConfig",
    "Record",
    "Reply",
    "SecondCounts",
    "Simulator",
    "SimulatorConfig",
    "SlidingWindow",
    "TokenBucket",
    "TvConfig",
    "format_receipt",
    "load_config",
    "open_simulator",
]
