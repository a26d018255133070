"""``python -m bench.faults``: run the fault scenarios, print the table, exit 1 on a failure.

Each scenario runs in a ``trio.run`` of its own, on a Redis namespace of its own, with a
fresh simulator and fresh engine processes; whatever happens, everything it started is
stopped and its keys deleted before the next one starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import trio

from bench.faults.carrier import carrier_faults
from bench.faults.crash import kill9_burst, kill9_fanout
from bench.faults.memory import million_fanout, stalled_carrier
from bench.faults.redis_restart import redis_restart
from bench.faults.report import Row, json_report, markdown
from bench.faults.stage import Options

__all__ = ["SCENARIOS", "main"]

LEGEND = (
    "Time to recover: kill9-*, from the kill to the first submit the restarted engine had "
    "accepted (restarted at once); redis-restart, from Redis answering again to the first "
    "deliver_sm the engine acknowledged; stalled-carrier, from the end of the stall to the "
    "first submit accepted; carrier-*, the longest time in the phase with no submit accepted. "
    "Lost: recipients never reached, or for a JA burst signatures not counted."
)

Scenario = Callable[[Options, list[Row]], Awaitable[None]]

SCENARIOS: dict[str, Scenario] = {
    "kill9-fanout": kill9_fanout,
    "kill9-burst": kill9_burst,
    "carrier": carrier_faults,
    "redis-restart": redis_restart,
    "stalled-carrier": stalled_carrier,
    "million-fanout": million_fanout,
}


def run_scenario(name: str, options: Options) -> list[Row]:
    """One scenario's rows; an exception becomes the error of its last row."""
    rows: list[Row] = []
    started = time.monotonic()
    try:
        trio.run(SCENARIOS[name], options, rows)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exception(exc, file=sys.stderr)
        if not rows:
            rows.append(Row(name, "(did not start)"))
        rows[-1].error = _describe(exc)
    for row in rows:
        row.seconds = row.seconds or round(time.monotonic() - started, 1)
    return rows


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description="Fault scenarios: invariants under failure."
    )
    parser.add_argument("--quick", action="store_true", help="the CI size (about a minute)")
    parser.add_argument(
        "--only", action="append", choices=list(SCENARIOS), metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every row here")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="keep engine logs here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = args.only or list(SCENARIOS)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp_name:
        tmp = args.keep_logs or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        options = Options(url=args.url, quick=args.quick, tmp=tmp, say=say)
        for name in names:
            say(f"{name}: running")
            for row in run_scenario(name, options):
                rows.append(row)
                verdict = "pass" if row.ok else "FAIL"
                say(f"{row.scenario}: {verdict} in {row.seconds:.1f} s")
    print(markdown(rows))
    print(f"\n{LEGEND}")
    if args.json is not None:
        args.json.write_text(json.dumps(json_report(rows, quick=args.quick), indent=1) + "\n")
    return 0 if all(r.ok for r in rows) else 1
