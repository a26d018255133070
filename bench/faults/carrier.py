"""A carrier that misbehaves while an appeal fans out: one row per fault.

One simulator and one engine process serve every phase; each phase sends a new urgent appeal
to the same subscribers with one fault switched on (``Simulator.carrier.set``, or the
simulator's ``drop_binds`` lever on a timer) and off again once the appeal is through:

* ``carrier-drop-binds``: every bind cut without a word every 0.4 s (quick) or 2 s;
* ``carrier-withheld``: 5% of submit_sm never answered (the engine's response timeout);
* ``carrier-throttled`` / ``carrier-queue-full``: 10% of submit_sm answered ESME_RTHROTTLED /
  ESME_RMSGQFUL (not errors: the message is queued again and the bind slows down). These
  two go to a seventh of the subscribers only: every throttle halves the bind's rate and
  pauses it for a second, by design, so they move about a hundred messages a second;
* ``carrier-early-receipts``: every submit_sm_resp 0.3 to 0.8 s late (so out of order) while
  receipts come at once: each receipt arrives before its response.

Receipts are on (all DELIVRD, at once). Per phase, from the ledger: no recipient missed,
every duplicate counted in ``ja_outbox_possible_duplicates_total``; from the engine: receipts
received (``ja_inbox_receipts_total``) minus those matched to their message (the appeal's
``appeal_receipt_*`` tallies in Redis) once nothing moves: a receipt may stay unmatched only
if its submit's response was lost with a dropped bind (then the resend is a duplicate), so
unmatched <= duplicated. "Time to recover" is the longest time the simulator accepted no
submit during the phase.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import trio

from bench.faults.harness import ScenarioFailed, longest_stall, until
from bench.faults.process import EngineProcess, EngineSettings
from bench.faults.report import Row
from bench.faults.stage import Options, Stage, open_stage, simulator_config
from smpp.simulator.config import ReceiptConfig

__all__ = ["Fault", "carrier_faults", "faults"]

DUPLICATES = "ja_outbox_possible_duplicates_total"
RECEIPTS = "ja_inbox_receipts_total"
SEGMENT = 7
"""The small segment (language "en") is the first 1/SEGMENT of the subscribers."""
CALM: dict[str, object] = {
    "withhold_fraction": 0.0,
    "error_fraction": 0.0,
    "error_status": "ESME_RSYSERR",
    "response_delay": 0.0,
    "response_jitter": 0.0,
}


@dataclass(frozen=True)
class Fault:
    name: str
    injected: str
    settings: dict[str, object] = field(default_factory=dict)
    drop_every: float = 0.0
    """Cut every bind this often (seconds; 0: never)."""
    counted: tuple[str, ...] = ()
    """The simulator's fault counters that show the fault happened."""
    few: bool = False
    """Send to the small segment only (``SEGMENT``)."""


def faults(quick: bool) -> list[Fault]:
    every = 0.4 if quick else 2.0
    return [
        Fault("carrier-drop-binds", f"every bind dropped every {every:g} s",
              drop_every=every, counted=("dropped_bind",)),
        Fault("carrier-withheld", "5% of submit_sm never answered",
              {"withhold_fraction": 0.05}, counted=("withheld",)),
        Fault("carrier-throttled", "10% of submit_sm answered ESME_RTHROTTLED",
              {"error_fraction": 0.1, "error_status": "ESME_RTHROTTLED"},
              counted=("error_status",), few=True),
        Fault("carrier-queue-full", "10% of submit_sm answered ESME_RMSGQFUL",
              {"error_fraction": 0.1, "error_status": "ESME_RMSGQFUL"},
              counted=("error_status",), few=True),
        Fault("carrier-early-receipts", "submit_sm_resp 0.3-0.8 s late (out of order), "
              "receipts at once (before their response)",
              {"response_delay": 0.3, "response_jitter": 0.5},
              counted=("early_receipt", "reordered_response")),
    ]  # fmt: skip


async def _dropping(stage: Stage, every: float) -> None:
    while True:
        await trio.sleep(every)
        await stage.sim.drop_binds()


async def _progress(stage: Stage, samples: list[tuple[float, int]]) -> None:
    while True:
        samples.append((trio.current_time(), stage.sim.stats.messages))
        await trio.sleep(0.02)


async def _matched(stage: Stage, *appeals: int) -> int:
    """Receipts the engine matched to these appeals' messages (flushed every second)."""
    total = 0
    for appeal in appeals:
        state = await stage.appeal_state(appeal)
        total += sum(int(v) for k, v in state.items() if k.startswith("appeal_receipt_"))
    return total


async def _receipts_settled(
    stage: Stage, engine: EngineProcess, appeal: int, before: float, expected: int
) -> tuple[int, int]:
    """(receipts received, matched) once ``expected`` receipts (one per submit the carrier
    took) have come and every one is matched, or nothing moved for 3 s."""
    last: tuple[int, int] = (-1, -1)
    since = trio.current_time()
    deadline = since + 120.0
    while True:
        received = int((await engine.scrape()).total(RECEIPTS) - before)
        now = (received, await _matched(stage, appeal))
        if now != last:
            last, since = now, trio.current_time()
        done = now[0] == now[1] or trio.current_time() - since >= 3.0
        if done and received >= expected and not len(stage.sim.account().outbox):
            return now
        if trio.current_time() > deadline:
            raise ScenarioFailed(f"receipts: {received} of {expected} came, {now[1]} matched")
        await trio.sleep(0.25)


