"""Every figure of the demo checked: the engine's side against the handsets' ledger."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from counters import Lane, Store
from engine.campaigns.model import AppealView
from engine.campaigns.texts import render
from engine.demo.run import (
    APPEAL,
    FIRST_NUMBER,
    OUTCOME,
    PERMANENT,
    REDELIVERY_WINDOW,
    SIGN_KINDS,
    THANK_DELAY,
    Check,
    Run,
    num,
    receipts_by_state,
)
from smpp.simulator.ledger import Record

# --- reconciliation ----------------------------------------------------------------------------


@dataclass
class Ledger:
    """The handsets' side, read once from the simulator's ledger (numbers as +E.164)."""

    mt: list[Record]
    mo: list[Record]

    @staticmethod
    def read(records: Iterable[Record]) -> Ledger:
        mt: list[Record] = []
        mo: list[Record] = []
        for record in records:
            (mt if record.direction == "mt" else mo).append(record)
        return Ledger(mt, mo)

    def mt_to(self, match: Callable[[str], bool]) -> Counter[str]:
        return Counter(f"+{r.number}" for r in self.mt if match(r.text))


async def reconcile(run: Run) -> Reconciler:
    """Every figure of the summary, engine side against the handsets' side."""
    r = Reconciler(run, await run.engine.campaigns.show(run.appeal))
    r.appeal_and_messages()
    await r.replies()
    await r.signatures()
    await r.opt_outs()
    r.help()
    await r.thank_yous()
    r.outcome()
    return r


