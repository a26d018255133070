"""The report's charts, drawn with matplotlib (Agg, no display) from the suite's JSON.

* ``fanout-receipts-on.png`` / ``fanout-receipts-off.png``: throughput over time, one line
  per contender (submit_sm accepted per second, read from each contender's simulator), so
  stalls show; with receipts on, two more panels: receipts taken per second and the
  receipts queued in the simulator (with the length past which it answers ESME_RMSGQFUL,
  when the queue comes near it);
* ``latency.png``: distributions, as cumulative shares: the fan-out's submit round trip at
  half load (from the engine's histogram) and the TV burst's thank-you delay past the
  configured delay (exact delays, as quantiles);
* ``burst-ja-per-second.png``: signatures per second during the TV burst, per contender.

Each function returns the file it wrote, or None when the JSON holds nothing to draw (a
scenario left out with ``--only``, or one that failed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["QUEUE_LIMIT", "burst_rate", "fanout_throughput", "latency", "render"]

QUEUE_LIMIT = 1_000_000
"""The simulator's default ``delivery.queue_limit``: while a receiver is bound and this many
receipts wait for it, submits get ESME_RMSGQFUL."""

_ORDER = ("ja-engine", "ja-engine x2", "smpplib", "aiosmpplib", "smpp34", "naive")
_PALETTE = ("#1f77b4", "#17becf", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728", "#8c564b")
_DPI = 110


def _colour(name: str) -> str:
    index = _ORDER.index(name) if name in _ORDER else len(_ORDER)
    return _PALETTE[index % len(_PALETTE)]


def _figure(rows: int) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(9.0, 2.6 + 2.2 * rows), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)
    return figure, [row[0] for row in axes]


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def _lines(axes: Axes, series: Mapping[str, Mapping[str, Any]], key: str) -> None:
    for name, one in series.items():
        if one.get("t"):
            marker = "o" if len(one["t"]) < 3 else None  # a run shorter than two samples
            axes.plot(
                one["t"], one[key], label=name, color=_colour(name), linewidth=1.4, marker=marker
            )


def _limit(axes: Axes) -> None:
    """The queue length past which the simulator refuses submits, as a dashed line."""
    axes.axhline(QUEUE_LIMIT, color="grey", linestyle="--", linewidth=1)
    axes.annotate(
        "ESME_RMSGQFUL past this",
        (0, QUEUE_LIMIT),
        xycoords=("axes fraction", "data"),
        xytext=(4, -12),
        textcoords="offset points",
        color="grey",
        fontsize=8,
    )


def fanout_throughput(report: Mapping[str, Any], case: str, path: Path) -> Path | None:
    """Throughput over time of every contender in ``case`` (``fanout_receipts_on``, ...)."""
    series: dict[str, Any] = report.get("series", {}).get(case, {})
    if not any(one.get("t") for one in series.values()):
        return None
    receipts = any(
        one["totals"]["receipts"] or max(one["held"], default=0) for one in series.values()
    )
    figure, axes = _figure(3 if receipts else 1)
    label = case.removeprefix("fanout_").replace("_", " ")
    axes[0].set_title(f"Fan-out, {label}: submit_sm accepted per second (median round)")
    _lines(axes[0], series, "msg_per_s")
    axes[0].set_ylabel("msg/s")
    if receipts:
        axes[1].set_title("Delivery receipts taken (deliver_sm acknowledged) per second")
        _lines(axes[1], series, "receipts_per_s")
        axes[1].set_ylabel("receipts/s")
        axes[2].set_title("Receipts queued in the simulator, waiting for the client")
        _lines(axes[2], series, "held")
        if (
            max((max(one["held"], default=0) for one in series.values()), default=0)
            > QUEUE_LIMIT / 2
        ):
            _limit(axes[2])
        axes[2].set_ylabel("deliver_sm")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("seconds since the first submit")
    return _save(figure, path)


def _cumulative(buckets: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """(upper bound in ms, share at or below it) of cumulative histogram buckets."""
    finite = [(le, n) for le, n in buckets if le is not None and math.isfinite(le)]
    total = max((n for _, n in buckets), default=0.0)
    if not finite or not total:
        return [], []
    return [le * 1000 for le, _ in finite], [n / total for _, n in finite]


def latency(
    fanout: Mapping[str, Any] | None, burst: Mapping[str, Any] | None, path: Path
) -> Path | None:
    """The fan-out's round-trip distribution at half load and the burst's thank-you delays."""
    panels: list[tuple[str, dict[str, tuple[list[float], list[float]]], str]] = []
    if fanout and fanout.get("latency_buckets"):
        curves = {name: _cumulative(b) for name, b in fanout["latency_buckets"].items()}
        title = f"Fan-out: submit_sm round trip at half load ({fanout.get('half_load', '')})"
        panels.append((title, curves, "ms (histogram bucket bounds)"))
    quantiles = (burst or {}).get("thank_you_delay_quantiles_ms") or []
    if quantiles:
        shares = [k / (len(quantiles) - 1) for k in range(len(quantiles))]
        title = "TV burst: thank-you delay past the configured delay"
        panels.append((title, {"ja-engine": (quantiles, shares)}, "ms"))
    if not panels:
        return None
    figure = Figure(figsize=(9.0, 2.8 * len(panels) + 0.6), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    for i, (title, curves, unit) in enumerate(panels, start=1):
        ax = figure.add_subplot(len(panels), 1, i)
        for name, (xs, ys) in curves.items():
            if xs:
                ax.step(xs, ys, where="post", label=name, color=_colour(name), linewidth=1.4)
        ax.set_title(title, fontsize=10)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel(unit)
        ax.set_ylabel("share at or below")
        ax.set_ylim(0, 1.02)
        ax.axhline(0.99, color="grey", linestyle=":", linewidth=1)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def burst_rate(report: Mapping[str, Any], path: Path) -> Path | None:
    """Signatures per second during the TV burst, per contender (median round)."""
    series: dict[str, Any] = report.get("series", {})
    if not any(one.get("t") for one in series.values()):
        return None
    figure, (ax,) = _figure(1)
    _lines(ax, series, "ja_per_s")
    ax.set_title("TV burst: JA signed per second (received, recorded, deduplicated, thanked)")
    ax.set_ylabel("JA/s")
    ax.set_xlabel("seconds since the TV started")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _save(figure, path)


def render(scenarios: Mapping[str, Any], directory: Path) -> dict[str, Path]:
    """Every chart the scenarios' reports allow, written to ``directory``, by chart name."""

    def report(name: str) -> dict[str, Any] | None:
        entry = scenarios.get(name) or {}
        found: dict[str, Any] | None = entry.get("report")
        return found

    out: dict[str, Path | None] = {}
    fanout, burst = report("fanout"), report("burst")
    if fanout is not None:
        for case in ("fanout_receipts_on", "fanout_receipts_off"):
            name = case.replace("_", "-")
            out[name] = fanout_throughput(fanout, case, directory / f"{name}.png")
    out["latency"] = latency(fanout, burst, directory / "latency.png")
    if burst is not None:
        out["burst-ja-per-second"] = burst_rate(burst, directory / "burst-ja-per-second.png")
    return {name: path for name, path in out.items() if path is not None}
