"""The benchmark report in Markdown, written from the suite's results document.

Nothing in it is typed by hand: the tables come from each scenario's ``results`` and
``ratios`` (one table per case, a row per contender: median, min-max, and ja-engine's ratio
to that contender), the prose around them is fixed text per scenario plus the figures of the
run (sizes, receipts, exactness), and the charts are the files ``bench.charts`` wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench._report import OURS
from bench._sampler import receipts_while_sending, stalled_seconds
from bench.charts import QUEUE_LIMIT
from bench.suite import SCENARIOS

__all__ = ["render"]

REPORT_ORDER = ("fanout", "burst", "counter", "codec", "counters", "simulator", "export")
"""The headline first."""

_META = {"unit", "better"}

ABOUT = {
    "fanout": (
        "Queue to acknowledged submit_sm_resp through the durable Redis lane: every message "
        "read from the lane, its attempt recorded, submitted, answered, its carrier message "
        "id stored, its entry acknowledged and deleted. The engine runs as deployed (`python "
        "-m engine run`; `ja-engine x2` is two processes sharing the binds and the lanes); "
        "the simulator and Redis run in processes of their own; each peer is one process "
        "sending the same messages to a simulator of its own, timed like us from bound to the "
        "last response. **The headline has delivery receipts on for every contender**: each "
        "submit_sm asks for a receipt (the engine always does), the simulator sends one 1 to 3 "
        "s later, and every client acknowledges each deliver_sm (the engine after recording "
        "the receipt in Redis; the peers in their readers, without storing anything). "
        "A submit refused with ESME_RMSGQFUL is sent again a second later by every contender. "
        "Receipts off is the second case. Throughput over time is read from each contender's "
        "simulator every half second (quick runs: every 50 ms)."
    ),
    "burst": (
        "The TV call to action: the simulator sends JA from distinct numbers (20% repeated) "
        "as fast as the engine's binds take them, while an appeal fans out in the background. "
        "End to end per JA: received, recorded in Redis before the deliver_sm_resp, routed, "
        "signed with exact dedupe, thank-you scheduled. The contender is a naive router that "
        "awaits one Redis call per step. Every run is checked exactly against the simulator's "
        "ledger."
    ),
    "counter": (
        "The public server under load while the TV burst runs: keep-alive connections (wrk "
        "where installed) ask for one appeal's counter as fast as the public server answers, "
        "for as long as the TV runs, on the same two cores as the engine, the simulator and "
        "Redis. The public server is the process the engine starts for `[http] public_port`, "
        "at its defaults (`public_nice` 19, `public_max_rate` 2,000 answers/s). Each round "
        "runs the burst twice, alternating: once with nobody polling, once polled; "
        "*ja-engine vs this* on the first row is the polled burst's rate over the quiet one "
        "(the goal: a drop of at most 10%, a ratio of at least 0.90)."
    ),
    "codec": (
        "The same work for every contender in one process, in alternating rounds: build and "
        "encode a 160-character submit_sm; decode an MO deliver_sm; decode a receipt and read "
        "two TLVs."
    ),
    "counters": (
        "Redis from Trio: JA recorded through the batcher (many tasks each awaiting one JA, "
        "or 100 per call) against one redis-py call per JA; lone-JA latency on an idle store; "
        "Redis memory per subscriber and per signer."
    ),
    "simulator": (
        "How fast the SMSC simulator answers, so that it is never an engine benchmark's "
        "bottleneck: a pipelined raw client, our transport, smpplib, and a bare message centre "
        "as the ceiling."
    ),
    "export": (
        "An appeal's signatures exported to CSV with masked numbers, each contender in a "
        "fresh process so its peak memory is its own: ours streams pages of 5,000, the naive "
        "version reads everything at once."
    ),
}

RECEIPTS = (
    "Every client takes receipts more slowly than it sends while it sends flat out: they "
    "come back through the simulator's deliver_sm windows (64 per bind, its default) from a "
    "simulator that is answering the submits at the same time, on the same cores. The "
    "backlog waits in the simulator (*most receipts queued*) and is taken after the run, "
    "as a carrier stores receipts. **The stalls seen before (about 10 s every 18 s in a "
    "1,000,000-message fan-out with receipts) were the simulator's, not the engine's**: it "
    "refused every submit (ESME_RMSGQFUL) while 100,000 receipts waited (its `hold_limit`, "
    "meant for an account with no receiver bound) and dropped the receipts that came due "
    "meanwhile; in a trial with that simulator aiosmpplib and smpp34, which store nothing, "
    "stalled the same way. While a receiver is bound it now drops none and refuses submits "
    f"only past `delivery.queue_limit` ({QUEUE_LIMIT:,}), so a stall left in the chart is the "
    "contender's own."
)


def _receipts_note(series: Mapping[str, Any], due: float) -> str:
    """What this run shows about receipts, then ``RECEIPTS``."""
    taking = {name: receipts_while_sending(one, due) for name, one in series.items()}
    known = {name: rate for name, rate in taking.items() if rate is not None}
    if not known:
        return f"**Receipts.** {RECEIPTS}"
    low, high = min(known.values()), max(known.values())
    ours = f" (ja-engine {known[OURS]:,.0f})" if OURS in known else ""
    return (
        f"**Receipts.** In this run the contenders took {low:,.0f} to {high:,.0f} receipts/s "
        f"while sending{ours}. {RECEIPTS}"
    )


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    size = abs(x)
    if size >= 1000:
        return f"{x:,.0f}"
    if size >= 100:
        return f"{x:.0f}"
    if size >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _contenders(per: Mapping[str, Any]) -> dict[str, Mapping[str, float]]:
    return {name: s for name, s in per.items() if name not in _META and isinstance(s, dict)}


def case_table(report: Mapping[str, Any], case: str) -> list[str]:
    """One case: a row per contender, with ja-engine's (and any scaled-out contender's)
    ratio to it."""
    per = report["results"][case]
    unit = per.get("unit") or report.get("unit", "")
    better = per.get("better") or report.get("better", "higher")
    ratios = report.get("ratios", {})
    owners = {OURS: ratios.get(case, {})}
    owners |= {
        key.removeprefix(f"{case} "): r for key, r in ratios.items() if key.startswith(f"{case} ")
    }
    owners = {owner: r for owner, r in owners.items() if r}
    lines = [f"**{case}** ({unit}, {better} is better)", ""]
    header = ["contender", "median", "min-max"] + [f"{o} vs this" for o in owners]
    lines += [_row(header), _row(["---"] * len(header))]
    for name, s in _contenders(per).items():
        cells = [name, _num(s.get("median")), f"{_num(s.get('min'))}-{_num(s.get('max'))}"]
        cells += [_ratio(r.get(f"vs_{name}")) for r in owners.values()]
        lines.append(_row(cells))
    return [*lines, ""]


def figures_table(report: Mapping[str, Any], cases: list[str]) -> list[str]:
    """Cases measured for ja-engine alone, one row each."""
    lines = [_row(["figure", "median", "min-max", "unit"]), _row(["---"] * 4)]
    for case in cases:
        per = report["results"][case]
        s = _contenders(per).get(OURS, {})
        unit = per.get("unit") or report.get("unit", "")
        lines.append(
            _row([case, _num(s.get("median")), f"{_num(s.get('min'))}-{_num(s.get('max'))}", unit])
        )
    return [*lines, ""]


def tables(report: Mapping[str, Any]) -> list[str]:
    """Every case of a report: compared cases first (the headline leading), then the rest."""
    results: Mapping[str, Any] = report.get("results", {})
    order = sorted(results, key=lambda case: case != report.get("headline"))
    compared = [c for c in order if len(_contenders(results[c])) > 1]
    alone = [c for c in order if c not in compared]
    lines: list[str] = []
    for case in compared:
        lines += case_table(report, case)
    if alone:
        lines += figures_table(report, alone)
    return lines


def _chart(charts: Mapping[str, str], name: str, alt: str) -> list[str]:
    return [f"![{alt}]({charts[name]})", ""] if name in charts else []


def _fanout_extra(report: Mapping[str, Any], charts: Mapping[str, str]) -> list[str]:
    s = report.get("settings", {})
    lines = []
    if s:
        delay = s.get("receipt_delay_s", ["?", "?"])
        lines += [
            f"{s.get('messages', 0):,} messages per run (smpplib {s.get('smpplib_messages', 0):,}),"
            f" {s.get('binds')} binds x window {s.get('window')}, {s.get('rounds')} alternating "
            f"rounds, receipts {delay[0]:g}-{delay[1]:g} s after the submit; p99 at "
            f"{report.get('half_load', 'half load')}.",
            "",
        ]
    lines += _chart(charts, "fanout-receipts-on", "Fan-out throughput over time, receipts on")
    lines += _chart(charts, "fanout-receipts-off", "Fan-out throughput over time, receipts off")
    series = report.get("series", {}).get("fanout_receipts_on", {})
    if series:
        due = s.get("receipt_delay_s", [0.0, 0.0])[-1]
        lines += [
            "Receipts in each contender's median round (receipts on), from its simulator:",
            "",
        ]
        header = [
            "contender",
            "receipts taken",
            "receipts/s while sending (median)",
            "ESME_RMSGQFUL answers",
            "seconds with no submit accepted",
            "most receipts queued",
        ]
        lines += [_row(header), _row(["---"] * len(header))]
        for name, one in series.items():
            t = one["totals"]
            taking = receipts_while_sending(one, due)
            cells = [f"{t['receipts']:,.0f}", "-" if taking is None else f"{taking:,.0f}"]
            cells += [f"{t['rmsgqful']:,.0f}", f"{stalled_seconds(one):g}"]
            cells.append(f"{max(one['held'], default=0):,.0f}")
            lines.append(_row([name, *cells]))
        lines += ["", _receipts_note(series, due), ""]
    return lines


def _burst_extra(report: Mapping[str, Any], charts: Mapping[str, str]) -> list[str]:
    lines = _chart(charts, "burst-ja-per-second", "JA per second during the TV burst")
    exact = report.get("exactness", {})
    runs = exact.get("runs", [])
    verdict = "passed" if exact.get("passed") else "**FAILED**"
    lines += [
        f"Exactness ({len(runs)} runs): {verdict}: in every run the appeal's count equals the "
        "distinct numbers whose JA the simulator's ledger shows acknowledged, and the "
        "thank-yous equal the count.",
        "",
    ]
    return lines


def _simulator_extra(report: Mapping[str, Any], charts: Mapping[str, str]) -> list[str]:
    goals: Mapping[str, float] = report.get("goals", {})
    lines = [_row(["goal", "median", "target", "met"]), _row(["---"] * 4)]
    for case, goal in goals.items():
        median = report["results"].get(case, {}).get(OURS, {}).get("median")
        met = "yes" if median is not None and median >= goal else "no"
        lines.append(_row([case, _num(median), _num(goal), met]))
    return [*lines, ""] if goals else []


def _counter_extra(report: Mapping[str, Any], charts: Mapping[str, str]) -> list[str]:
    s = report.get("settings", {})
    drop = report.get("burst_rate_drop", 0.0)
    limit = report.get("drop_limit", 0.10)
    verdict = "within" if report.get("drop_within_limit") else "**over**"
    exact = "passed" if report.get("exactness", {}).get("passed") else "**FAILED**"
    return [
        f"{s.get('clients', '?')} {s.get('load', '?')} connections, public_max_rate "
        f"{s.get('max_rate', 0):g}, {s.get('numbers', 0):,} TV numbers, {s.get('rounds')} "
        f"rounds. Drop of the burst rate while polled (medians): {drop:.1%}, {verdict} the "
        f"{limit:.0%} limit; {report.get('counter_errors', 0)} failed requests; exactness "
        f"{exact} in every run, quiet and polled.",
        "",
    ]


_EXTRA = {
    "fanout": _fanout_extra,
    "burst": _burst_extra,
    "counter": _counter_extra,
    "simulator": _simulator_extra,
}


def scenario(name: str, entry: Mapping[str, Any], charts: Mapping[str, str]) -> list[str]:
    known = SCENARIOS.get(name)
    lines = [f"## {entry.get('title') or name}", ""]
    alone = f"`{known.alone}`" if known else ""
    when = f"{entry.get('size', '?')} size, {entry.get('seconds', 0):.0f} s"
    lines += [f"{when}, {entry.get('started_at', '?')}; alone: {alone}", ""]
    if name in ABOUT:
        lines += [ABOUT[name], ""]
    if "error" in entry:
        return [*lines, f"**This scenario failed:** `{entry['error']}`", ""]
    report = entry.get("report", {})
    lines += tables(report)
    if name in _EXTRA:
        lines += _EXTRA[name](report, charts)
    for note in report.get("notes", []):
        lines += [f"- {note}"]
    for what, why in report.get("skipped", {}).items():
        lines += [f"- {what}: not measured ({why})"]
    return [*lines, ""]


def machine(document: Mapping[str, Any]) -> list[str]:
    m: Mapping[str, Any] = document.get("machine", {})
    packages = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items())
    commit = str(m.get("commit") or "?") + (
        " (with uncommitted changes)" if m.get("uncommitted_changes") else ""
    )
    load = ", ".join(f"{x:g}" for x in m.get("load_average", []))
    rows = [
        ("CPU", f"{m.get('cpu', '?')}, {m.get('cpus', '?')} logical CPUs"),
        ("Memory", f"{m.get('memory_gib', '?')} GiB"),
        ("OS", str(m.get("os", "?"))),
        ("Python", str(m.get("python", "?"))),
        ("Redis", f"{m.get('redis') or '?'} ({document.get('redis_url', '')})"),
        ("Packages", packages),
        ("Commit", commit),
        ("Load average at start (1, 5, 15 min)", load),
    ]
    lines = [_row(["", ""]), _row(["---", "---"])]
    return [*lines, *(_row([k, v]) for k, v in rows), ""]


HEADLINES = (
    ("fanout", "fanout_receipts_on", "Fan-out, receipts on"),
    ("fanout", "fanout_receipts_off", "Fan-out, receipts off"),
    ("burst", "ja_per_second", "TV burst, end to end"),
    ("counter", "ja_per_second", "TV burst while the public counter is polled"),
    ("counter", "counter_requests_per_second", "Public counter during that burst"),
    ("codec", "decode_deliver_sm_mo", "Codec, decode an MO deliver_sm"),
    ("counters", "sign", "Redis, JA recorded, one awaited call per JA"),
    ("export", "peak_mib", "Export, peak memory (largest appeal)"),
)
"""(scenario, case or case prefix, label): the rows of the summary at the top."""


def _headline_case(report: Mapping[str, Any], case: str) -> str | None:
    """``case``, or the last case named ``case`` + something (the largest size)."""
    results: Mapping[str, Any] = report.get("results", {})
    if case in results:
        return case
    return next((c for c in reversed(list(results)) if c.startswith(f"{case} ")), None)


def summary(scenarios: Mapping[str, Any]) -> list[str]:
    """One row per headline figure: ja-engine's median (and ja-engine x2's, where measured)
    and its ratio to each peer, from the same run."""
    rows = [_row(["figure", "ja-engine", "ja-engine vs peers"]), _row(["---"] * 3)]
    for name, wanted, label in HEADLINES:
        report = (scenarios.get(name) or {}).get("report")
        case = _headline_case(report, wanted) if report else None
        if report is None or case is None:
            continue
        per = report["results"][case]
        unit = per.get("unit") or report.get("unit", "")
        ours = _contenders(per)
        figure = " / ".join(
            f"{_num(ours[n]['median'])}" + ("" if n == OURS else f" ({n})")
            for n in ours
            if n == OURS or n.startswith(f"{OURS} x")
        )
        vs = report.get("ratios", {}).get(case, {})
        versus = ", ".join(f"{k.removeprefix('vs_')} {_ratio(r)}" for k, r in vs.items())
        rows.append(_row([f"{label} ({unit})", figure, versus]))
    return [*rows, ""] if len(rows) > 2 else []


def _kept(document: Mapping[str, Any]) -> str:
    """What the last run re-ran, when it did not run everything (``--only``)."""
    started = str(document.get("started_at", ""))
    scenarios: Mapping[str, Any] = document.get("scenarios", {})
    fresh = [n for n, e in scenarios.items() if str(e.get("started_at", "")) >= started]
    if not started or len(fresh) == len(scenarios):
        return ""
    return (
        f" It re-ran {', '.join(fresh)} only; the other scenarios are kept from earlier runs "
        "of the same size (each section gives its date)."
    )


def render(document: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    """The whole report; ``charts`` maps chart names to paths relative to the report."""
    scenarios: Mapping[str, Any] = document.get("scenarios", {})
    minutes = document.get("seconds", 0) / 60
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by `python -m bench` from its JSON results: re-run it, do not edit. -->",
        "",
        f"A {document.get('size', '?')}-size run of `{document.get('command', '?')}`, "
        f"started {document.get('started_at', '?')}, {minutes:.0f} min.{_kept(document)} "
        "Every benchmark runs "
        "ja-engine and its peers in the same run, in alternating rounds; a figure is the "
        "median of the rounds, with the min-max beside it; a ratio is ja-engine's median "
        "against the peer's from the same run (where lower is better, the peer's over ours), "
        "so above 1 means ja-engine is ahead. Tests never assert speed.",
        "",
        *summary(scenarios),
        "## Reproduce",
        "",
        "```sh",
        ".venv/bin/python -m pip install -e '.[test,dev,bench]'",
        "apt-get install wrk                      # the counter's load generator (else a "
        "Python one)",
        ".venv/bin/python -m bench                # every scenario, full size: this file, "
        "docs/bench/*.png, bench/results/latest.json",
        ".venv/bin/python -m bench --only fanout  # one scenario again (the others are kept)",
        ".venv/bin/python -m bench --quick        # the CI size, into a temporary directory",
        "```",
        "",
        "## Machine",
        "",
        *machine(document),
    ]
    for name in REPORT_ORDER:
        if name in scenarios:
            lines += scenario(name, scenarios[name], charts)
            if name == "burst" or (name == "fanout" and "burst" not in scenarios):
                lines += _chart(charts, "latency", "Latency distributions")
    return "\n".join(lines).rstrip() + "\n"
