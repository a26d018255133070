"""``kill -9`` of the engine, then a restart: in the middle of a fan-out, and of a JA burst.

kill9-fanout. An urgent appeal fans out to every subscriber; when the simulator has taken a
third of it the engine gets SIGKILL and is started again at once with the same file (the
same consumer name: its lease is taken over at once because the holder's process is gone).
Per the ledger no recipient may be missed; a recipient may get the appeal twice only if its
submit was in flight at the kill, so the duplicates are at most the window times the binds,
and every one is among the resends counted in ``ja_outbox_possible_duplicates_total`` (both
runs added up; the killed one is scraped just before the kill). The resends themselves may
be more than the window: every entry with an attempt record and no acknowledgement in Redis
is resent, including those whose response came but whose write-back had not yet happened.

kill9-burst. Handsets answer the appeal with JA (30% of them twice) and the engine sends
each signer one thank-you ``thank_delay`` after the JA. The kill comes while the appeal still
fans out, once the first 1% of thank-yous have gone out. Afterwards: the appeal's count in
Redis equals the distinct handsets that sent JA, every JA was acknowledged in the end (the
simulator redelivers what the engine did not acknowledge) and attributed to the appeal, and
no handset has two thank-yous. A thank-you in flight at the kill is not sent again (the
transactional lane's policy for an unknown outcome is "drop"): the missing ones must not
exceed the thank-yous the restarted engine finished as ``unknown``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import trio

from bench.faults.harness import ScenarioFailed, until
from bench.faults.process import EngineProcess, EngineSettings, Scrape
from bench.faults.report import Row
from bench.faults.stage import TEXT, THANKS, Options, Stage, open_stage, simulator_config
from smpp.simulator.ledger import Kind

__all__ = [
    "BurstLedger",
    "burst_checks",
    "first_progress",
    "kill9_burst",
    "kill9_fanout",
    "settled",
]

DUPLICATES = "ja_outbox_possible_duplicates_total"
_JA_KINDS = frozenset({Kind.JA.name.lower(), Kind.DUPLICATE.name.lower()})
_THANKS_START = THANKS.split("{", 1)[0]


async def first_progress(stage: Stage, since: float, limit: float = 60.0) -> float:
    """Seconds from ``since`` until the simulator accepts a submit it had not before:
    called once the killed engine's connections are gone, so the count is settled."""
    baseline = stage.sim.stats.messages
    await until("the first submit after the restart", lambda: stage.sim.stats.messages > baseline,
                limit, interval=0.005)  # fmt: skip
    return trio.current_time() - since


async def kill(stage: Stage, engine: EngineProcess) -> tuple[float, float]:
    """Scrape the duplicates counted so far, then SIGKILL; (duplicates, time of the kill)."""
    counted = (await engine.scrape()).total(DUPLICATES)
    await engine.kill9()
    killed_at = trio.current_time()
    await until("the killed engine's binds gone", lambda: not stage.sim.bound_links(), 30)
    return counted, killed_at


