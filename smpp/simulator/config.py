"""The simulator's configuration: msgspec Structs decoded from TOML, overridden by flags.

Every table rejects unknown keys (a typo is an error, not a silent default), and every check
names the field and says what would be accepted. Times are in seconds; delays that model
people or the network (receipts, replies) are divided by ``time_compression``, so a value
of 3600 means "an hour" in the real world and one second at a compression of 3600.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import msgspec

from smpp.constants import CommandStatus

__all__ = [
    "OUTCOME_WORDS",
    "AccountConfig",
    "ConfigError",
    "DeliveryConfig",
    "FaultConfig",
    "FaultStep",
    "HandsetConfig",
    "LedgerConfig",
    "ReceiptConfig",
    "SimulatorConfig",
    "TvConfig",
    "load_config",
    "status_code",
]

BindType = Literal["transmitter", "receiver", "transceiver"]
FaultAction = Literal["drop_binds", "unbind", "malformed", "refuse_binds", "set"]

OUTCOME_WORDS = ("DELIVRD", "UNDELIV", "EXPIRED", "REJECTD")
"""Receipt outcomes the simulator can produce (Appendix B words)."""


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the field and the fix."""


class _Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _probability(name: str, value: float) -> None:
    _check(0.0 <= value <= 1.0, f"{name} must be between 0 and 1, got {value}")


def _weights(name: str, weights: dict[str, float]) -> None:
    _check(bool(weights), f"{name} must name at least one entry")
    _check(all(w >= 0 for w in weights.values()), f"{name}: weights must be >= 0")
    _check(sum(weights.values()) > 0, f"{name}: weights must not all be 0")


class AccountConfig(_Config):
    """One ESME account: who may bind, how, how often and how fast."""

    system_id: str
    password: str
    tps: float = 0.0
    """Messages per second accepted; 0 means unlimited."""
    burst: float | None = None
    """Token bucket capacity; default one second's worth (at least 1)."""
    strict: bool = False
    """Throttle any submit that would put more than ``tps`` in any one-second window."""
    max_binds: int = 4
    bind_types: list[BindType] = msgspec.field(
        default_factory=lambda: ["transmitter", "receiver", "transceiver"]
    )
    window: int = 1000
    """Unanswered requests allowed per bind; more get ESME_RMSGQFUL."""

    def __post_init__(self) -> None:
        _check(0 < len(self.system_id) <= 15, "system_id must be 1 to 15 characters")
        _check(len(self.password) <= 8, "password must be at most 8 characters (SMPP 3.4)")
        _check(self.tps >= 0, f"tps must be >= 0 (0 = unlimited), got {self.tps}")
        _check(not self.strict or self.tps >= 1, "strict needs tps >= 1")
        _check(self.burst is None or self.burst >= 1, "burst must be >= 1")
        _check(self.max_binds >= 1, "max_binds must be >= 1")
        _check(self.window >= 1, "window must be >= 1")
        _check(bool(self.bind_types), "bind_types must allow at least one bind type")


class ReceiptConfig(_Config):
    enabled: bool = True
    """False: never send receipts, whatever registered_delivery asks."""
    delay: float = 5.0
    jitter: float = 5.0
    """A uniform 0..jitter seconds is added to ``delay`` per message."""
    outcomes: dict[str, float] = msgspec.field(
        default_factory=lambda: {"DELIVRD": 0.95, "UNDELIV": 0.03, "EXPIRED": 0.01, "REJECTD": 0.01}
    )

    def __post_init__(self) -> None:
        _check(self.delay >= 0 and self.jitter >= 0, "delay and jitter must be >= 0")
        _weights("outcomes", self.outcomes)
        unknown = set(self.outcomes) - set(OUTCOME_WORDS)
        _check(not unknown, f"outcomes: unknown {sorted(unknown)}; use {list(OUTCOME_WORDS)}")