class Reconciler:
    """The checks, in the order a reader follows the story; later ones use what earlier ones
    established (who signed, who opted out and when)."""

    def __init__(self, run: Run, view: AppealView) -> None:
        self.run = run
        self.view = view
        self.checks: list[Check] = []
        engine = run.engine
        cfg = engine.config.campaigns
        values = {"organisation": cfg.organisation, "short_code": engine.config.short_code}
        templates = cfg.templates["nl"]
        self.stop_text = render(templates.stop, values)
        self.help_text = render(templates.help, values)
        self.thanks_re = [
            _template_regex(t, values) for t in (templates.thank_you, templates.thank_you_public)
        ]
        self.led = Ledger.read(run.sim.ledger)
        self.acked = [rec for rec in self.led.mo if rec.acked_at is not None]
        self.population = {f"+{FIRST_NUMBER + i}" for i in range(run.options.recipients)}
        self.not_recorded: Counter[tuple[str, str]] = Counter()
        self.sign_records: list[Record] = []
        self.signers: set[str] = set()
        self.stop_acked: dict[str, float] = {}
        self.failed_at: dict[str, float] = {}
        self.carrier_out: set[str] = set()
        self.opted_out = (0, 0)
        """Distinct numbers opted out (by STOP, by the carrier), as the consent log has them."""

    def check(self, ok: bool, text: str) -> None:
        self.checks.append(Check(ok, text))

    def appeal_and_messages(self) -> None:
        """The appeal once to every subscriber; every message sent, and its receipt."""
        run, led, fan = self.run, self.led, self.view.fanout
        appeal_to = led.mt_to(lambda t: t == APPEAL)
        n = run.options.recipients
        self.check(
            fan.queued == fan.sent == n == sum(appeal_to.values()) == len(appeal_to)
            and set(appeal_to) == self.population
            and not fan.refused + fan.failed,
            f"appeal: engine queued {num(fan.queued)} = sent {num(fan.sent)} = subscribers "
            f"{num(n)} = ledger: received by {num(len(appeal_to))} numbers, "
            f"{num(sum(appeal_to.values()) - len(appeal_to))} twice",
        )
        sent = sum(
            run.metric("ja_outbox_messages_total", lane=lane.value, result="sent") for lane in Lane
        )
        self.check(
            sent == len(led.mt),
            f"messages: engine sent {num(sent)} = messages the handsets' centre accepted "
            f"{num(len(led.mt))}",
        )
        receipts = receipts_by_state(run)
        states = Counter(rec.state or "" for rec in led.mt)
        self.check(
            receipts == dict(states),
            f"receipts: engine {list_states(receipts)} = ledger final states {list_states(states)}",
        )

    async def replies(self) -> None:
        """Acknowledged in the ledger = recorded + redeliveries (+ floods); all routed; and
        per (number, text), the inbound log holds what the handsets sent."""
        run, led, acked = self.run, self.led, self.acked
        recorded, redelivered = run.inbound("mo"), run.inbound("redelivery")
        flood = run.inbound("flood")
        routed = run.engine.router_loop.routed
        dead = run.metric("ja_router_dead_letters_total")
        self.check(
            len(acked) == len(led.mo) == recorded + redelivered + flood
            and routed == recorded
            and not dead,
            f"replies: ledger sent {num(len(led.mo))}, acknowledged {num(len(acked))} = engine "
            f"recorded {num(recorded)} + redeliveries {num(redelivered)} + floods {num(flood)}; "
            f"routed {num(routed)}, dead letters {dead} (a redelivery: the same text from the "
            f"same number within the {REDELIVERY_WINDOW:g} s redelivery window, recorded once)",
        )
        log = await run.store.deliveries.inbound_log(count=max(1000, 2 * len(led.mo)))
        engine_in = Counter((rec.source, rec.text) for _, rec in log)
        ledger_in = Counter((f"+{rec.number}", rec.text) for rec in acked)
        missing = [k for k in ledger_in if not engine_in.get(k)]
        extra = [k for k in engine_in if engine_in[k] > ledger_in.get(k, 0)]
        self.not_recorded = ledger_in - engine_in
        again = sum(self.not_recorded.values())
        self.check(
            not missing and not extra and again == redelivered + flood,
            f"inbound log: each (number, text) the handsets sent is in the engine's log "
            f"({num(len(ledger_in))} pairs, {len(missing)} missing, {len(extra)} extra); "
            f"the {num(again)} not recorded again = redeliveries + floods",
        )

    def _not_recorded(self, texts: set[str]) -> int:
        return sum(c for (_, text), c in self.not_recorded.items() if text in texts)

    async def signatures(self) -> None:
        """Signers are the distinct numbers whose JA was acknowledged; the rest duplicates."""
        run, view = self.run, self.view
        self.sign_records = [rec for rec in self.acked if rec.kind in SIGN_KINDS]
        signers = self.signers = {f"+{rec.number}" for rec in self.sign_records}
        engine_signers = await _signers(run.store, run.appeal)
        strangers = signers - self.population
        self.check(
            view.signatures == len(signers) == run.ja("accepted") and engine_signers == signers,
            f"signatures {num(view.signatures)} = distinct numbers whose JA the ledger shows "
            f"acknowledged {num(len(signers))} (the same numbers: "
            f"{'yes' if engine_signers == signers else 'NO'}), "
            f"of which {num(len(strangers))} strangers outside the population",
        )
        ja_again = self._not_recorded({rec.text for rec in self.sign_records})
        refused = sum(run.ja(result) for result in ("late", "unattributed", "not_subscribed"))
        duplicates = run.ja("duplicate")
        self.check(
            duplicates == len(self.sign_records) - ja_again - len(signers) and not refused,
            f"duplicates rejected {num(duplicates)} = JA acknowledged "
            f"{num(len(self.sign_records))} - taken for redeliveries {num(ja_again)} - first JA "
            f"per signer {num(len(signers))} (JA refused: {refused})",
        )

    async def opt_outs(self) -> None:
        """By STOP: confirmed once, nothing after. By the carrier: the first UNDELIV or
        REJECTD receipt of a number we know (a subscriber or a signer), before any STOP."""
        run, led = self.run, self.led
        for rec in self.acked:
            if rec.kind == "stop":
                number = f"+{rec.number}"
                at = rec.acked_at or math.inf
                self.stop_acked[number] = min(self.stop_acked.get(number, math.inf), at)
        stopped = set(self.stop_acked)
        consent = await _consent_log(run.store)
        by_sms = {x for x, kind, source in consent if kind == "unsubscribe" and source == "sms"}
        by_carrier = {
            x for x, kind, source in consent if kind == "unsubscribe" and source == "carrier"
        }
        confirmations = led.mt_to(lambda t: t == self.stop_text)
        after = [
            rec
            for rec in run.sim.ledger.received_after_opt_out()
            if rec.text != self.stop_text or confirmations[f"+{rec.number}"] != 1
        ]
        self.check(
            by_sms == stopped == set(confirmations)
            and set(confirmations.values()) <= {1}
            and not after,
            f"opt-outs {num(len(by_sms))} = distinct numbers that sent STOP {num(len(stopped))}; "
            f"each confirmed once ({num(sum(confirmations.values()))} confirmations); "
            f"received anything after the confirmation: {len(after)}"
            + (f" (e.g. +{after[0].number}: {after[0].text[:40]!r})" if after else ""),
        )
        for rec in led.mt:
            number = f"+{rec.number}"
            if rec.state in PERMANENT and (number in self.population or number in self.signers):
                self.failed_at[number] = min(self.failed_at.get(number, math.inf), rec.t)
        self.carrier_out = {
            x for x, t in self.failed_at.items() if t < self.stop_acked.get(x, math.inf)
        }
        self.opted_out = (len(by_sms), len(by_carrier))
        self.check(
            by_carrier == self.carrier_out,
            f"carrier opt-outs {num(len(by_carrier))} = numbers we know (subscribers, signers) "
            f"with an UNDELIV or REJECTD receipt before any STOP {num(len(self.carrier_out))}",
        )

    def help(self) -> None:
        run = self.run
        received = sum(self.led.mt_to(lambda t: t == self.help_text).values())
        answered = run.metric("ja_campaign_replies_total", kind="help")
        asked = [rec for rec in self.acked if rec.kind == "help"]
        again = self._not_recorded({rec.text for rec in asked})
        over_budget = run.metric("ja_campaign_replies_total", kind="over_budget")
        expected = len(asked) - again
        self.check(
            received == answered and expected - over_budget <= answered <= expected,
            f"HELP answered {num(answered)} = help texts the handsets received {num(received)} "
            f"= HELP acknowledged {num(len(asked))} - redeliveries {again}"
            + (
                f" (answers over the hourly budget, any kind: {over_budget})" if over_budget else ""
            ),
        )

    async def thank_yous(self) -> None:
        """One per signer unless it opted out before its thank-you was due; each carries a
        count between the signer's place in the signature stream and the final total; none
        goes out before ``thank_delay``."""
        run, view, signers = self.run, self.view, self.signers
        thanks_to = self.led.mt_to(lambda t: any(x.fullmatch(t) for x in self.thanks_re))
        unthanked = signers - set(thanks_to)
        thanks = view.thanks
        once = set(thanks_to.values()) <= {1}
        self.check(
            set(thanks_to) <= signers
            and once
            and thanks.sent == len(thanks_to)
            and thanks.queued == len(signers)
            and thanks.refused == len(unthanked)
            and unthanked <= set(self.stop_acked) | self.carrier_out
            and not thanks.failed,
            f"thank-yous {num(len(thanks_to))} = one per signer {num(len(signers))} (none got "
            f"two: {'yes' if once else 'NO'}) - signers opted out before theirs was due "
            f"{num(len(unthanked))} (engine: sent {num(thanks.sent)}, "
            f"refused {num(thanks.refused)})",
        )
        positions = await _positions(run.store, run.appeal)
        outside = 0
        for rec in self.led.mt:
            match = next((m for m in (x.fullmatch(rec.text) for x in self.thanks_re) if m), None)
            others = match.groupdict().get("others") if match else None
            if others is None:
                continue
            count = int(others.replace(".", "").replace(",", "")) + 1
            if not positions.get(f"+{rec.number}", math.inf) <= count <= view.signatures:
                outside += 1
        self.check(
            not outside,
            f"thank-you counts: each between the signer's place in the signature stream and "
            f"the final total ({outside} outside)",
        )
        delays = sorted(run.engine.metrics.thank_you_delays)
        self.check(
            len(delays) == thanks.sent and (not delays or delays[0] >= THANK_DELAY),
            f"thank-you delays: {num(len(delays))} measured, none before thank_delay "
            f"({THANK_DELAY:g} s): shortest {delays[0] if delays else 0:.2f} s",
        )

    def outcome(self) -> None:
        """Once to every signer not opted out when it was sent. The system had settled then,
        so "before" is clear-cut; a stranger who signs in reply to the outcome while its
        fan-out is still reading the signers may get it too (a signer by then)."""
        at = self.run.outcome_at
        outcome_to = self.led.mt_to(lambda t: t == OUTCOME)
        first_ja: dict[str, float] = {}
        for rec in self.sign_records:
            number = f"+{rec.number}"
            first_ja[number] = min(first_ja.get(number, math.inf), rec.acked_at or math.inf)
        signers_then = {x for x, t in first_ja.items() if t < at}
        out_then = {x for x, t in self.stop_acked.items() if t < at}
        out_then |= {x for x in self.carrier_out if self.failed_at[x] < at}
        expected = signers_then - out_then
        late = set(outcome_to) - expected
        sent = self.view.outcome.sent
        self.check(
            expected <= set(outcome_to)
            and late <= self.signers - signers_then - out_then
            and set(outcome_to.values()) <= {1}
            and sent == len(outcome_to),
            f"outcome recipients {num(len(outcome_to))} = signers when it was sent "
            f"{num(len(signers_then))} - opted out by then {num(len(signers_then & out_then))} "
            f"+ signed while it went out {num(len(late))} (the same numbers, none twice; "
            f"engine sent {num(sent)})",
        )


