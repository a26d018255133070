"""Shared machinery of the benchmarks: alternating rounds, summaries, ratios, the report.

Every benchmark measures our code and its peers in the same process, in alternating rounds
(ours, peer A, peer B, ours, ...), so that a noisy neighbour or a CPU frequency change hits
every contender alike. Each round yields one figure per contender (a rate, or a latency);
the report gives the median with the min and max, and the ratio of ours to each peer.

The last line printed with ``--json`` is one JSON object (design.md, "Benchmarks"):
``{"benchmark": ..., "unit": ..., "results": {case: {contender: {"median", "min", "max"}}},
"ratios": {case: {"vs_<peer>": ours / peer}}}``, plus ``"better": "lower"`` for figures where
less is better (latency, memory), in which case a ratio is peer / ours so that above 1 still
means we win.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypedDict

__all__ = [
    "OURS",
    "Stats",
    "format_table",
    "json_report",
    "median_index",
    "rate",
    "ratios",
    "report_object",
    "run_rounds",
    "summarise",
]

OURS = "ja-engine"

Better = Literal["higher", "lower"]


class Stats(TypedDict):
    median: float
    min: float
    max: float


def rate(work: Callable[[int], object], iterations: int) -> float:
    """Operations per second of ``work(iterations)``, which does ``iterations`` operations."""
    start = time.perf_counter()
    work(iterations)
    elapsed = time.perf_counter() - start
    return iterations / elapsed if elapsed > 0 else float("inf")


def run_rounds(
    contenders: Mapping[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Call each contender once per round, in turn, and collect the figures they return."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, measure in contenders.items():
            samples[name].append(measure())
    return samples


def summarise(samples: Sequence[float]) -> Stats:
    """Median, min and max of one contender's figures, rounded to whole units past 100."""

    def tidy(x: float) -> float:
        return float(round(x)) if abs(x) >= 100 else round(x, 3)

    return Stats(
        median=tidy(statistics.median(samples)), min=tidy(min(samples)), max=tidy(max(samples))
    )


def median_index(values: Sequence[float]) -> int:
    """The index of the round whose figure is the median (the lower one of an even count):
    the round whose time series a report shows."""
    order = sorted(range(len(values)), key=values.__getitem__)
    return order[(len(order) - 1) // 2]


def ratios(
    results: Mapping[str, Stats], ours: str = OURS, better: Better = "higher"
) -> dict[str, float]:
    """``{"vs_<peer>": ours / peer}`` on medians (inverted when lower is better)."""
    mine = results[ours]["median"]
    out: dict[str, float] = {}
    for name, stats in results.items():
        if name == ours:
            continue
        theirs = stats["median"]
        num, den = (mine, theirs) if better == "higher" else (theirs, mine)
        out[f"vs_{name}"] = round(num / den, 2) if den else float("inf")
    return out


def format_table(
    results: Mapping[str, Mapping[str, Stats]],
    all_ratios: Mapping[str, Mapping[str, float]],
    unit: str,
) -> str:
    """A human-readable table: one block per case, one line per contender."""
    lines: list[str] = []
    for case, per_contender in results.items():
        lines.append(f"{case} ({unit}, median [min .. max])")
        for name, s in per_contender.items():
            lines.append(
                f"  {name:<12} {s['median']:>14,.0f}   [{s['min']:,.0f} .. {s['max']:,.0f}]"
            )
        vs = ", ".join(f"{k} {v:.2f}x" for k, v in all_ratios.get(case, {}).items())
        if vs:
            lines.append(f"  {OURS} {vs}")
    return "\n".join(lines)


def report_object(
    benchmark: str,
    unit: str,
    results: Mapping[str, Mapping[str, Stats]],
    all_ratios: Mapping[str, Mapping[str, float]],
    better: Better = "higher",
) -> dict[str, object]:
    """The JSON object of a benchmark (the shape described above)."""
    obj: dict[str, object] = {"benchmark": benchmark, "unit": unit}
    if better == "lower":
        obj["better"] = "lower"
    obj["results"] = results
    obj["ratios"] = all_ratios
    return obj


def json_report(
    benchmark: str,
    unit: str,
    results: Mapping[str, Mapping[str, Stats]],
    all_ratios: Mapping[str, Mapping[str, float]],
    better: Better = "higher",
) -> str:
    """The one-line JSON object a benchmark prints last with ``--json``."""
    obj = report_object(benchmark, unit, results, all_ratios, better)
    return json.dumps(obj, separators=(",", ":"))