class DeliveryConfig(_Config):
    """deliver_sm towards the ESME (receipts and MO): window, timeouts, retries, holding."""

    window: int = 64
    response_timeout: float = 10.0
    max_attempts: int = 5
    retry_initial: float = 1.0
    retry_factor: float = 2.0
    retry_max: float = 60.0
    hold_limit: int = 100_000
    """deliver_sm held per account while no receiver is bound; more are dropped (counted),
    and the account's submits get ESME_RMSGQFUL while that many wait."""
    queue_limit: int = 1_000_000
    """deliver_sm queued per account while a receiver is bound (taking them, maybe more
    slowly than it submits) before its submits get ESME_RMSGQFUL; none is dropped. About
    600 bytes each."""

    def __post_init__(self) -> None:
        _check(self.window >= 1, "window must be >= 1")
        _check(self.response_timeout > 0, "response_timeout must be > 0")
        _check(self.max_attempts >= 1, "max_attempts must be >= 1")
        _check(self.retry_initial >= 0 and self.retry_factor >= 1, "bad retry back-off")
        _check(self.hold_limit >= 1, "hold_limit must be >= 1")
        _check(
            self.queue_limit >= self.hold_limit,
            f"queue_limit must be >= hold_limit ({self.hold_limit}), got {self.queue_limit}",
        )


class HandsetConfig(_Config):
    """The population behind the message centre and how each handset answers."""

    count: int = 100_000
    first_number: str = "31600000000"
    """E.164 digits without '+'; handset i has number first_number + i."""
    reply_probability: float = 0.3
    stop_probability: float = 0.01
    help_probability: float = 0.005
    unrelated_probability: float = 0.01
    long_probability: float = 0.005
    duplicate_probability: float = 0.05
    stranger_probability: float = 0.002
    delay_min: float = 5.0
    delay_median: float = 3000.0
    delay_sigma: float = 1.5
    duplicate_gap: float = 60.0
    variants: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "JA": 0.45,
            "ja": 0.2,
            "Ja": 0.1,
            "Ja!": 0.08,
            " JA.": 0.05,
            "jaa": 0.05,
            "yes": 0.04,
            "JA 👍": 0.03,
        }
    )
    opt_out_words: list[str] = msgspec.field(
        default_factory=lambda: ["STOP", "stop", "Stop", "STOPPEN", "UIT"]
    )
    help_words: list[str] = msgspec.field(default_factory=lambda: ["HELP", "help", "INFO"])
    unrelated_texts: list[str] = msgspec.field(
        default_factory=lambda: ["Wie is dit?", "ok", "Bedankt", "nee", "👍", "Wat is dit voor?"]
    )
    long_texts: list[str] = msgspec.field(
        default_factory=lambda: [
            "Ja, ik teken. " * 12 + "Succes met jullie werk!",
            "Ik weet niet precies waar dit over gaat, kunnen jullie me meer uitleggen? " * 3,
        ]
    )

    def __post_init__(self) -> None:
        _check(self.count >= 0, "count must be >= 0")
        _check(self.first_number.isdigit(), "first_number must be digits only (E.164, no '+')")
        last = int(self.first_number) + max(self.count - 1, 0)
        _check(len(str(last)) <= 15, "first_number + count - 1 exceeds 15 digits (E.164)")
        for name in (
            "reply_probability",
            "stop_probability",
            "help_probability",
            "unrelated_probability",
            "long_probability",
            "duplicate_probability",
            "stranger_probability",
        ):
            _probability(name, getattr(self, name))
        _check(self.duplicate_probability < 1, "duplicate_probability must be below 1")
        _check(self.delay_min >= 0 and self.delay_median > 0, "delay_min >= 0, delay_median > 0")
        _check(self.delay_sigma >= 0 and self.duplicate_gap >= 0, "sigma and gap must be >= 0")
        _weights("variants", self.variants)
        for name in ("opt_out_words", "help_words", "unrelated_texts", "long_texts"):
            _check(bool(getattr(self, name)), f"{name} must not be empty")


class TvConfig(_Config):
    """A TV call to action: MO from numbers outside the population, at a rate profile."""

    enabled: bool = False
    account: str = ""
    """system_id that receives the burst; default the first account."""
    short_code: str = "4000"
    start_after: float = 0.0
    profile: list[tuple[float, float]] = msgspec.field(
        default_factory=lambda: [(0.0, 0.0), (60.0, 1000.0), (300.0, 1000.0), (360.0, 0.0)]
    )
    """(seconds since start, messages per second) points, linear between; ``inf`` = max."""
    first_number: str = "31690000000"
    numbers: int = 1_000_000
    duplicate_probability: float = 0.05
    keywords: dict[str, float] = msgspec.field(
        default_factory=lambda: {"JA": 0.6, "ja": 0.15, "Ja!": 0.05, "JOIN": 0.1, "AAN": 0.1}
    )

    def __post_init__(self) -> None:
        _check(len(self.profile) >= 1, "profile needs at least one (seconds, rate) point")
        times = [t for t, _ in self.profile]
        _check(times == sorted(times) and times[0] >= 0, "profile times must rise from >= 0")
        _check(all(r >= 0 for _, r in self.profile), "profile rates must be >= 0 (or inf)")
        _check(self.first_number.isdigit() and self.numbers >= 1, "bad first_number/numbers")
        _probability("duplicate_probability", self.duplicate_probability)
        _weights("keywords", self.keywords)