async def kill9_fanout(options: Options, rows: list[Row]) -> None:
    n = 3_000 if options.quick else 100_000
    settings = (
        EngineSettings(binds=2, window=64, rate=1500.0)
        if options.quick
        else EngineSettings(binds=4, window=128, rate=5000.0, burst=200)
    )
    bound = settings.window * settings.binds
    row = Row("kill9-fanout", f"kill -9 at 1/3 of a {n:,}-recipient appeal fan-out; restart")
    rows.append(row)
    async with open_stage(options, row.scenario, simulator_config(n)) as stage:
        await stage.subscribe(n)
        async with stage.engine(settings, 1) as first:
            await stage.wait_bound(settings.binds)
            await stage.send_appeal("kill9-fanout")
            await until("a third of the fan-out", lambda: stage.sim.stats.messages >= n // 3, 120)
            counted, killed_at = await kill(stage, first)
        taken = stage.sim.stats.messages
        async with stage.engine(settings, 2) as second:
            row.recovery_s = await first_progress(stage, killed_at)
            await until("every recipient reached", lambda: stage.reached(n) == n,
                        30 + n / 500, interval=0.5)  # fmt: skip
            await until("the lanes empty", stage.outbound_idle, 60)
            counted += (await second.scrape()).total(DUPLICATES)
            code = await second.stop()
        delivery = stage.delivered(n)
        row.messages, row.lost, row.duplicated = n, delivery.missed, delivery.duplicated
        row.peak_rss_mib = stage.memory.peak_mib
        row.why = (f"in flight at the kill (window {settings.window} x {settings.binds} binds = "
                   f"{bound}); {counted:.0f} resends counted in {DUPLICATES}")  # fmt: skip
        row.figures |= {"taken_before_kill": taken, "possible_duplicates": counted,
                        "window_times_binds": bound}  # fmt: skip
        row.check("no recipient missed", delivery.missed == 0, f"{delivery.missed} missed")
        row.check("every duplicate counted", delivery.duplicated <= counted,
                  f"{delivery.duplicated} duplicated, {counted:.0f} counted")  # fmt: skip
        row.check("duplicates within window x binds", delivery.duplicated <= bound,
                  f"{delivery.duplicated} of at most {bound}")  # fmt: skip
        row.check("restarted engine stops cleanly", code == 0, f"exit status {code}")


# --- the JA burst -----------------------------------------------------------------------------


@dataclass
class BurstLedger:
    """The burst as the handsets saw it."""

    signers: set[str] = field(default_factory=set)
    """Distinct numbers that sent JA."""
    unacked: int = 0
    """JA the engine never acknowledged (the simulator gave up on them)."""
    thanks: Counter[str] = field(default_factory=Counter)
    """Thank-yous received, per number."""
    appeals: Counter[str] = field(default_factory=Counter)
    """The appeal received, per number."""


def read_ledger(stage: Stage) -> BurstLedger:
    seen = BurstLedger()
    for record in stage.sim.ledger:
        if record.kind in _JA_KINDS:
            seen.signers.add(record.number)
            seen.unacked += record.acked_at is None
        elif record.direction == "mt":
            if record.text.startswith(_THANKS_START):
                seen.thanks[record.number] += 1
            elif record.text == TEXT:
                seen.appeals[record.number] += 1
    return seen


def mo_pending(stage: Stage) -> int:
    """MO the simulator has sent and not yet seen through (acknowledged, refused for good or
    given up): those waiting for an answer or for their next try. Receipts are off in the
    burst scenarios, so every deliver_sm is an MO."""
    done = stage.sim.stats.deliveries
    return sum(stage.sim.stats.replies.values()) - done["ok"] - done["rejected"] - done["given_up"]


async def settled(stage: Stage, appeal: int, quiet: float = 1.0, limit: float = 120.0) -> None:
    """Nothing moves any more: no handset has a reply still to send, every MO seen through
    and routed, the lanes and the schedule empty, and neither the count nor the
    simulator's intake changed for ``quiet`` seconds. (An MO that reached the engine while
    it unbinds would be refused ESME_RINVBNDSTS, which the simulator takes as final.)"""
    deadline = trio.current_time() + limit
    last: tuple[int, int, int] = (-1, -1, -1)
    since = trio.current_time()
    while True:
        now = trio.current_time()
        state = (await stage.signatures(appeal), stage.sim.stats.messages, mo_pending(stage))
        if state != last:
            last, since = state, now
        elif (
            now - since >= quiet
            and not state[2]
            and not len(stage.sim.centre.scheduler)  # no reply still to come
            and await stage.inbound_idle()
            and await stage.outbound_idle()
        ):
            return
        if now > deadline:
            count, taken, pending = state
            idle = f"inbound idle {await stage.inbound_idle()}, outbound idle " + str(
                await stage.outbound_idle()
            )
            raise ScenarioFailed(f"not settled within {limit:g} s (count {count}, submits "
                                 f"{taken}, MO pending {pending}, {idle})")  # fmt: skip
        await trio.sleep(0.1)


def burst_checks(row: Row, stage: Stage, signatures: int, scrape: Scrape) -> BurstLedger:
    """The burst's invariants (shared with the Redis restart): the count equals the handsets
    that sent JA, each JA acknowledged and attributed to the appeal
    (``ja_campaign_ja_total{result="unattributed"}`` 0: every JA answers a delivered
    appeal), nobody thanked twice, a thank-you missing only if it was in flight (finished
    as ``unknown``), every handset got the appeal."""
    seen = read_ledger(stage)
    signers = seen.signers
    twice = sum(1 for n in seen.thanks.values() if n > 1)
    missing = max(0, signatures - len(seen.thanks))
    """Signers counted and never thanked (a signer not counted gets no thank-you)."""
    unknown = scrape.total("ja_outbox_messages_total", lane="tx", result="unknown")
    unattributed = scrape.total("ja_campaign_ja_total", result="unattributed")
    missed = stage.subscribers - len(seen.appeals)
    row.messages = len(signers)
    row.lost = abs(len(signers) - signatures)
    row.duplicated = twice
    row.figures["deliver_sm"] = dict(stage.sim.stats.deliveries)
    row.figures |= {"signatures": signatures, "signers": len(signers), "ja_unacked": seen.unacked,
                    "thank_yous": sum(seen.thanks.values()), "thank_yous_twice": twice,
                    "thank_yous_missing": missing, "thank_yous_unknown": unknown,
                    "ja_unattributed": unattributed,
                    "appeal_missed": missed,
                    "appeal_duplicated": sum(n - 1 for n in seen.appeals.values())}  # fmt: skip
    row.check("0 signatures lost", signatures == len(signers),
              f"count {signatures}, {len(signers)} handsets sent JA")  # fmt: skip
    row.check("every JA acknowledged", seen.unacked == 0, f"{seen.unacked} never acknowledged")
    row.check("every JA attributed to the appeal (each replies to a delivered appeal)",
              unattributed == 0, f"{unattributed:.0f} JA found no appeal")  # fmt: skip
    row.check("0 thank-yous sent twice", twice == 0, f"{twice} handsets thanked twice")
    row.check("missing thank-yous only those in flight (policy drop)", missing <= unknown,
              f"{missing} missing, {unknown:.0f} finished as unknown")  # fmt: skip
    row.check("every handset got the appeal", missed == 0, f"{missed} missed")
    return seen


async def thanked(engine: EngineProcess, at_least: int) -> bool:
    """Has the engine sent ``at_least`` thank-yous (transactional messages)?"""
    scrape = await engine.scrape()
    return scrape.total("ja_outbox_messages_total", lane="tx", result="sent") >= at_least


async def kill9_burst(options: Options, rows: list[Row]) -> None:
    n = 3_000 if options.quick else 20_000
    # The kill comes while the appeal still fans out, JA flow back and thank-yous are due
    # (the quick size sends slower, so that its fan-out lasts as long).
    thank_delay = 1.0 if options.quick else 5.0
    rate = 600.0 if options.quick else 1000.0
    settings = EngineSettings(binds=2, window=64, rate=rate, thank_delay=thank_delay)
    row = Row("kill9-burst", f"kill -9 during a JA burst from {n:,} handsets with thank-yous "
              f"({thank_delay:g} s after each JA); restart")  # fmt: skip
    rows.append(row)
    async with open_stage(options, row.scenario, simulator_config(n, replies=0.8)) as stage:
        await stage.subscribe(n)
        async with stage.engine(settings, 1) as first:
            await stage.wait_bound(settings.binds)
            appeal = await stage.send_appeal("kill9-burst")
            # The kill comes once thank-yous flow, while JA still arrive.
            await until("thank-yous going out", partial(thanked, first, n // 100), 120)
            _, killed_at = await kill(stage, first)
        row.figures["signatures_at_kill"] = await stage.signatures(appeal)
        async with stage.engine(settings, 2) as second:
            row.recovery_s = await first_progress(stage, killed_at)
            await settled(stage, appeal)
            scrape = await second.scrape()
            code = await second.stop()
        burst_checks(row, stage, await stage.signatures(appeal), scrape)
        row.why = (f"thank-yous are never resent: {row.figures['thank_yous_missing']} in flight "
                   f"at the kill not sent (policy drop); the appeal: "
                   f"{row.figures['appeal_duplicated']} duplicated")  # fmt: skip
        row.peak_rss_mib = stage.memory.peak_mib
        row.check("restarted engine stops cleanly", code == 0, f"exit status {code}")
