"""``ja-engine subscribers import|show|forget|stats``: the registry, by an operator.

Imported numbers are pending until each person confirms by text (START/AAN): an import is a
list someone gave us, not consent. Numbers are shown masked unless asked (``--unmasked``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import time
from pathlib import Path

from engine.console.numbers import NumberError, to_e164
from engine.console.session import EXIT_OK, EXIT_REFUSED, Console, add_common, run_command
from engine.masking import mask_number

__all__ = ["add_subscriber_commands", "read_numbers"]

IMPORT_CHUNK = 5000


def add_subscriber_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    subscribers = sub.add_parser("subscribers", help="import, look up, forget; statistics")
    verbs = subscribers.add_subparsers(dest="verb", required=True, metavar="VERB")

    imp = verbs.add_parser("import", help="add a CSV of numbers as pending (they confirm by text)")
    add_common(imp)
    imp.add_argument("file", type=Path, metavar="CSV")
    imp.add_argument("--language", default="", help="the language they will be written in")
    imp.add_argument("--source", default="", help="recorded in the consent log (default: file)")
    imp.set_defaults(handler=lambda ns: run_command(ns, _import))

    show = verbs.add_parser("show", help="a number's status and consent history")
    add_common(show)
    show.add_argument("number")
    show.add_argument("--unmasked", action="store_true", help="show the whole number")
    show.set_defaults(handler=lambda ns: run_command(ns, _show))

    forget = verbs.add_parser("forget", help="erase a number; an import cannot bring it back")
    add_common(forget)
    forget.add_argument("number")
    forget.add_argument("--reason", default="", help="recorded (e.g. a ticket number)")
    forget.set_defaults(handler=lambda ns: run_command(ns, _forget))

    stats = verbs.add_parser("stats", help="active, pending, opted out; reach")
    add_common(stats)
    stats.set_defaults(handler=lambda ns: run_command(ns, _stats))


def read_numbers(path: Path, country_code: str) -> tuple[list[str], list[str]]:
    """The numbers of a CSV (first column, or the one named number/phone/msisdn/mobile), in
    E.164, and the problems as "line N: ..." (a header line is recognised and skipped)."""
    numbers: list[str] = []
    problems: list[str] = []
    column = 0
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle), 1):
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if line == 1:
                named = [i for i, c in enumerate(cells) if c.lower() in _HEADERS]
                if named or not any(ch.isdigit() for ch in cells[0]):
                    column = named[0] if named else 0
                    continue
            if column >= len(cells):
                problems.append(f"line {line}: no column {column + 1}")
                continue
            try:
                numbers.append(to_e164(cells[column], country_code))
            except NumberError as exc:
                problems.append(f"line {line}: {exc}")
    return numbers, problems


_HEADERS = frozenset({"number", "phone", "msisdn", "mobile", "telefoon", "nummer"})


async def _import(console: Console, ns: argparse.Namespace) -> int:
    try:
        numbers, problems = read_numbers(ns.file, console.config.country_code)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        console.fail(f"cannot read {ns.file}: {exc}")
        return EXIT_REFUSED
    if problems:
        for problem in problems[:20]:
            console.fail(f"{ns.file}: {problem}")
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        console.fail(f"{len(problems)} bad rows{more}: nothing imported; fix them and run again")
        return EXIT_REFUSED
    unique = list(dict.fromkeys(numbers))
    source = ns.source or f"import:{ns.file.name}"
    results = []
    for start in range(0, len(unique), IMPORT_CHUNK):
        chunk = unique[start : start + IMPORT_CHUNK]
        results += await console.store.subscribers.import_numbers(
            chunk, source=source, language=ns.language
        )
    refused = sum(r.refused for r in results)
    active = sum(r.was_active for r in results)
    pending = len(results) - refused - active
    summary = {"read": len(numbers), "distinct": len(unique), "pending": pending,
               "already_active": active, "refused_forgotten": refused}  # fmt: skip
    if console.json:
        console.emit(summary)
    else:
        console.say(
            f"{len(unique):,} numbers: {pending:,} pending until they confirm by text, "
            f"{active:,} already subscribed, {refused:,} refused (forgotten at their request)"
        )
    return EXIT_OK


async def _show(console: Console, ns: argparse.Namespace) -> int:
    number = _number(console, ns.number)
    subscribers = console.store.subscribers
    (subscriber,) = await subscribers.ids([number], create=False)
    shown = number if ns.unmasked else mask_number(number)
    status = "unknown"
    if subscriber:
        ((active, stopped),) = await subscribers.consent_states([subscriber])
        pending = await subscribers.is_pending(subscriber)
        status = (
            "active" if active else "pending" if pending else "opted out" if stopped else "known"
        )
    history = await subscribers.history(number)
    if console.json:
        console.emit({"number": shown, "status": status, "history": [
            {"at": e.at, "kind": e.kind.value, "source": e.source, "text": e.text}
            for e in history]})  # fmt: skip
        return EXIT_OK
    console.say(f"{shown}: {status}")
    for event in history:
        when = dt.datetime.fromtimestamp(event.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = f" {event.text!r}" if event.text else ""
        console.say(f"  {when}  {event.kind.value:<11} via {event.source}{text}")
    return EXIT_OK


async def _forget(console: Console, ns: argparse.Namespace) -> int:
    if not console.config.redis.forget_secret:
        console.fail(
            "forget needs the key of the suppression hashes: set redis.forget_secret_env to an "
            "environment variable holding at least 16 characters (and keep it)"
        )
        return EXIT_REFUSED
    number = _number(console, ns.number)
    source = f"operator{':' + ns.reason if ns.reason else ''}"
    subscriber = await console.store.subscribers.forget(number, source=source)
    if console.json:
        console.emit({"forgotten": bool(subscriber)})
    else:
        state = "erased" if subscriber else "was not known; its suppression entry is kept"
        console.say(f"{mask_number(number)} {state}: an import cannot add it again")
    return EXIT_OK


async def _stats(console: Console, ns: argparse.Namespace) -> int:
    active, pending, stopped = await console.store.subscribers.counts()
    reach = console.store.reach
    today = dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
    figures = {"active": active, "pending": pending, "opted_out": stopped,
               "reach_today": await reach.day(today), "reach_month": await reach.month(today),
               "reach_all_time": await reach.all_time()}  # fmt: skip
    if console.json:
        console.emit(figures)
        return EXIT_OK
    for name, value in figures.items():
        console.say(f"{name.replace('_', ' '):<15} {value:>12,}")
    console.say("(reach: approximate distinct participants, HyperLogLog)")
    return EXIT_OK


def _number(console: Console, raw: str) -> str:
    try:
        return to_e164(raw, console.config.country_code)
    except NumberError as exc:
        raise UsageError(str(exc)) from None


class UsageError(ValueError):
    """A bad argument: exit 2."""
