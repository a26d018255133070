"""One row per scenario: what was injected, what it cost, and whether the invariants held.

The table is Markdown (it goes into the reliability issue as it is); ``--json`` writes every
row with its checks and figures (the memory series among them) for charts later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Check", "Row", "json_report", "markdown"]


@dataclass
class Check:
    """One invariant of a scenario, with the numbers behind the verdict."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Row:
    scenario: str
    injected: str
    messages: int = 0
    lost: int = 0
    duplicated: int = 0
    why: str = ""
    """Why the duplicates (or the missing messages the design allows) happened."""
    recovery_s: float | None = None
    peak_rss_mib: float | None = None
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    """Set when the scenario could not finish (a wait ran out, a process died)."""
    seconds: float = 0.0

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def markdown(rows: list[Row]) -> str:
    """The table, then one line per failed check or error."""
    lines = [
        "| Scenario | Injected | Messages | Lost | Duplicated (why) | Time to recover "
        "| Peak engine RSS | Result |",
        "|---|---|---:|---:|---|---:|---:|---|",
    ]
    for row in rows:
        duplicated = f"{row.duplicated:,}" + (f" ({row.why})" if row.why else "")
        rss = "-" if row.peak_rss_mib is None else f"{row.peak_rss_mib:.0f} MiB"
        verdict = "pass" if row.ok else "**FAIL**"
        cells = [row.scenario, row.injected, f"{row.messages:,}", f"{row.lost:,}", duplicated,
                 _seconds(row.recovery_s), rss, verdict]  # fmt: skip
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for row in rows:
        if row.error:
            lines.append(f"\n{row.scenario}: error: {row.error}")
        lines += [f"\n{row.scenario}: FAILED {c.name}: {c.detail}" for c in row.checks if not c.ok]
    return "\n".join(lines)


def json_report(rows: list[Row], *, quick: bool) -> dict[str, Any]:
    return {
        "benchmark": "faults",
        "quick": quick,
        "passed": all(r.ok for r in rows),
        "scenarios": [asdict(r) | {"ok": r.ok} for r in rows],
    }
