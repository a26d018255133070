"""``python -m smpp.simulator``: run the SMSC simulator from a TOML file and flags.

Flags override the file. It prints ``listening on HOST:PORT`` (one line a script can
parse) once it accepts connections, serves Prometheus metrics with ``--metrics-port``,
and on SIGINT/SIGTERM unbinds its clients and writes the ledger (``--ledger FILE``).
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import msgspec
import trio

from smpp.simulator.centre import DEFAULT_ACCOUNT
from smpp.simulator.config import ConfigError, SimulatorConfig, load_config
from smpp.simulator.server import open_simulator

__all__ = ["build_parser", "config_from_args", "main", "serve"]


def _account(value: str) -> dict[str, Any]:
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise argparse.ArgumentTypeError(f"expected SYSTEM_ID:PASSWORD[:TPS], got {value!r}")
    account: dict[str, Any] = {"system_id": parts[0], "password": parts[1]}
    if len(parts) == 3:
        try:
            account["tps"] = float(parts[2])
        except ValueError:
            raise argparse.ArgumentTypeError(f"TPS must be a number, got {parts[2]!r}") from None
    return account


def _rate(value: str) -> float:
    if value == "max":
        return math.inf
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate or 'max', got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m smpp.simulator",
        description="SMPP 3.4 SMSC simulator with a population of handsets.",
    )
    add = p.add_argument
    add("--config", metavar="FILE", help="TOML file (see docs/simulator.md)")
    add("--host", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, help="TCP port (default 2775; 0 picks a free one)")
    add(
        "--account",
        action="append",
        type=_account,
        metavar="ID:PASSWORD[:TPS]",
        help="an account (repeatable); replaces the file's accounts",
    )
    add("--strict", action="store_true", help="strict TPS for the --account accounts")
    add("--handsets", type=int, metavar="N", help="population size")
    add("--first-number", metavar="DIGITS", help="number of handset 0 (E.164, no '+')")
    add("--reply-probability", type=float, metavar="P", help="probability of a JA reply")
    add("--seed", type=int, metavar="S")
    add("--time-compression", type=float, metavar="F", help="divide receipt and reply delays by F")
    add("--receipt-delay", type=float, metavar="SECONDS", help="receipt delay (no jitter)")
    add("--deliver-window", type=int, metavar="N", help="deliver_sm window per bind")
    add("--ledger", metavar="FILE", help="write the ledger here (JSON lines) at shutdown")
    add("--ledger-limit", type=int, metavar="N", help="records kept in memory (0: none)")
    add("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics")
    add("--tv-rate", type=_rate, metavar="R|max", help="start a TV burst at R MO/s")
    add("--tv-duration", type=float, metavar="SECONDS", help="length of the TV burst")
    add("--log-level", default="WARNING")
    return p


def _override(data: dict[str, Any], args: argparse.Namespace) -> None:
    handsets, receipts, ledger = data["handsets"], data["receipts"], data["ledger"]
    simple: list[tuple[str, dict[str, Any], str]] = [
        ("host", data, "host"),
        ("port", data, "port"),
        ("seed", data, "seed"),
        ("time_compression", data, "time_compression"),
        ("metrics_port", data, "metrics_port"),
        ("handsets", handsets, "count"),
        ("first_number", handsets, "first_number"),
        ("reply_probability", handsets, "reply_probability"),
        ("deliver_window", data["delivery"], "window"),
        ("ledger", ledger, "path"),
        ("ledger_limit", ledger, "max_records"),
    ]
    for flag, table, key in simple:
        value = getattr(args, flag)
        if value is not None:
            table[key] = value
    if args.receipt_delay is not None:
        receipts["delay"], receipts["jitter"] = args.receipt_delay, 0.0
    if args.account:
        data["accounts"] = [a | {"strict": args.strict} for a in args.account]
    if args.tv_rate is not None:
        rate, duration = args.tv_rate, args.tv_duration
        profile = (
            [(0.0, rate)] if duration is None else [(0.0, rate), (duration, rate), (duration, 0.0)]
        )
        data["tv"] |= {"enabled": True, "profile": profile}


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The file's configuration with the flags applied.

    Raises:
        ConfigError: the file or a flag gives a value that is not accepted.
    """
    base = load_config(args.config)
    data = msgspec.to_builtins(base)
    _override(data, args)
    try:
        return msgspec.convert(data, SimulatorConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"flags: {exc}") from None


async def serve(config: SimulatorConfig, *, say: Callable[[str], None] = print) -> None:
    """Run until SIGINT/SIGTERM, then unbind clients and write the ledger."""
    from smpp.simulator.metrics import serve_metrics

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_simulator(config) as sim:
            host, port = await sim.listen()
            metrics = None
            if config.metrics_port is not None:
                metrics, metrics_port = serve_metrics(sim, config.metrics_port, host)
                say(f"metrics on http://{host}:{metrics_port}/metrics")
            if not config.accounts:
                a = DEFAULT_ACCOUNT
                say(f"account {a.system_id}:{a.password} (default; set with --account)")
            say(f"listening on {host}:{port}")
            async for signum in signals:
                say(f"{signal.Signals(signum).name}: unbinding clients")
                break
            await sim.shutdown(grace=2.0)
            if metrics is not None:
                metrics.shutdown()  # type: ignore[attr-defined]
            if config.ledger.path is not None:
                n = sim.ledger.export_jsonl(config.ledger.path)
                say(f"ledger: {n} records written to {config.ledger.path}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(line, flush=True)

    trio.run(partial(serve, config, say=say))
    return 0