def _template_regex(template: str, values: dict[str, str]) -> re.Pattern[str]:
    """A reply template as a regex: fixed parts literal, counts as named digit groups."""
    marks = {"count": "\x00count\x00", "others": "\x00others\x00", "appeal": "\x00appeal\x00"}
    pattern = re.escape(render(template, {**values, **marks}))
    for name, mark in marks.items():
        escaped = re.escape(mark)
        pattern = pattern.replace(escaped, f"(?P<{name}>[0-9.,]+)", 1)
        pattern = pattern.replace(escaped, "[0-9.,]+")
    return re.compile(pattern)


def list_states(counts: dict[str, int] | Counter[str]) -> str:
    return ", ".join(f"{state} {num(n)}" for state, n in sorted(counts.items()))


async def _signers(store: Store, appeal: int) -> set[str]:
    ids: list[int] = []
    offset = 0
    while True:
        chunk, length = await store.appeals.signed_chunk(appeal, offset, 65536)
        if not length:
            break
        ids += chunk
        offset += length
    numbers = await store.subscribers.numbers(ids)
    return {n for n in numbers if n}


async def _positions(store: Store, appeal: int) -> dict[str, int]:
    """Each signer's number -> its 1-based place in the signature stream."""
    ids: list[int] = []
    after = "-"
    while True:
        page = await store.appeals.signatures(appeal, after=after, count=5000)
        if not page:
            break
        ids += [s.subscriber for s in page]
        after = page[-1].entry_id
    numbers = await store.subscribers.numbers(ids)
    return {n: i for i, n in enumerate(numbers, 1) if n}


async def _consent_log(store: Store) -> list[tuple[str, str, str]]:
    """(number, kind, source) of every consent event."""
    out: list[tuple[str, str, str]] = []
    after = "-"
    while True:
        page = await store.subscribers.log(after=after, count=5000)
        if not page:
            return out
        out += [(e.number, e.kind.value, e.source) for e in page]
        after = page[-1].entry_id