@dataclass
class Phase:
    """One fault's run: where the counters stood before, and what moved during it."""

    fault: Fault
    recipients: int
    before: Counter[int]
    faults_before: Counter[str]
    duplicates_before: float
    receipts_before: float
    earlier: list[int]
    """The appeals of the phases before."""
    earlier_matched: int
    """Receipts matched to their messages before this phase."""
    appeal: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)


async def _inject(stage: Stage, engine: EngineProcess, fault: Fault) -> Phase:
    """Switch the fault on, send the appeal, wait until it is through, switch it off."""
    sim = stage.sim
    scrape = await engine.scrape()
    n = stage.subscribers // SEGMENT if fault.few else stage.subscribers
    earlier = list(stage.appeals)
    phase = Phase(fault, n, sim.ledger.mt_counts(), Counter(sim.stats.faults),
                  scrape.total(DUPLICATES), scrape.total(RECEIPTS), earlier,
                  await _matched(stage, *earlier))  # fmt: skip
    for name, value in fault.settings.items():
        sim.carrier.set(name, value)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_progress, stage, phase.samples)
        if fault.drop_every:
            nursery.start_soon(_dropping, stage, fault.drop_every)
        phase.appeal = await stage.send_appeal(fault.name, language="en" if fault.few else "")
        await until("every recipient reached", lambda: stage.reached(n, phase.before) == n,
                    60 + n / 100, interval=0.25)  # fmt: skip
        await until("the lanes empty", stage.outbound_idle, 60)
        nursery.cancel_scope.cancel()
    for name, value in CALM.items():
        sim.carrier.set(name, value)
    await stage.wait_bound(2)
    return phase


async def _judge(stage: Stage, engine: EngineProcess, phase: Phase, row: Row) -> None:
    """Read the ledger and the engine once the receipts have settled; fill in the row."""
    sim, n = stage.sim, phase.recipients
    taken = sum(sim.ledger.mt_counts().values()) - sum(phase.before.values())
    received, matched = await _receipts_settled(
        stage, engine, phase.appeal, phase.receipts_before, taken
    )
    counted = (await engine.scrape()).total(DUPLICATES) - phase.duplicates_before
    delivery = stage.delivered(n, phase.before)
    happened = {k: sim.stats.faults[k] - phase.faults_before[k] for k in phase.fault.counted}
    elsewhere = await _matched(stage, *phase.earlier) - phase.earlier_matched
    unmatched = received - matched - elsewhere
    row.messages, row.lost, row.duplicated = n, delivery.missed, delivery.duplicated
    row.recovery_s = round(longest_stall(phase.samples), 2)
    row.injected += " (" + ", ".join(f"{v:,} {k}" for k, v in happened.items()) + ")"
    row.why = (f"{counted:.0f} resends after an unknown outcome counted in {DUPLICATES}; "
               f"receipts: {received:,} received, {unmatched:,} unmatched, {elsewhere:,} "
               f"matched to another appeal's message")  # fmt: skip
    seconds = max(phase.samples[-1][0] - phase.samples[0][0], 1e-3)
    row.figures |= {"possible_duplicates": counted, "receipts_received": received,
                    "receipts_matched": matched, "receipts_unmatched": unmatched,
                    "receipts_matched_to_other_messages": elsewhere,
                    "faults": happened, "messages_per_second": round(n / seconds)}  # fmt: skip
    row.check("fault injected", all(happened.values()), f"{happened}")
    row.check("no recipient missed", delivery.missed == 0, f"{delivery.missed} missed")
    row.check("every duplicate counted", delivery.duplicated <= counted,
              f"{delivery.duplicated} duplicated, {counted:.0f} counted")  # fmt: skip
    row.check("every receipt matched to its own message", elsewhere == 0,
              f"{elsewhere} of {received} matched to messages of earlier appeals")  # fmt: skip
    row.check("0 receipts unmatched (but for responses lost with a bind)",
              unmatched <= delivery.duplicated,
              f"{unmatched} of {received} unmatched, {delivery.duplicated} duplicated")  # fmt: skip


async def carrier_faults(options: Options, rows: list[Row]) -> None:
    n = 2_000 if options.quick else 10_000
    settings = EngineSettings(binds=2, window=256, rate=1000.0, response_timeout=1.0)
    receipts = ReceiptConfig(delay=0.0, jitter=0.1, outcomes={"DELIVRD": 1.0})
    config = simulator_config(n, receipts=receipts)
    async with open_stage(options, "carrier", config) as stage:
        await stage.subscribe(n // SEGMENT, language="en")
        await stage.subscribe(n)
        async with stage.engine(settings) as engine:
            await stage.wait_bound(settings.binds)
            for fault in faults(options.quick):
                row = Row(fault.name, fault.injected)
                rows.append(row)
                started = trio.current_time()
                await _judge(stage, engine, await _inject(stage, engine, fault), row)
                row.peak_rss_mib = engine.peak_mib
                row.seconds = round(trio.current_time() - started, 1)
            code = await engine.stop()
        rows[-1].check("engine stops cleanly", code == 0, f"exit status {code}")
