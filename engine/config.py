"""Engine configuration: one TOML file decoded into frozen msgspec Structs.

Theory of operation. Loading runs two passes. msgspec checks shape, types and the per-field
limits declared with ``Meta`` on the annotations below, so each limit is written once and
enforced by the decoder. ``_Checker`` then checks what spans several fields or needs the
environment (unique bind names, password sources, routing), and fills each bind's
``password`` from ``password_env``. Errors from either pass are rewritten into one form,
``FILE: PATH: expected WHAT, got VALUE``, where WHAT is derived from the same annotation the
decoder enforced, so the message and the check cannot drift apart. Passwords never appear in
messages or reprs. What is allowed but unwise (a password file others can read) is a warning
in the same form, handed to ``on_warning``. The operator reference for every field is
docs/configuration.md.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import ssl
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect as mi
from msgspec import Meta, Struct, field

from engine.api.settings import MIN_TOKEN_LENGTH, ApiConfig, ApiToken
from engine.campaigns.keywords import DEFAULT_TABLES, Classifier
from engine.campaigns.quiet import parse_window
from engine.campaigns.settings import PLACEHOLDERS, CampaignConfig, with_defaults
from engine.campaigns.texts import TextError, check_template, check_text, render
from engine.logs import LogFormat, LogLevel

__all__ = [
    "ApiConfig",
    "ApiToken",
    "BindConfig",
    "CarrierConfig",
    "Config",
    "ConfigError",
    "HttpConfig",
    "InboxConfig",
    "LoggingConfig",
    "MetricsConfig",
    "OutboxConfig",
    "RedisConfig",
    "RoutingConfig",
    "load_config",
    "parse_config",
]

Positive = Annotated[float, Meta(gt=0)]
NonEmpty = Annotated[str, Meta(min_length=1)]
UnknownPolicy = Literal["resend", "drop"]

_NPI_VALUES = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})
"""Numbering plan indicators defined by SMPP 3.4 §5.2.6."""
_CARRIER_NAME = re.compile(r"[a-z0-9_-]+")
_BIND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PREFIX = re.compile(r"\+[0-9]{1,15}")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_HEX_PIN = re.compile(r"[0-9a-fA-F]{64}")
_B64_PIN = re.compile(r"[A-Za-z0-9+/]{43}=")

log = logging.getLogger(__name__)


class BindConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One SMPP session to a carrier. After loading, ``password`` holds the real password."""

    name: NonEmpty
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 2775
    tls: bool = False
    tls_verify: bool = True
    tls_ca: NonEmpty | None = None
    """PEM file of the CAs that sign the carrier's certificate (default: the system's)."""
    tls_server_name: NonEmpty | None = None
    """Name the certificate must carry, and the SNI sent (default: ``host``)."""
    tls_pin_sha256: list[str] = field(default_factory=list)
    """SHA-256 fingerprints of the carrier's certificate (DER), any one of which must match.
    After loading: lower-case hex without colons."""
    system_id: Annotated[str, Meta(min_length=1, max_length=15)]  # C-Octet 16, §5.2.1
    password: Annotated[str, Meta(max_length=8)] | None = None  # C-Octet 9, §5.2.2
    password_env: NonEmpty | None = None
    password_file: NonEmpty | None = None
    system_type: Annotated[str, Meta(max_length=12)] = ""  # C-Octet 13, §5.2.3
    bind_type: Literal["transmitter", "receiver", "transceiver"] = "transceiver"
    window: Annotated[int, Meta(ge=1, le=10000)] = 64
    rate: Positive = 100.0
    burst: Annotated[int, Meta(ge=1)] = 10
    enquire_link_interval: Positive = 30.0
    response_timeout: Positive = 10.0
    reconnect_initial: Positive = 1.0
    reconnect_max: Positive = 60.0
    source_ton: Annotated[int, Meta(ge=0, le=6)] = 3  # §5.2.5; 3 = network specific
    source_npi: Annotated[int, Meta(ge=0, le=18)] = 0  # §5.2.6

    def __repr__(self) -> str:
        parts = (
            f"{n}={'<hidden>' if n == 'password' and v else repr(v)}" for n, v in self._items()
        )
        return f"BindConfig({', '.join(parts)})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [(n, "<hidden>" if n == "password" and v else v) for n, v in self._items()]

    def _items(self) -> Iterator[tuple[str, Any]]:
        for name in self.__struct_fields__:
            yield name, getattr(self, name)


class CarrierConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    binds: Annotated[list[BindConfig], Meta(min_length=1)]
    prefixes: list[str] = field(default_factory=list)


class RoutingConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    default_carrier: str | None = None
    prefer_last_inbound: bool = True


class RedisConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    url: str | None = None
    namespace: NonEmpty = "ja"
    data_dir: str | None = None
    appendfsync: Literal["everysec", "always"] = "everysec"
    forget_secret_env: NonEmpty | None = None
    """Environment variable holding the key of the hashes kept for forgotten numbers (so an
    import cannot bring them back, and nobody can reverse the hashes without the key).
    After loading, ``forget_secret`` holds its value ("" when not set)."""
    forget_secret: str = ""

    def __repr__(self) -> str:
        hidden = "<hidden>" if self.forget_secret else "''"
        return (
            f"RedisConfig(url={self.url!r}, namespace={self.namespace!r}, "
            f"data_dir={self.data_dir!r}, appendfsync={self.appendfsync!r}, "
            f"forget_secret_env={self.forget_secret_env!r}, forget_secret={hidden})"
        )


class HttpConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where the engine's one HTTP server listens (``/metrics``, ``/healthz``, ``/readyz``)."""

    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 9477
    public_port: Annotated[int, Meta(ge=0, le=65535)] | None = None
    """The public server: only the counter and the live page (``/live/...``,
    ``/api/v1/public/...``), the part a website or a studio screen may reach, without
    /metrics or the API, served by a process of its own (``ja-engine run`` starts it; see
    `engine.live.process`). Off unless set."""
    public_host: NonEmpty = "127.0.0.1"
    public_nice: Annotated[int, Meta(ge=0, le=19)] = 19
    """How much lower the public server's CPU priority is (Unix nice): under load the
    signatures get the CPU first. 0 where it runs on a machine of its own."""
    public_max_rate: Annotated[float, Meta(ge=0)] = 2000.0
    """Answers a second the public server gives, all clients together; more wait their
    turn (0: no limit). A flood then costs the machine a bounded amount of CPU."""


class MetricsConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The older name of ``[http]``: its host and port are taken when ``[http]`` is absent."""

    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 9477


class LoggingConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    format: LogFormat = "plain"
    """``plain`` lines for a terminal, or ``json``: one object per line for a log collector."""
    level: LogLevel = "INFO"


class OutboxConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    transactional_policy_unknown: UnknownPolicy = "drop"
    bulk_policy_unknown: UnknownPolicy = "resend"
    max_attempts: Annotated[int, Meta(ge=1)] = 5
    retry_initial: Positive = 5.0
    retry_max: Positive = 300.0
    consumer: Annotated[str, Meta(max_length=64)] = ""
    """This engine's name in the queues' consumer group (default: the host name). A restarted
    engine with the same name takes over what it left pending at once; give each engine
    process on one host its own name."""
    reclaim_idle: Positive = 60.0
    """Seconds after which another engine's unacknowledged entries are taken over."""


class InboxConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    per_number_rate: Positive = 1.0
    per_number_burst: Annotated[int, Meta(ge=1)] = 10
    reassembly_timeout: Positive = 600.0
    router: Literal["campaigns", "log"] = "campaigns"
    """What acts on inbound messages: the urgent-action campaigns (JA, STOP, START, HELP), or
    only a log line (a bare gateway)."""
    redelivery_window: Positive = 30.0
    """Seconds during which the same message from the same number through the same carrier is
    taken for the carrier's redelivery (our answer was lost) and recorded once. Longer than
    the carriers' response timeout plus their first retry; short enough that a person who
    really sends JA twice is counted (as a duplicate)."""
    keep_messages: Annotated[int, Meta(ge=1000)] = 1_000_000
    """Inbound messages kept in the inbound log after they were acted on."""
    keep_days: Positive = 30.0
    """Days inbound messages are kept in the inbound log."""


