"""Every benchmark behind one entry point: the scenarios, the run, the results document.

A scenario is a benchmark module's ``collect`` function, called in this process at one of
two sizes: quick (CI: it runs and reports in shape, nothing about speed is asserted) or
full (the figures). Each returns its module's JSON object (the shape ``bench._report``
describes: ``results``, ``ratios``, plus what the module adds: time series, settings,
exactness checks). The suite runs them in the order below, times each, and records a
scenario that raises as an error instead of stopping the others.

The results document (``bench/results/latest.json`` after a full run) holds the run's
size, command, start and duration, the machine (``bench.machine``) and each scenario's
entry: title, when it ran, how long it took, its size, and its report or its error. With
``--only``, the scenarios not re-run are kept from the previous document of the same size,
each with its own date, so the report stays whole.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "SCENARIOS",
    "Options",
    "Scenario",
    "failures",
    "merge",
    "now",
    "read_document",
    "run",
    "write_document",
]


@dataclass(frozen=True)
class Options:
    quick: bool
    url: str
    """Redis for the scenarios that need one."""
    say: Callable[[str], None]
    """Progress lines (stderr)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    alone: str
    """The command that runs this scenario by itself (with its own flags)."""
    collect: Callable[[Options], dict[str, Any]]


def _codec(o: Options) -> dict[str, Any]:
    from bench import codec

    return codec.collect(o.quick)


def _simulator(o: Options) -> dict[str, Any]:
    from bench import simulator

    return simulator.collect(o.quick)


def _counters(o: Options) -> dict[str, Any]:
    from bench import counters

    return counters.collect(o.quick, o.url, o.say)


def _fanout(o: Options) -> dict[str, Any]:
    from bench import fanout

    return fanout.collect(o.quick, o.url, o.say)


def _burst(o: Options) -> dict[str, Any]:
    from bench import burst

    return burst.collect(o.quick, o.url, o.say)


def _counter(o: Options) -> dict[str, Any]:
    from bench import counter

    return counter.collect(o.quick, o.url, o.say)


def _export(o: Options) -> dict[str, Any]:
    from bench import export

    return export.collect(o.quick, o.url)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("codec", "Codec: PDUs encoded and decoded", "python -m bench.codec", _codec),
        Scenario(
            "simulator", "The SMSC simulator's own speed", "python -m bench.simulator", _simulator
        ),
        Scenario(
            "counters",
            "Redis: JA recorded per second, memory",
            "python -m bench.counters",
            _counters,
        ),
        Scenario(
            "fanout",
            "Fan-out: queue to submit_sm_resp, against peer clients",
            "python -m bench.fanout",
            _fanout,
        ),
        Scenario("burst", "TV burst: JA replies end to end", "python -m bench.burst", _burst),
        Scenario(
            "counter",
            "The public counter polled during a TV burst",
            "python -m bench.counter",
            _counter,
        ),
        Scenario("export", "Export of an appeal's signatures", "python -m bench.export", _export),
    )
}
"""In the order they run; the report puts the headline (fan-out) first."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(names: Iterable[str], options: Options) -> dict[str, dict[str, Any]]:
    """Each named scenario once, in registry order; an entry per scenario."""
    wanted = set(names)
    entries: dict[str, dict[str, Any]] = {}
    for scenario in SCENARIOS.values():
        if scenario.name not in wanted:
            continue
        options.say(f"== {scenario.name}: {scenario.title}")
        entry: dict[str, Any] = {
            "title": scenario.title,
            "started_at": now(),
            "size": "quick" if options.quick else "full",
        }
        start = time.monotonic()
        try:
            entry["report"] = scenario.collect(options)
        except Exception as exc:  # one failed scenario must not cost the others' figures
            entry["error"] = f"{type(exc).__name__}: {exc}"
            options.say(traceback.format_exc())
        entry["seconds"] = round(time.monotonic() - start, 1)
        options.say(f"== {scenario.name}: {entry['seconds']:.0f} s")
        entries[scenario.name] = entry
    return entries


def failures(scenarios: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per scenario that raised or whose own checks failed (the burst's exactness)."""
    out = []
    for name, entry in scenarios.items():
        if "error" in entry:
            out.append(f"{name}: {entry['error']}")
        elif entry.get("report", {}).get("exactness", {}).get("passed") is False:
            out.append(f"{name}: exactness check failed")
    return out


def merge(
    previous: Mapping[str, Any] | None, scenarios: dict[str, dict[str, Any]], size: str
) -> dict[str, dict[str, Any]]:
    """The scenarios just run, plus those of ``previous`` (same size) not re-run, in order."""
    kept: dict[str, Any] = {}
    if previous is not None and previous.get("size") == size:
        kept = dict(previous.get("scenarios", {}))
    kept |= scenarios
    return {name: kept[name] for name in SCENARIOS if name in kept}


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_document(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(document), indent=1, allow_nan=False)
    path.write_text(text + "\n")


def read_document(path: Path) -> dict[str, Any] | None:
    """The document at ``path``, or None if there is none (or it does not parse)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
