"""The story as it happens: import, appeal, fan-out, replies, thank-yous, outcome."""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid

import trio

from counters import Lane, Store, StoreConfig, open_store
from engine.app import open_engine
from engine.campaigns.model import AppealSpec
from engine.campaigns.texts import check_text
from engine.demo.housekeeping import describe_url, print_keep, wipe
from engine.demo.reconcile import reconcile
from engine.demo.run import (
    APPEAL,
    COMPRESSION,
    DEFAULT_RATE,
    DEFAULT_RECIPIENTS,
    FIRST_NUMBER,
    OUTCOME,
    SETTLE_TIMEOUT,
    SIGN_KINDS,
    TITLE,
    DemoOptions,
    Run,
    engine_config,
    num,
    receipts_by_state,
    sim_config,
)
from engine.demo.summary import summary
from engine.http import serving
from engine.metrics import Metrics
from smpp.simulator.ledger import Kind
from smpp.simulator.server import open_simulator

# --- the run -----------------------------------------------------------------------------------


async def run_demo(options: DemoOptions) -> int:
    """Run the whole story; returns the exit code (0: every check passed)."""
    started = time.monotonic()
    say = options.write
    namespace = f"demo{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:4]}"
    async with open_store(StoreConfig(url=options.redis_url, namespace=namespace)) as store:
        say(f"Redis: {describe_url(store.url)}; this run's namespace: {namespace}")
        try:
            return await _with_store(store, options, started)
        finally:
            with trio.CancelScope(shield=True):
                if options.keep:
                    print_keep(say, store)
                else:
                    removed = await wipe(store)
                    say(f"namespace {namespace} deleted ({num(removed)} keys); --keep keeps it")


async def _with_store(store: Store, options: DemoOptions, started: float) -> int:
    say = options.write
    numbers = [f"+{FIRST_NUMBER + i}" for i in range(options.recipients)]
    t0 = time.monotonic()
    for start in range(0, len(numbers), 5000):
        await store.subscribers.subscribe_many(
            numbers[start : start + 5000], source="demo-import", language="nl"
        )
    say(
        f"imported {num(len(numbers))} subscribers +{FIRST_NUMBER}.. (source demo-import, "
        f"language nl) in {time.monotonic() - t0:.1f} s"
    )
    metrics = Metrics()
    async with open_simulator(sim_config(options)) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        config = engine_config(port, store.keys.namespace, options.rate)
        async with (
            open_engine(config, metrics=metrics, store=store) as engine,
            serving(engine) as http_port,
        ):
            say(f"metrics: http://127.0.0.1:{http_port}/metrics")
            with trio.fail_after(10):
                await engine.wait_bound()
            say(
                f"SMSC simulator on 127.0.0.1:{port}: {num(options.recipients)} handsets, "
                f"time compressed {COMPRESSION:g}x (a demo second is "
                f"{COMPRESSION / 60:g} minutes for the handsets); engine bound at "
                f"{options.rate:g} msg/s"
            )
            run = Run(options, sim, engine, store, metrics, trio.current_time())
            try:
                await _story(run)
            except _Stuck as exc:
                say(f"✗ {exc}")
                return 1
            reconciled = await reconcile(run)
    summary(run, reconciled, time.monotonic() - started)
    return 0 if all(c.ok for c in reconciled.checks) else 1


class _Stuck(Exception):
    """Something did not happen within its time."""


async def _story(run: Run) -> None:
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
    say(f"2. Sending it to {num(run.options.recipients)} subscribers (the fan-out)")
    run.sent_at = trio.current_time()
    view = await campaigns.send(view.id)
    while True:
        await _sleep_until_next_second(run)
        view = await campaigns.show(run.appeal)
        fan = view.fanout
        say(
            f"   {run.clock()}  queued {num(fan.queued)}/{num(fan.audience)}, "
            f"sent {num(fan.sent)}, refused {num(fan.refused)}, failed {num(fan.failed)}"
        )
        if fan.audience and not fan.remaining:
            run.fanout_done_at = _last_appeal_mt(run) or trio.current_time()
            break
        if trio.current_time() - run.sent_at > SETTLE_TIMEOUT:
            raise _Stuck(f"the fan-out did not finish in {SETTLE_TIMEOUT:g} s: {fan}")
    took = max(run.fanout_done_at - run.sent_at, 1e-3)
    say(f"   fan-out done: {num(fan.sent)} sent in {took:.1f} s ({fan.sent / took:,.0f} msg/s)")

    say()
    say("3. The handsets reply; 4. thank-yous go out, each with the count at that moment")
    await _until_settled(run, live=True)

    say()
    say("5. Replies have settled: sending the outcome to the signers still subscribed")
    say(f'   "{OUTCOME}"')
    run.outcome_at = trio.current_time()
    view = await campaigns.outcome(run.appeal, OUTCOME)
    say(f"   {run.clock()}  outcome fan-out started: {num(view.outcome.audience)} signers")
    await _until_settled(run, live=True, outcome=True)
    view = await campaigns.show(run.appeal)
    skipped = view.outcome.audience - view.outcome.queued
    say(
        f"   outcome queued for {num(view.outcome.queued)} of {num(view.outcome.audience)} "
        f"signers ({num(skipped)} had opted out), sent {num(view.outcome.sent)}"
    )


