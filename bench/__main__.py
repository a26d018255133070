"""``python -m bench``: every benchmark, its JSON results, the Markdown report and the charts.

``python -m bench [--quick] [--only NAME[,NAME]] [--out DIR] [--url URL] [--render]``

Full size (the default) writes the committed report: ``bench/results/latest.json``,
``docs/benchmarks.md`` and ``docs/bench/*.png``. ``--quick`` is the CI size (it checks that
everything runs and reports in shape; nothing about speed is asserted) and writes into
``--out DIR``, by default a new temporary directory, never over the committed files.
``--only`` runs some scenarios (codec, simulator, counters, fanout, burst, export); the
others are kept from the previous results of the same size. ``--render`` writes the report
and the charts again from the results, running nothing. Progress goes to stderr; the last
lines on stdout say where everything went. Exit status 1 when a scenario failed (raised, or
its own exactness check did not hold).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import charts, markdown, suite
from bench.machine import describe
from engine.masking import redact_url

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Paths:
    results: Path
    report: Path
    charts: Path


def paths_for(out: Path | None) -> Paths:
    """The committed locations, or ``out``'s ``latest.json``, ``benchmarks.md``, ``bench/``."""
    if out is None:
        docs = ROOT / "docs"
        return Paths(ROOT / "bench/results/latest.json", docs / "benchmarks.md", docs / "bench")
    return Paths(out / "latest.json", out / "benchmarks.md", out / "bench")


def _names(only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(suite.SCENARIOS)
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in suite.SCENARIOS]
    if unknown:
        known = ", ".join(suite.SCENARIOS)
        raise SystemExit(f"python -m bench: no scenario {', '.join(unknown)} (known: {known})")
    return names


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size, into a temporary directory")
    parser.add_argument("--only", action="append", metavar="NAME", help="run these scenarios")
    parser.add_argument("--out", type=Path, help="write here instead (quick: a temporary dir)")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--render", action="store_true", help="report again from the results")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, names: list[str], paths: Paths) -> dict[str, Any]:
    """Run the scenarios and write the results document; returns it."""

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    size = "quick" if args.quick else "full"
    started, start = suite.now(), time.monotonic()
    machine = describe(args.url)
    entries = suite.run(names, suite.Options(args.quick, args.url, say))
    previous = suite.read_document(paths.results) if args.only else None
    document: dict[str, Any] = {
        "suite": "ja-engine benchmarks",
        "size": size,
        "command": "python -m bench" + (" --quick" if args.quick else ""),
        "started_at": started,
        "seconds": round(time.monotonic() - start, 1),
        "redis_url": redact_url(args.url),
        "machine": machine,
        "scenarios": suite.merge(previous, entries, size),
    }
    suite.write_document(paths.results, document)
    return document


def write_report(document: dict[str, Any], paths: Paths) -> dict[str, Path]:
    """The charts and the Markdown report (charts linked relative to the report)."""
    drawn = charts.render(document.get("scenarios", {}), paths.charts)
    linked = {name: os.path.relpath(path, paths.report.parent) for name, path in drawn.items()}
    paths.report.parent.mkdir(parents=True, exist_ok=True)
    paths.report.write_text(markdown.render(document, linked))
    return drawn


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    names = _names(args.only)
    out = args.out
    if out is None and args.quick and not args.render:
        out = Path(tempfile.mkdtemp(prefix="ja-bench-quick-"))
    paths = paths_for(out)
    if args.render:
        found = suite.read_document(paths.results)
        if found is None:
            raise SystemExit(f"python -m bench --render: no results at {paths.results}")
        document = found
    else:
        document = run(args, names, paths)
    drawn = write_report(document, paths)
    for name, entry in document["scenarios"].items():
        print(f"{name}: {entry.get('seconds', 0):.0f} s{' (error)' if 'error' in entry else ''}")
    print(f"results: {paths.results}")
    print(f"report: {paths.report}")
    print(f"charts: {', '.join(str(p) for p in drawn.values()) or 'none'}")
    failed = suite.failures(document["scenarios"])
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
