"""``ja-engine appeal create|list|show|send|pause|resume|cancel|outcome``.

Each is a thin layer over ``engine.campaigns.Campaigns``: the engines running against the
same Redis do the work (fan-out, sending); these commands ask and report. Read commands take
``--json``; refusals exit 1 with a sentence saying what to do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

import trio
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.campaigns import AppealSpec, AppealView, Campaigns
from engine.campaigns.export import ExportSummary, summarise, write_csv
from engine.campaigns.model import AppealStatus, FanOutProgress
from engine.campaigns.texts import TextCheck, check_text, format_count, render
from engine.console.session import EXIT_OK, EXIT_REFUSED, Console, add_common, run_command

__all__ = ["add_appeal_commands"]

FOLLOW_EVERY = 1.0


def add_appeal_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    appeal = sub.add_parser("appeal", help="create, send, watch and stop urgent actions")
    verbs = appeal.add_subparsers(dest="verb", required=True, metavar="VERB")

    create = verbs.add_parser("create", help="check an appeal's text and store it as a draft")
    add_common(create)
    create.add_argument("--title", required=True)
    create.add_argument("--text", required=True, help="what every subscriber receives")
    create.add_argument("--language", default="", help="of the text and replies (default nl)")
    create.add_argument("--public", action="store_true", help="JA from non-subscribers count")
    create.add_argument("--thank-you", default="", help="thank-you template ({count}, {others})")
    create.add_argument("--segment", default="", metavar="LANG",
                        help="send only to subscribers of this language")  # fmt: skip
    create.add_argument("--force", action="store_true", help="allow more than one SMS")
    create.add_argument(
        "--urgent", action="store_true", help="ignore the weekly cap per subscriber (recorded)"
    )
    create.add_argument("--dry-run", action="store_true", help="show, store nothing")
    create.set_defaults(handler=lambda ns: run_command(ns, _create))

    for name, text, handler in (
        ("list", "the newest appeals", _list),
        ("show", "an appeal's live figures", _show),
        ("send", "send an appeal to its audience", _send),
        ("pause", "stop sending within a second; resume goes on", _pause),
        ("resume", "go on sending a paused appeal", _resume),
        ("cancel", "send nothing more; signatures stay", _cancel),
    ):
        verb = verbs.add_parser(name, help=text)
        add_common(verb)
        if name != "list":
            verb.add_argument("appeal", type=int, metavar="ID")
        if name == "send":
            verb.add_argument("--yes", action="store_true", help="do not ask for confirmation")
            verb.add_argument("--follow", action="store_true", help="report until all is sent")
        verb.set_defaults(handler=lambda ns, h=handler: run_command(ns, h))

    export = verbs.add_parser("export", help="the signatures for the authorities")
    add_common(export)
    export.add_argument("appeal", type=int, metavar="ID")
    export.add_argument("--csv", metavar="FILE", help="write the signatures here ('-': stdout)")
    export.add_argument(
        "--unmasked", action="store_true", help="whole numbers (recorded in the audit log)"
    )
    export.set_defaults(handler=lambda ns: run_command(ns, _export))

    outcome = verbs.add_parser("outcome", help="send the outcome to the signers, once")
    add_common(outcome)
    outcome.add_argument("appeal", type=int, metavar="ID")
    outcome.add_argument("--text", required=True)
    outcome.add_argument("--force", action="store_true", help="allow more than one SMS")
    outcome.set_defaults(handler=lambda ns: run_command(ns, _outcome))


def _campaigns(console: Console) -> Campaigns:
    return Campaigns(console.store, console.config.campaigns)


# --- commands --------------------------------------------------------------------------------


async def _create(console: Console, ns: argparse.Namespace) -> int:
    spec = AppealSpec(
        title=ns.title,
        text=ns.text,
        language=ns.language,
        public=ns.public,
        thank_you=ns.thank_you,
        audience_language=ns.segment,
        urgent=ns.urgent,
        force=ns.force,
    )
    check = check_text(ns.text, force=True)
    if ns.dry_run:
        _preview(console, spec, check)
        limit_ok = check.segments == 1 or ns.force
        return EXIT_OK if limit_ok else EXIT_REFUSED
    view = await _campaigns(console).create(spec)
    if console.json:
        console.emit(view)
    else:
        _describe_check(console, check)
        console.say(
            f"appeal {view.id} stored as a draft; send it with: ja-engine appeal send {view.id}"
        )
    return EXIT_OK


async def _list(console: Console, ns: argparse.Namespace) -> int:
    views = await _campaigns(console).list()
    if console.json:
        console.emit(views)
        return EXIT_OK
    if not views:
        console.say("no appeals yet: ja-engine appeal create --title ... --text ...")
        return EXIT_OK
    if console.tty:
        rows = [[str(v.id), _state(v), f"{v.signatures:,}", f"{v.fanout.sent:,}", v.title]
                for v in views]  # fmt: skip
        console.table("Appeals", ["id", "state", "signatures", "sent", "title"], rows)
        return EXIT_OK
    for v in views:
        console.say(f"{v.id:>5}  {_state(v):<9}  {v.signatures:>9,} signatures  {v.title}")
    return EXIT_OK


async def _show(console: Console, ns: argparse.Namespace) -> int:
    view = await _campaigns(console).show(ns.appeal)
    _report(console, view)
    return EXIT_OK


async def _send(console: Console, ns: argparse.Namespace) -> int:
    campaigns = _campaigns(console)
    view = await campaigns.show(ns.appeal)
    if view.status is not AppealStatus.DRAFT:
        console.say(f"appeal {ns.appeal} was sent already ({view.status.value})")
        return EXIT_OK
    audience = await console.store.subscribers.active_count()
    rate = sum(bind.rate for _, bind in console.config.all_binds())
    eta = audience / rate if rate else 0.0
    question = (
        f"Send appeal {ns.appeal} ({view.title!r}) to {audience:,} subscribers "
        f"(about {_duration(eta)} at {rate:,.0f} msg/s)?"
    )
    if not ns.yes:
        if not sys.stdin.isatty():
            print(f"ja-engine: {question} Not on a terminal: pass --yes to send.", file=sys.stderr)
            return EXIT_REFUSED
        answer = await trio.to_thread.run_sync(input, f"{question} [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "j", "ja"):
            console.say("not sent")
            return EXIT_REFUSED
    view = await campaigns.send(ns.appeal)
    if ns.follow:
        view = await _follow(console, campaigns, view)
    _report(console, view)
    return EXIT_OK


async def _follow(console: Console, campaigns: Campaigns, view: AppealView) -> AppealView:
    """Report until every recipient is sent, refused or failed (or the appeal is cancelled):
    a progress bar on a terminal, a line a second otherwise."""

    def done(v: AppealView) -> bool:
        return v.cancelled or (
            v.fanout.status == AppealStatus.SENT.value and not v.fanout.remaining
        )

    if console.rich is None:
        while not done(view):
            if not console.json:
                console.say(_progress_line(view.fanout))
            await trio.sleep(FOLLOW_EVERY)
            view = await campaigns.show(view.id)
        return view
    with Progress(
        TextColumn("appeal {task.fields[appeal]}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console.rich,
    ) as progress:  # fmt: skip
        task = progress.add_task("send", total=view.fanout.audience or None, appeal=view.id)
        while not done(view):
            fan = view.fanout
            progress.update(task, completed=fan.audience - fan.remaining, total=fan.audience)
            await trio.sleep(FOLLOW_EVERY)
            view = await campaigns.show(view.id)
        progress.update(task, completed=view.fanout.audience)
    return view


async def _pause(console: Console, ns: argparse.Namespace) -> int:
    _report(console, await _campaigns(console).pause(ns.appeal))
    return EXIT_OK


async def _resume(console: Console, ns: argparse.Namespace) -> int:
    _report(console, await _campaigns(console).resume(ns.appeal))
    return EXIT_OK


async def _cancel(console: Console, ns: argparse.Namespace) -> int:
    _report(console, await _campaigns(console).cancel(ns.appeal))
    return EXIT_OK


async def _outcome(console: Console, ns: argparse.Namespace) -> int:
    _report(console, await _campaigns(console).outcome(ns.appeal, ns.text, force=ns.force))
    return EXIT_OK


async def _export(console: Console, ns: argparse.Namespace) -> int:
    """The summary on stdout (stderr when the CSV goes to stdout); the CSV streamed."""
    summary = await summarise(console.store, ns.appeal)
    to_stdout = ns.csv == "-"
    if console.json and not to_stdout:
        console.emit(summary)
    else:
        for line in _summary_lines(summary):
            print(line, file=sys.stderr if to_stdout else sys.stdout, flush=True)
    if not ns.csv:
        return EXIT_OK
    who = getpass.getuser()
    if to_stdout:
        rows = await write_csv(console.store, ns.appeal, sys.stdout, unmasked=ns.unmasked, who=who)
    else:
        with open(ns.csv, "w", newline="", encoding="utf-8") as out:  # noqa: ASYNC230 (a local file, streamed)
            rows = await write_csv(console.store, ns.appeal, out, unmasked=ns.unmasked, who=who)
        if not console.json:
            masked = "numbers unmasked (recorded)" if ns.unmasked else "numbers masked"
            console.say(f"{rows:,} signatures written to {ns.csv} ({masked})")
    return EXIT_OK


def _summary_lines(summary: ExportSummary) -> list[str]:
    def when(at: float | None) -> str:
        if at is None:
            return "-"
        return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    lines = [
        f"Appeal {summary.appeal}: {summary.title}",
        f"Text: {summary.text}",
        f"Sent: {when(summary.sent_at or None)}",
        f"Signatures: {summary.signatures:,}",
        f"First signature: {when(summary.first_signature)}",
        f"Last signature: {when(summary.last_signature)}",
        "Signatures per hour (UTC):",
    ]
    lines += [f"  {hour}  {n:>9,}" for hour, n in summary.per_hour.items()]
    return lines


# --- output ----------------------------------------------------------------------------------


def _preview(console: Console, spec: AppealSpec, check: TextCheck) -> None:
    """Exactly what a handset will see, and what the engine will answer a signer."""
    cfg = console.config.campaigns
    language = spec.language or cfg.default_language
    templates = cfg.templates.get(language, cfg.templates[cfg.default_language])
    thanks = render(
        spec.thank_you or templates.thank_you,
        {"organisation": cfg.organisation, "short_code": console.config.short_code,
         "count": format_count(4212, language), "others": format_count(4211, language),
         "appeal": "ID"},
    )  # fmt: skip
    if console.json:
        console.emit({"text": spec.text, "check": check, "thank_you_example": thanks})
        return
    console.say("A handset receives:")
    console.say(f"  {spec.text}")
    _describe_check(console, check)
    console.say("A signer receives, a little later (with the count at that moment):")
    console.say(f"  {thanks}")
    console.say("dry run: nothing stored")


def _describe_check(console: Console, check: TextCheck) -> None:
    console.say(
        f"text check: {check.encoding}, {check.length} of {check.per_segment} characters, "
        f"{check.segments} segment{'s' if check.segments != 1 else ''}"
    )
    if check.forcing_ucs2:
        shown = ", ".join(f"{c!r} at {i}" for i, c in check.forcing_ucs2)
        console.say(f"  UCS2 because of {shown}: replace them to fit 160 characters")


def _report(console: Console, view: AppealView) -> None:
    if console.json:
        console.emit(view)
        return
    rows = [
        ("text", view.text),
        ("signatures", f"{view.signatures:,} (duplicates rejected {view.duplicates:,}, "
                       f"after closing {view.late:,}); opt-outs since {view.opt_outs:,}"),
        ("fan-out", _progress_line(view.fanout)),
        ("thank-yous", f"queued {view.thanks.queued:,}, sent {view.thanks.sent:,}, "
                       f"{view.thank_you_delay:.1f} s after the JA on average"),
    ]  # fmt: skip
    if view.outcome.status:
        rows.append(("outcome", _progress_line(view.outcome)))
    for kind, states in sorted(view.receipts.items()):
        shown = ", ".join(f"{state.lower()} {n:,}" for state, n in sorted(states.items()))
        rows.append(("receipts", f"{kind}: {shown}"))
    title = f"appeal {view.id}: {view.title} ({_state(view)}{', public' if view.public else ''})"
    if console.tty:
        console.table(title, ["", ""], [list(row) for row in rows])
        return
    console.say(title)
    for label, value in rows:
        console.say(f"  {label:<11} {value}")


def _state(view: AppealView) -> str:
    """draft, sending (until every recipient is sent, refused or failed), sent, paused or
    cancelled, as an operator means them."""
    if view.cancelled:
        return "cancelled"
    if view.paused:
        return "paused"
    if view.status is AppealStatus.SENT and view.fanout.remaining:
        return AppealStatus.SENDING.value
    return view.status.value


def _progress_line(p: FanOutProgress) -> str:
    parts = [f"sent {p.sent:,} of {p.audience:,}", f"queued {p.queued:,}"]
    for name in ("refused", "failed", "skipped", "capped", "held", "cancelled"):
        value = getattr(p, name)
        if value:
            parts.append(f"{'paused' if name == 'held' else name} {value:,}")
    parts.append(f"remaining {p.remaining:,}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