async def _sleep_until_next_second(run: Run) -> None:
    elapsed = trio.current_time() - run.started
    await trio.sleep(math.floor(elapsed) + 1 - elapsed)


def _last_appeal_mt(run: Run) -> float:
    ledger = run.sim.ledger
    for i in range(len(ledger) - 1, -1, -1):
        record = ledger.get(i)
        if record.direction == "mt" and record.text == APPEAL:
            return record.t
    return 0.0


# --- settling ----------------------------------------------------------------------------------


async def _settled(run: Run) -> str:
    """ "" when nothing is left to happen anywhere, else what is still going on: nothing due
    in the simulator (replies, receipts), every reply recorded (or taken for a redelivery) and
    routed, every receipt back, lanes, schedule and fan-out jobs empty, write-back done."""
    centre = run.sim.centre
    if len(centre.scheduler):
        return f"{num(len(centre.scheduler))} replies/receipts due in the simulator"
    if any(len(account.outbox) for account in centre.accounts):
        return "deliver_sm waiting in the simulator"
    ledger = run.sim.ledger
    mt = ledger.count(Kind.MT)
    mo = len(ledger) - mt - ledger.count(Kind.CANCELLED)
    recorded = run.inbound("mo")
    taken = recorded + run.inbound("redelivery") + run.inbound("flood")
    if taken < mo:
        return f"{num(mo - taken)} replies not yet acknowledged"
    if run.engine.router_loop.routed < recorded:
        return f"{num(recorded - run.engine.router_loop.routed)} replies not yet routed"
    receipts = sum(receipts_by_state(run).values())
    if receipts < mt:
        return f"{num(mt - receipts)} receipts outstanding"
    queues = run.store.queues
    lanes = sum([await queues.length(lane) for lane in Lane])
    if lanes:
        return f"{num(lanes)} messages in the lanes"
    scheduled = await queues.scheduled()
    if scheduled:
        return f"{num(scheduled)} thank-yous (or retries) scheduled"
    if await run.store.appeals.jobs():
        return "a fan-out is still running"
    with trio.move_on_after(5):
        await run.engine.outbox.flush()
        return ""
    return "write-back to Redis pending"


async def _until_settled(run: Run, *, live: bool, outcome: bool = False) -> None:
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


async def _live_line(run: Run, outcome: bool) -> None:
    view = await run.engine.campaigns.show(run.appeal)
    ledger = run.sim.ledger
    replies = len(ledger) - ledger.count(Kind.MT)
    optouts = run.metric("ja_campaign_consent_changes_total", change="opt_out", source="sms")
    carrier = run.metric("ja_campaign_consent_changes_total", change="opt_out", source="carrier")
    thanks = view.thanks
    due = max(0, thanks.queued - thanks.sent - thanks.refused - thanks.failed)
    line = (
        f"   {run.clock()}  replies {num(replies)}: signatures {num(view.signatures)}, "
        f"duplicates {num(run.ja('duplicate'))}, opt-outs {num(optouts)} (+{num(carrier)} by the "
        f"carrier), HELP answered {num(run.metric('ja_campaign_replies_total', kind='help'))}; "
        f"thank-yous sent {num(thanks.sent)} ({num(due)} due)"
    )
    if outcome:
        line += f"; outcome sent {num(view.outcome.sent)}/{num(view.outcome.queued)}"
    run.say(line)


def _examples(run: Run, seen: int) -> int:
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
