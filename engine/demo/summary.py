"""The demo's closing summary and its checks, as printed."""

from __future__ import annotations

import math
from collections import Counter

from engine.demo.reconcile import Ledger, Reconciler, list_states
from engine.demo.run import OUTCOME, THANK_DELAY, Run, num, receipts_by_state

# --- the summary -------------------------------------------------------------------------------


def summary(run: Run, reconciled: Reconciler, wall: float) -> None:
    say = run.say
    checks = reconciled.checks
    by_sms, by_carrier = reconciled.opted_out
    led = Ledger.read(run.sim.ledger)
    receipts = receipts_by_state(run)
    delivered = receipts.get("DELIVERED", 0)
    failed = {k: v for k, v in receipts.items() if k != "DELIVERED"}
    delays = sorted(run.metrics.thank_you_delays)
    fan_time = max(run.fanout_done_at - run.sent_at, 1e-3)
    n = run.options.recipients
    mo = Counter(r.kind for r in led.mo)
    strangers = len({r.number for r in led.mo if r.kind == "stranger" and r.acked_at})
    say()
    say("6. Summary")
    rows = [
        ("appeal sent", f"{num(n)} subscribers in {fan_time:.1f} s of fan-out: "
         f"{n / fan_time:,.0f} appeal messages a second"),
        ("messages sent", f"{num(len(led.mt))} in all (appeal, thank-yous, answers, outcome)"),
        ("delivered", f"{num(delivered)} (receipt DELIVRD); failed {num(sum(failed.values()))}"
         + (f": {list_states(failed)}" if failed else "")),
        ("replies", f"{num(len(led.mo))} from the handsets: " + ", ".join(
            f"{kind} {num(count)}" for kind, count in mo.most_common())),
        ("signatures", f"{num(run.ja('accepted'))}, of which {num(strangers)} from strangers "
         "(numbers we did not know: the appeal is public)"),
        ("duplicates", f"{num(run.ja('duplicate'))} rejected"),
        ("opt-outs", f"{num(by_sms)} by STOP, {num(by_carrier)} by the carrier (a permanent "
         "delivery failure)"),
        ("HELP answered", num(run.metric("ja_campaign_replies_total", kind="help"))),
        ("thank-yous", f"{num(len(delays))}, delay after the JA p50 {_pct(delays, 50):.2f} s, "
         f"p99 {_pct(delays, 99):.2f} s (thank_delay {THANK_DELAY:g} s)"),
        ("outcome", f"{num(sum(1 for r in led.mt if r.text == OUTCOME))} recipients"),
        ("wall time", f"{wall:.1f} s"),
    ]  # fmt: skip
    for name, text in rows:
        say(f"   {name:<14} {text}")
    say()
    say("   Reconciled against the simulator's ledger (what each handset received and sent):")
    for c in checks:
        say(f"   {'✓' if c.ok else '✗'} {c.text}")
    failed_checks = sum(not c.ok for c in checks)
    if failed_checks:
        say(f"   ✗ {failed_checks} of {len(checks)} checks failed")
    else:
        say(f"   ✓ all {len(checks)} checks passed")


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1)]
