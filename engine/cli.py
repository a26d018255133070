"""``ja-engine``: the operator's command line.

Subcommands import what they need lazily, so ``check-config`` works on a machine without
Redis or the simulator, and a part that is not built yet gives a clear error, not a traceback.
Exit codes: 0 success, 2 bad usage or bad configuration (argparse's own convention).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import get_args

from engine.config import BindConfig, Config, ConfigError, load_config
from engine.console import add_appeal_commands, add_subscriber_commands
from engine.logs import LogFormat, LogLevel
from engine.masking import redact_url

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["simulator"]:  # its options are the simulator's own: pass them untouched
        return _simulator(args[1:])
    ns = _parser().parse_args(args)
    handler: Callable[[argparse.Namespace], int] = ns.handler
    return handler(ns)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ja-engine", description="SMS urgent-action engine speaking SMPP 3.4 to carriers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = sub.add_parser("check-config", help="validate a configuration file without connecting")
    check.add_argument("config", metavar="FILE")
    check.set_defaults(handler=_check_config)
    run = sub.add_parser("run", help="run the engine with a configuration file")
    run.add_argument("config", metavar="FILE")
    run.add_argument(
        "--log-format",
        choices=get_args(LogFormat),
        help="overrides [logging] format: plain or json",
    )
    run.add_argument("--log-level", choices=get_args(LogLevel), help="overrides [logging] level")
    run.set_defaults(handler=_run)
    public = sub.add_parser(
        "public", help="serve only the public counter and live page (reads Redis, no binds)"
    )
    public.add_argument("config", metavar="FILE")
    public.add_argument("--host", help="overrides [http] public_host")
    public.add_argument("--port", type=int, help="overrides [http] public_port")
    public.add_argument("--log-format", choices=get_args(LogFormat), help="plain or json")
    public.add_argument("--log-level", choices=get_args(LogLevel))
    public.add_argument(
        "--parent-pipe",
        action="store_true",
        help="stop when standard input ends (how ja-engine run starts it)",
    )
    public.set_defaults(handler=_public)
    demo = sub.add_parser("demo", help="simulator plus engine in one process, end to end")
    demo.add_argument(
        "--recipients", type=int, default=10_000, help="handsets, all subscribed (default 10000)"
    )
    demo.add_argument(
        "--rate", type=float, default=2000.0, help="messages per second on the bind (default 2000)"
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep this run's Redis namespace (and say how to look)"
    )
    demo.add_argument(
        "--seed", type=int, default=1, help="the simulator's seed: same seed, same replies"
    )
    demo.set_defaults(handler=_demo)
    add_appeal_commands(sub)
    add_subscriber_commands(sub)
    # Listed for --help only; main() forwards "simulator ..." before argparse sees it.
    sub.add_parser("simulator", help="run the SMSC simulator (see: ja-engine simulator --help)")
    return parser


def _load(path: str, on_warning: Callable[[str], None] | None = None) -> Config | None:
    try:
        return load_config(path, on_warning=on_warning)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _check_config(ns: argparse.Namespace) -> int:
    config = _load(ns.config, on_warning=lambda line: print(line, file=sys.stderr))
    if config is None:
        return EXIT_USAGE
    print(f"{ns.config}: OK")
    for line in describe(config):
        print(f"  {line}")
    return EXIT_OK


def describe(config: Config) -> list[str]:
    """One line per carrier and per bind, plus routing, Redis, HTTP and logs; no secrets."""
    lines = []
    for name, carrier in config.carriers.items():
        prefixes = ", ".join(carrier.prefixes) or "no prefixes"
        default = " (default)" if name == config.routing.default_carrier else ""
        lines.append(f"carrier {name}{default}: {len(carrier.binds)} bind(s), {prefixes}")
        lines.extend(f"  bind {_bind_line(b)}" for b in carrier.binds)
    lines.append(f"redis: {_redact(config.redis.url)} (namespace {config.redis.namespace!r})")
    http, logs = config.http, config.logging
    lines.append(f"http: host {http.host}, port {http.port} (/metrics, /healthz, /readyz)")
    if http.public_port is not None:
        limit = f"{http.public_max_rate:g} answers/s" if http.public_max_rate else "no rate limit"
        lines.append(
            f"public server: host {http.public_host}, port {http.public_port}, nice "
            f"{http.public_nice}, {limit} (a process of its own: counter and live page)"
        )
    lines.append(f"logs: {logs.format}, {logs.level} and above")
    tokens = [f"{t.name} ({', '.join(t.scopes)})" for t in config.api.tokens]
    lines.append(f"api: /api/v1, tokens {', '.join(tokens)}" if tokens else "api: no tokens")
    return lines


def _bind_line(bind: BindConfig) -> str:
    tls = " tls" if bind.tls else ""
    return (
        f"{bind.name} {bind.host}:{bind.port}{tls} {bind.bind_type} "
        f"window={bind.window} rate={bind.rate:g}/s system_id={bind.system_id}"
    )


def _redact(url: str | None) -> str:
    return "embedded server" if url is None else redact_url(url)


def _simulator(argv: list[str]) -> int:
    try:
        from smpp.simulator.cli import main as simulator_main
    except ImportError as exc:
        print(f"ja-engine simulator: the simulator is not available ({exc})", file=sys.stderr)
        return EXIT_USAGE
    return simulator_main(argv)


def _app_entry(name: str) -> Callable[..., int] | None:
    """``engine.app.<name>``, or None (with a message) while engine/app.py is not built."""
    try:
        app = importlib.import_module("engine.app")
    except ModuleNotFoundError as exc:
        if exc.name != "engine.app":
            raise  # a real bug inside engine.app, not a missing module
        app = None
    entry: Callable[..., int] | None = getattr(app, name, None)
    if entry is None:
        print(f"ja-engine: {name} is not built yet (engine/app.py)", file=sys.stderr)
    return entry


def _run(ns: argparse.Namespace) -> int:
    config = _load(ns.config)
    if config is None:
        return EXIT_USAGE
    entry = _app_entry("run_from_cli")
    return EXIT_USAGE if entry is None else entry(config, ns)


def _public(ns: argparse.Namespace) -> int:
    config = _load(ns.config)
    if config is None:
        return EXIT_USAGE
    from engine.live.process import public_from_cli

    return public_from_cli(config, ns)


def _demo(ns: argparse.Namespace) -> int:
    entry = _app_entry("demo_from_cli")
    return EXIT_USAGE if entry is None else entry(ns)