class FaultStep(_Config):
    """One scripted fault: at ``at`` seconds after start, do ``action``.

    ``refuse_binds`` lasts ``duration`` seconds; ``set`` assigns ``value`` to the
    ``[faults]`` field named ``field`` (e.g. generic_nack_fraction).
    """

    at: float
    action: FaultAction
    duration: float = 0.0
    field: str = ""
    value: float = 0.0
    account: str = ""


class FaultConfig(_Config):
    drop_bind_after_seconds: float | None = None
    drop_bind_after_messages: int | None = None
    unbind_after_seconds: float | None = None
    malformed_after_messages: int | None = None
    refuse_binds_for: float = 0.0
    refuse_status: int | str = "ESME_RBINDFAIL"
    response_delay: float = 0.0
    response_jitter: float = 0.0
    withhold_fraction: float = 0.0
    generic_nack_fraction: float = 0.0
    error_fraction: float = 0.0
    error_status: int | str = "ESME_RSYSERR"
    script: list[FaultStep] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("withhold_fraction", "generic_nack_fraction", "error_fraction"):
            _probability(name, getattr(self, name))
        _check(self.response_delay >= 0 and self.response_jitter >= 0, "delays must be >= 0")
        status_code(self.error_status)
        status_code(self.refuse_status)


class LedgerConfig(_Config):
    path: str | None = None
    """Write the ledger here as JSON lines at shutdown."""
    max_records: int = 5_000_000
    """About 34 bytes per record in memory; later records are dropped (counted). 0: off."""

    def __post_init__(self) -> None:
        _check(self.max_records >= 0, "max_records must be >= 0")


class SimulatorConfig(_Config):
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "jasim"
    seed: int = 1
    time_compression: float = 1.0
    tls_cert: str | None = None
    tls_key: str | None = None
    metrics_port: int | None = None
    bind_timeout: float = 30.0
    enquire_link_interval: float = 30.0
    inactivity_timeout: float | None = 300.0
    message_store: int = 2_000_000
    """Messages remembered for query_sm/cancel_sm (about 10 bytes each)."""
    accounts: list[AccountConfig] = msgspec.field(default_factory=list)
    receipts: ReceiptConfig = msgspec.field(default_factory=ReceiptConfig)
    delivery: DeliveryConfig = msgspec.field(default_factory=DeliveryConfig)
    handsets: HandsetConfig = msgspec.field(default_factory=HandsetConfig)
    tv: TvConfig = msgspec.field(default_factory=TvConfig)
    faults: FaultConfig = msgspec.field(default_factory=FaultConfig)
    ledger: LedgerConfig = msgspec.field(default_factory=LedgerConfig)

    def __post_init__(self) -> None:
        _check(0 <= self.port <= 65535, f"port must be 0..65535, got {self.port}")
        _check(0 <= self.seed < 2**63, "seed must be in 0 .. 2**63-1")
        _check(self.time_compression > 0 and math.isfinite(self.time_compression), "bad time")
        _check((self.tls_cert is None) == (self.tls_key is None), "set tls_cert and tls_key")
        _check(self.message_store >= 1, "message_store must be >= 1")
        ids = [a.system_id for a in self.accounts]
        _check(len(ids) == len(set(ids)), "accounts: system_id values must be unique")


def status_code(value: int | str) -> int:
    """A command_status given as a number or a name ("ESME_RSYSERR")."""
    if isinstance(value, int):
        _check(0 <= value <= 0xFFFFFFFF, f"command status {value} out of range")
        return value
    try:
        return int(CommandStatus[value])
    except KeyError:
        raise ValueError(
            f"unknown command status {value!r}; use a name like ESME_RSYSERR"
        ) from None


def load_config(path: str | Path | None) -> SimulatorConfig:
    """Read a TOML file (or the defaults when ``path`` is None).

    Raises:
        ConfigError: unreadable file, bad TOML, unknown key or bad value (named).
    """
    if path is None:
        return SimulatorConfig()
    try:
        data = Path(path).read_bytes()
        return msgspec.toml.decode(data, type=SimulatorConfig)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc} (see docs/simulator.md for every field)") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