class Config(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    short_code: str
    carriers: Annotated[dict[str, CarrierConfig], Meta(min_length=1)]
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    inbox: InboxConfig = field(default_factory=InboxConfig)
    campaigns: CampaignConfig = field(default_factory=CampaignConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    country_code: str = "31"

    def all_binds(self) -> Iterator[tuple[str, BindConfig]]:
        """Every bind with the name of its carrier, in file order."""
        for carrier, cfg in self.carriers.items():
            for bind in cfg.binds:
                yield carrier, bind


class ConfigError(ValueError):
    """The configuration is invalid. ``str()`` has one ``SOURCE: PATH: problem`` per line."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = (
            f"{source}: {path}: {text}" if path else f"{source}: {text}" for path, text in problems
        )
        super().__init__("\n".join(lines))


def load_config(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Config:
    """Read and validate the TOML file at ``path``.

    Args:
        path: the file.
        environ: where ``password_env`` and ``REDIS_URL`` are looked up (default ``os.environ``).
        on_warning: called with each ``FILE: PATH: warning: ...`` line, errors or not
            (default: logged at WARNING).

    Raises:
        ConfigError: the file is unreadable, not TOML, or fails a check.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc}")]) from exc
    return parse_config(text, source=str(path), environ=environ, on_warning=on_warning)


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    environ: Mapping[str, str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Config:
    """Like ``load_config`` for TOML text; ``source`` names it in messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [("", f"invalid TOML: {exc}")]) from exc
    try:
        config = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(source, [_explain(exc, raw)]) from None
    checker = _Checker(os.environ if environ is None else environ)
    config = checker.check(config)
    config = checker.http(config, raw)
    for path, text in checker.warnings:
        line = f"{source}: {path}: warning: {text}"
        if on_warning is None:
            log.warning("%s", line)
        else:
            on_warning(line)
    if checker.problems:
        raise ConfigError(source, checker.problems)
    return config


# --- pass 1: decoder errors rewritten with the value and the expectation ---------------------

_AT = re.compile(r"(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_SEGMENT = re.compile(r"\.(\w+)|\[(\d+)\]|\[\.\.\.\]")
_FIELD_NAME = re.compile(r"(unknown|missing required) field `(\w+)`")
_MISSING = object()


def _explain(exc: msgspec.ValidationError, raw: dict[str, Any]) -> tuple[str, str]:
    match = _AT.fullmatch(str(exc))
    assert match is not None  # the pattern matches any text
    path, value, info = _locate(raw, match["path"] or "")
    named = _FIELD_NAME.search(match["msg"])
    if named is None:
        secret = bool(path) and path[-1] in ("password", "token")
        return _format(path), f"expected {_describe(info)}, got {_show(value, secret=secret)}"
    kind, name = named.groups()
    struct = _unwrap(info)
    assert isinstance(struct, mi.StructType)
    if kind == "unknown":
        allowed = ", ".join(f.name for f in struct.fields)
        return _format([*path, name]), f"unknown field (allowed: {allowed})"
    wanted = next(f.type for f in struct.fields if f.name == name)
    return _format([*path, name]), f"required field missing: expected {_describe(wanted)}"


def _locate(raw: Any, at: str) -> tuple[list[str | int], Any, mi.Type]:
    """Follow msgspec's path through the raw TOML and the schema at the same time."""
    path: list[str | int] = []
    value, info = raw, mi.type_info(Config)
    for seg in _SEGMENT.finditer(at):
        name, index = seg.groups()
        match _unwrap(info):
            case mi.StructType(fields=fields) if name is not None:
                info = next(f.type for f in fields if f.name == name)
                value = value.get(name, _MISSING) if isinstance(value, dict) else _MISSING
                path.append(name)
            case mi.ListType(item_type=item) if index is not None:
                info, value = item, value[int(index)]
                path.append(int(index))
            case mi.DictType(value_type=item):
                # msgspec does not name the key ("[...]"): it is the first entry that fails.
                info, key = item, _first_invalid(value, item)
                value = value[key]
                path.append(key)
    return path, value, info


def _first_invalid(table: dict[str, Any], info: mi.Type) -> str:
    # msgspec decodes tables in order and stops at the first error, so this is that entry.
    assert isinstance(info, mi.StructType)
    for key, item in table.items():
        try:
            msgspec.convert(item, info.cls)
        except msgspec.ValidationError:
            return key
    raise AssertionError("no invalid entry")  # pragma: no cover


def _unwrap(info: mi.Type) -> mi.Type:
    """The one non-None member of ``X | None``; anything else as it is."""
    if isinstance(info, mi.UnionType):
        members = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(members) == 1:
            return members[0]
    return info


def _describe(info: mi.Type) -> str:
    match info:
        case mi.IntType():
            return "an int" + _bounds(info)
        case mi.FloatType():
            return "a number" + _bounds(info)
        case mi.StrType():
            return _describe_str(info.min_length, info.max_length)
        case mi.BoolType():
            return "true or false"
        case mi.LiteralType():
            return "one of " + ", ".join(_show(v) for v in info.values)
        case mi.ListType():
            noun = "tables" if isinstance(info.item_type, mi.StructType) else "strings"
            least = f"at least {info.min_length} " if info.min_length else ""
            return f"an array of {least}{noun}"
        case mi.DictType():
            return f"a table of at least {info.min_length} entry" if info.min_length else "a table"
        case mi.StructType():
            return "a table"
        case mi.UnionType():
            return " or ".join(_describe(t) for t in info.types if not isinstance(t, mi.NoneType))
    return str(info)  # pragma: no cover - every schema type is handled above


def _bounds(info: mi.IntType | mi.FloatType) -> str:
    if info.ge is not None and info.le is not None:
        return f" between {info.ge} and {info.le}"
    parts = [
        f"{op} {v}" for op, v in ((">=", info.ge), (">", info.gt), ("<=", info.le)) if v is not None
    ]
    return (" " + " and ".join(parts)) if parts else ""


def _describe_str(least: int | None, most: int | None) -> str:
    if most is not None:
        return (
            f"a string of {least or 0} to {most} characters"
            if least
            else (f"a string of at most {most} characters")
        )
    return "a non-empty string" if least else "a string"


def _show(value: Any, *, secret: bool = False) -> str:
    if value is _MISSING:
        return "nothing"
    if secret:
        size = f" of {len(value)} characters" if isinstance(value, str) else ""
        return f"{_kind(value)}{size} (not shown)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    return _kind(value)


def _quote(value: str) -> str:
    """A path or other value the operator wrote, whole (``_show`` shortens long strings)."""
    return json.dumps(value, ensure_ascii=False)


def _kind(value: Any) -> str:
    kinds = {str: "a string", int: "an int", float: "a number", dict: "a table", list: "an array"}
    return kinds.get(type(value), f"a TOML {type(value).__name__}")


def _parse_pin(pin: str) -> str | None:
    """A SHA-256 fingerprint as lower-case hex, from hex (``openssl x509 -fingerprint``
    prints it with colons) or base64; None if it is neither."""
    bare = pin.replace(":", "")
    if _HEX_PIN.fullmatch(bare):
        return bare.lower()
    if _B64_PIN.fullmatch(pin):  # only valid base64 of 32 bytes matches
        return base64.b64decode(pin).hex()
    return None


def _format(path: Sequence[str | int]) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else seg)
    return out


# --- pass 2: checks across fields and against the environment --------------------------------


class _Checker:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def fail(self, path: str, text: str) -> None:
        self.problems.append((path, text))

    def warn(self, path: str, text: str) -> None:
        self.warnings.append((path, text))

    def check(self, cfg: Config) -> Config:
        """Record every problem; return ``cfg`` with passwords and defaults resolved."""
        self.digits("short_code", cfg.short_code, 3, 15)
        self.digits("country_code", cfg.country_code, 1, 3)
        carriers = {name: self.carrier(name, c) for name, c in cfg.carriers.items()}
        self.unique_bind_names(cfg)
        self.reclaim_after_timeouts(cfg)
        campaigns = msgspec.structs.replace(
            cfg.campaigns,
            templates=with_defaults(cfg.campaigns.templates),
            keywords={**DEFAULT_TABLES, **cfg.campaigns.keywords},
        )
        cfg = msgspec.structs.replace(cfg, campaigns=campaigns)
        self.campaigns(cfg)
        return msgspec.structs.replace(
            cfg,
            carriers=carriers,
            routing=self.routing(cfg),
            redis=self.redis(cfg.redis),
            api=self.api(cfg.api),
        )

    def campaigns(self, cfg: Config) -> None:
        """Keyword tables that agree with each other, and reply texts that name only
        placeholders the engine fills and still fit one SMS once filled."""
        c = cfg.campaigns
        if "{" in c.organisation or "}" in c.organisation:
            self.fail("campaigns.organisation", f"expected no braces, got {_show(c.organisation)}")
        if c.default_language not in c.templates:
            known = ", ".join(sorted(c.templates)) or "none"
            self.fail(
                "campaigns.default_language",
                f"expected a language with [campaigns.templates.*] texts ({known}), "
                f"got {_show(c.default_language)}",
            )
        try:
            Classifier(c.keywords)
        except ValueError as exc:
            self.fail("campaigns.keywords", str(exc))
        if c.quiet_hours:
            try:
                parse_window(c.quiet_hours)
            except ValueError:
                self.fail(
                    "campaigns.quiet_hours",
                    f'expected "HH:MM-HH:MM" such as "21:00-08:00", got {_show(c.quiet_hours)}',
                )
        sample = {"organisation": c.organisation, "short_code": cfg.short_code,
                  "count": "1.000.000", "others": "999.999", "appeal": "9999",
                  "suggestion": "AFMELDEN"}  # fmt: skip
        for language, templates in c.templates.items():
            for name in templates.__struct_fields__:
                path = f"campaigns.templates.{language}.{name}"
                try:
                    check_template(getattr(templates, name), PLACEHOLDERS[name])
                    check_text(render(getattr(templates, name), sample))
                except TextError as exc:
                    self.fail(path, str(exc))

    def http(self, cfg: Config, raw: dict[str, Any]) -> Config:
        """``[metrics]`` host and port are the older spelling of ``[http]``: taken when
        ``[http]`` is absent, refused beside it (two addresses for one server)."""
        older = [name for name in ("host", "port") if name in raw.get("metrics", {})]
        if not older:
            return cfg
        if "http" in raw:
            self.fail(
                f"metrics.{older[0]}",
                "expected the HTTP server's address in [http] only ([metrics] host and port "
                "are its older name): move them to [http]",
            )
            return cfg
        http = HttpConfig(host=cfg.metrics.host, port=cfg.metrics.port)
        return msgspec.structs.replace(cfg, http=http)

    def reclaim_after_timeouts(self, cfg: Config) -> None:
        """A submit waits up to its bind's response timeout; another engine must not take
        its queue entry over before then."""
        longest = max((bind.response_timeout for _, bind in cfg.all_binds()), default=0.0)
        if cfg.outbox.reclaim_idle <= 2 * longest:
            self.fail(
                "outbox.reclaim_idle",
                f"expected more than twice the longest response_timeout ({longest:g} s), "
                f"got {cfg.outbox.reclaim_idle:g}",
            )

    def digits(self, path: str, value: str, least: int, most: int) -> None:
        if not (value.isascii() and value.isdigit() and least <= len(value) <= most):
            self.fail(path, f"expected {least} to {most} digits, got {_show(value)}")

    def carrier(self, name: str, carrier: CarrierConfig) -> CarrierConfig:
        path = f"carriers.{name}"
        if not _CARRIER_NAME.fullmatch(name):
            self.fail(path, f"carrier name {_show(name)}: expected only a-z, 0-9, '_' and '-'")
        for i, prefix in enumerate(carrier.prefixes):
            if not _PREFIX.fullmatch(prefix):
                self.fail(f"{path}.prefixes[{i}]", f'expected "+" and digits, got {_show(prefix)}')
        binds = [self.bind(f"{path}.binds[{i}]", b) for i, b in enumerate(carrier.binds)]
        return msgspec.structs.replace(carrier, binds=binds)

    def bind(self, path: str, bind: BindConfig) -> BindConfig:
        if not _BIND_NAME.fullmatch(bind.name):
            self.fail(
                f"{path}.name", f"expected 1 to 64 of A-Z a-z 0-9 _ . -, got {_show(bind.name)}"
            )
        for name in ("system_id", "system_type"):  # C-Octet Strings are ASCII (§3.1)
            value = getattr(bind, name)
            if not value.isascii() or "\0" in value:
                self.fail(f"{path}.{name}", f"expected ASCII without NUL, got {_show(value)}")
        if bind.source_npi not in _NPI_VALUES:
            allowed = ", ".join(map(str, sorted(_NPI_VALUES)))
            self.fail(f"{path}.source_npi", f"expected one of {allowed}, got {bind.source_npi}")
        if bind.reconnect_max < bind.reconnect_initial:
            self.fail(
                f"{path}.reconnect_max",
                f"expected >= reconnect_initial {bind.reconnect_initial}, got {bind.reconnect_max}",
            )
        return msgspec.structs.replace(
            bind, password=self.password(path, bind), tls_pin_sha256=self.tls(path, bind)
        )

    def tls(self, path: str, bind: BindConfig) -> list[str]:
        """Check the TLS fields; return the pins as lower-case hex."""
        used = [n for n in ("tls_ca", "tls_server_name", "tls_pin_sha256") if getattr(bind, n)]
        if used and not bind.tls:
            self.fail(f"{path}.{used[0]}", f"expected tls = true with {used[0]}, got tls = false")
        if bind.tls_ca is not None:
            self.tls_ca(f"{path}.tls_ca", bind)
        pins = []
        for i, pin in enumerate(bind.tls_pin_sha256):
            digest = _parse_pin(pin)
            if digest is None:
                self.fail(
                    f"{path}.tls_pin_sha256[{i}]",
                    "expected a SHA-256 fingerprint: 64 hex digits (colons allowed) or 44 base64 "
                    f"characters, got {_quote(pin)}",
                )
            pins.append(digest or pin)
        return pins

    def tls_ca(self, path: str, bind: BindConfig) -> None:
        assert bind.tls_ca is not None
        if not bind.tls_verify:
            self.fail(path, "expected no tls_ca with tls_verify = false (nothing is verified)")
            return
        try:
            ssl.create_default_context(cafile=bind.tls_ca)
        except FileNotFoundError:
            self.fail(
                path,
                f"file {_quote(bind.tls_ca)} not found: give the path of the carrier's CA "
                "bundle (PEM), or leave tls_ca out to use the system's trust store",
            )
        except ssl.SSLError:
            self.fail(
                path,
                f"no certificate found in {_quote(bind.tls_ca)}: expected a PEM file of "
                "CA certificates (-----BEGIN CERTIFICATE----- blocks)",
            )
        except OSError as exc:
            self.fail(
                path,
                f"cannot read {_quote(bind.tls_ca)} ({exc.strerror or exc}): expected a "
                "readable PEM file of CA certificates",
            )

    def password(self, path: str, bind: BindConfig) -> str | None:
        sources = [bind.password, bind.password_env, bind.password_file]
        if sum(s is not None for s in sources) != 1:
            self.fail(path, "expected exactly one of password, password_env or password_file")
            return bind.password
        if bind.password is not None:
            self.check_password(f"{path}.password", bind.password, "a string")
            return bind.password
        if bind.password_file is not None:
            return self.password_file(f"{path}.password_file", bind.password_file)
        assert bind.password_env is not None
        value = self.environ.get(bind.password_env)
        if value is None:
            self.fail(
                f"{path}.password_env", f"environment variable {bind.password_env} is not set"
            )
        else:
            self.check_password(f"{path}.password_env", value, f"${bind.password_env}")
        return value

    def password_file(self, path: str, name: str) -> str | None:
        """The file's text less one trailing newline; a warning if others may read it."""
        value = self.secret_file(path, name, "the password")
        if value is not None:
            self.check_password(path, value, f"file {_quote(name)}")
        return value

    def secret_file(self, path: str, name: str, what: str) -> str | None:
        """The file's text (Latin-1) less one trailing newline; a warning if others may
        read it."""
        try:
            with open(name, "rb") as file:
                mode = os.fstat(file.fileno()).st_mode
                data = file.read(4096)
        except OSError as exc:
            self.fail(
                path,
                f"cannot read {_quote(name)} ({exc.strerror or exc}): expected a file "
                f"holding {what}, readable by the engine's user only (chmod 600)",
            )
            return None
        if mode & 0o077:
            self.warn(
                path,
                f"{_quote(name)} is open to group or others (mode {mode & 0o777:04o}): "
                "run chmod 600 on it",
            )
        for newline in (b"\r\n", b"\n"):
            if data.endswith(newline):
                data = data[: -len(newline)]
                break
        return data.decode("latin-1")  # any byte decodes; the caller checks the characters

    def check_password(self, path: str, value: str, what: str) -> None:
        if len(value) > 8 or not value.isascii() or "\0" in value:
            self.fail(
                path, f"expected at most 8 ASCII characters, {what} has {len(value)} (not shown)"
            )

    def unique_bind_names(self, cfg: Config) -> None:
        seen: dict[str, str] = {}
        for carrier, cc in cfg.carriers.items():
            for i, bind in enumerate(cc.binds):
                path = f"carriers.{carrier}.binds[{i}].name"
                if bind.name in seen:
                    self.fail(path, f"{_show(bind.name)} is already the name of {seen[bind.name]}")
                seen.setdefault(bind.name, path.removesuffix(".name"))

    def routing(self, cfg: Config) -> RoutingConfig:
        routing, names = cfg.routing, list(cfg.carriers)
        owner: dict[str, str] = {}
        for name, carrier in cfg.carriers.items():
            for prefix in carrier.prefixes:
                if prefix in owner and owner[prefix] != name:
                    self.fail(
                        f"carriers.{name}.prefixes", f"{prefix} is also routed to {owner[prefix]}"
                    )
                owner.setdefault(prefix, name)
        if routing.default_carrier is None:
            default = names[0] if len(names) == 1 else None
            return msgspec.structs.replace(routing, default_carrier=default)
        if routing.default_carrier not in cfg.carriers:
            self.fail(
                "routing.default_carrier",
                f"expected one of {', '.join(names)}, got {_show(routing.default_carrier)}",
            )
        return routing

    def redis(self, redis: RedisConfig) -> RedisConfig:
        secret = redis.forget_secret
        if secret:
            self.fail(
                "redis.forget_secret",
                "expected the key in the environment: set forget_secret_env to the name of a "
                "variable holding it (a secret does not belong in the file)",
            )
        if redis.forget_secret_env is not None:
            secret = self.environ.get(redis.forget_secret_env, "")
            if len(secret) < 16:
                self.fail(
                    "redis.forget_secret_env",
                    f"environment variable {redis.forget_secret_env} must hold at least 16 "
                    f"characters, has {len(secret)}",
                )
        redis = msgspec.structs.replace(redis, forget_secret=secret)
        url, path = redis.url, "redis.url"
        if url is None and "REDIS_URL" in self.environ:
            url, path = self.environ["REDIS_URL"], "redis.url (from REDIS_URL)"
        if url is not None and not url.startswith(_REDIS_SCHEMES):
            schemes = ", ".join(_REDIS_SCHEMES)
            self.fail(
                path, f"expected a URL starting with {schemes}, got {_show(url.split('@')[-1])}"
            )
        return msgspec.structs.replace(redis, url=url)

    def api(self, api: ApiConfig) -> ApiConfig:
        """Each token's value from its environment variable or file; names and values unique."""
        tokens = [self.api_token(f"api.tokens[{i}]", t) for i, t in enumerate(api.tokens)]
        names: dict[str, int] = {}
        values: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if token.name in names:
                self.fail(
                    f"api.tokens[{i}].name",
                    f"{_show(token.name)} is already the name of api.tokens[{names[token.name]}]",
                )
            if token.token and token.token in values:
                self.fail(
                    f"api.tokens[{i}]",
                    f"the same token as api.tokens[{values[token.token]}] "
                    "(not shown): give each user a token of its own",
                )
            names.setdefault(token.name, i)
            values.setdefault(token.token, i)
        return msgspec.structs.replace(api, tokens=tokens)

    def api_token(self, path: str, token: ApiToken) -> ApiToken:
        if not _BIND_NAME.fullmatch(token.name):
            self.fail(
                f"{path}.name", f"expected 1 to 64 of A-Z a-z 0-9 _ . -, got {_show(token.name)}"
            )
        if token.token:
            self.fail(
                f"{path}.token",
                "expected the token in the environment or a file: set "
                "token_env or token_file (a secret does not belong in the file)",
            )
            return msgspec.structs.replace(token, token="")
        if (token.token_env is None) == (token.token_file is None):
            self.fail(path, "expected exactly one of token_env or token_file")
            return token
        if token.token_file is not None:
            where = f"{path}.token_file"
            value = self.secret_file(where, token.token_file, "the token")
            what = f"file {_quote(token.token_file)}"
        else:
            assert token.token_env is not None
            where, what = f"{path}.token_env", f"${token.token_env}"
            value = self.environ.get(token.token_env)
            if value is None:
                self.fail(where, f"environment variable {token.token_env} is not set")
        if value is None:
            return token
        value = value.strip()
        if not (value.isascii() and value.isprintable() and " " not in value):
            self.fail(
                where, f"expected printable ASCII without spaces, {what} has other characters"
            )
        elif len(value) < MIN_TOKEN_LENGTH:
            self.fail(
                where,
                f"expected a token of at least {MIN_TOKEN_LENGTH} characters, "
                f"{what} has {len(value)} (not shown): try openssl rand -hex 32",
            )
        return msgspec.structs.replace(token, token=value)
