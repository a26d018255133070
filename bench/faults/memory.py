"""The engine's memory when work piles up: a carrier that stops answering, a million recipients.

stalled-carrier. During a fan-out the carrier stops answering every submit_sm (withhold
100%) for a while, then answers again. The engine keeps at most its outbox backlog (4,096
messages) in memory and leaves the rest in the Redis lane, so its resident memory must stay
flat through the stall (at most ``STALL_GROWTH`` MiB above what it was before), and once
the carrier answers again every recipient gets the appeal. A withheld submit times out and
is resent (bulk policy), so the resends counted in ``ja_outbox_possible_duplicates_total``
grow during the stall, while the ledger shows no real duplicate: the carrier took none of
them. "Time to recover": from the end of the stall to the first submit the carrier takes.

million-fanout. One urgent appeal to 1,000,000 subscribers (quick: 20,000), the carrier
without limits: the engine's resident memory every half second (the series is in the JSON
for a chart), its peak (the goal: under ``PEAK_GOAL`` MiB), and the ledger's verdict (every
recipient once).
"""

from __future__ import annotations

import trio

from bench.faults.crash import DUPLICATES, first_progress
from bench.faults.harness import MemorySampler, until
from bench.faults.process import EngineProcess, EngineSettings
from bench.faults.report import Row
from bench.faults.stage import Options, Stage, open_stage, simulator_config
from counters import Lane

__all__ = ["PEAK_GOAL", "STALL_GROWTH", "million_fanout", "stalled_carrier"]

PEAK_GOAL = 100.0
"""MiB: the engine's peak resident memory over a million-recipient fan-out."""
STALL_GROWTH = 20.0
"""MiB the engine's resident memory may grow while the carrier is stalled."""
BACKLOG = 4096
"""``Outbox.backlog``: messages the engine keeps in memory, at most."""


async def _watch_stall(
    stage: Stage, engine: EngineProcess, seconds: float, row: Row
) -> tuple[float, int]:
    """Sample memory, the lane and the in-memory queue for ``seconds``; (peak RSS MiB,
    deepest in-memory queue)."""
    peak, depth = 0.0, 0
    lane = stage.keys.lane(Lane.BULK)
    end = trio.current_time() + seconds
    while trio.current_time() < end:
        peak = max(peak, engine.rss_mib())
        scrape = await engine.scrape()
        depth = max(depth, int(scrape.total("ja_outbox_queue_depth")))
        row.figures["lane_during_stall"] = int(await stage.redis("xlen", lane))
        await trio.sleep(0.25)
    return peak, depth


async def stalled_carrier(options: Options, rows: list[Row]) -> None:
    n = 6_000 if options.quick else 100_000
    stall = 4.0 if options.quick else 20.0
    rate = 1000.0 if options.quick else 2500.0
    settings = EngineSettings(binds=2, window=64, rate=rate, response_timeout=1.0)
    row = Row("stalled-carrier", f"the carrier answers nothing for {stall:g} s (withhold "
              f"100%) during a {n:,}-recipient fan-out")  # fmt: skip
    rows.append(row)
    async with open_stage(options, row.scenario, simulator_config(n)) as stage:
        sim = stage.sim
        await stage.subscribe(n)
        async with stage.engine(settings) as engine:
            await stage.wait_bound(settings.binds)
            await stage.send_appeal(row.scenario)
            await until("a quarter of the fan-out", lambda: sim.stats.messages >= n // 4, 120)
            before = engine.rss_mib()
            sim.carrier.set("withhold_fraction", 1.0)
            taken = sim.stats.messages
            peak, depth = await _watch_stall(stage, engine, stall, row)
            sim.carrier.set("withhold_fraction", 0.0)
            row.recovery_s = await first_progress(stage, trio.current_time())
            await until("every recipient reached", lambda: stage.reached(n) == n,
                        60 + n / 200, interval=0.5)  # fmt: skip
            await until("the lanes empty", stage.outbound_idle, 60)
            after = engine.rss_mib()
            counted = (await engine.scrape()).total(DUPLICATES)
            code = await engine.stop()
        delivery = stage.delivered(n)
        row.messages, row.lost, row.duplicated = n, delivery.missed, delivery.duplicated
        row.peak_rss_mib = stage.memory.peak_mib
        row.why = (f"{counted:.0f} withheld submits timed out and were resent (counted in "
                   f"{DUPLICATES}); the carrier took none of them twice")  # fmt: skip
        row.figures |= {"rss_before_stall_mib": round(before, 1),
                        "rss_peak_in_stall_mib": round(peak, 1),
                        "rss_at_end_mib": round(after, 1), "in_memory_queue_max": depth,
                        "taken_before_stall": taken, "withheld": sim.stats.faults["withheld"],
                        "possible_duplicates": counted}  # fmt: skip
        row.check("no recipient missed", delivery.missed == 0, f"{delivery.missed} missed")
        row.check("every duplicate counted", delivery.duplicated <= counted,
                  f"{delivery.duplicated} duplicated, {counted:.0f} counted")  # fmt: skip
        row.check("memory flat through the stall", peak - before <= STALL_GROWTH,
                  f"{before:.0f} MiB before, {peak:.0f} MiB peak")  # fmt: skip
        row.check(
            "the backlog stays in Redis",
            depth <= BACKLOG,
            f"{depth} messages held in memory, lane {row.figures['lane_during_stall']}",
        )
        row.check("engine stops cleanly", code == 0, f"exit status {code}")


async def _progress(stage: Stage, memory: MemorySampler, series: list[tuple[float, int]]) -> None:
    """The simulator's intake beside the memory series (same clock)."""
    start = trio.current_time()
    while True:
        series.append((round(trio.current_time() - start, 2), stage.sim.stats.messages))
        await trio.sleep(memory.interval)


async def million_fanout(options: Options, rows: list[Row]) -> None:
    n = 20_000 if options.quick else 1_000_000
    settings = EngineSettings(binds=4, window=256, rate=10_000.0, burst=1000)
    row = Row("million-fanout", f"one appeal to {n:,} subscribers, the carrier unlimited")
    rows.append(row)
    async with open_stage(options, row.scenario, simulator_config(n)) as stage:
        stage.memory.interval = 0.5
        await stage.subscribe(n)
        progress: list[tuple[float, int]] = []
        async with stage.engine(settings) as engine, trio.open_nursery() as nursery:
            await stage.wait_bound(settings.binds)
            started = trio.current_time()
            nursery.start_soon(_progress, stage, stage.memory, progress)
            await stage.send_appeal(row.scenario)
            await until("every recipient reached", lambda: stage.sim.stats.messages >= n,
                        60 + n / 1000, interval=0.5)  # fmt: skip
            elapsed = trio.current_time() - started
            await until("the lanes empty", stage.outbound_idle, 60)
            counted = (await engine.scrape()).total(DUPLICATES)
            end_rss = engine.rss_mib()
            code = await engine.stop()
            nursery.cancel_scope.cancel()
        delivery = stage.delivered(n)
        peak = stage.memory.peak_mib
        row.messages, row.lost, row.duplicated = n, delivery.missed, delivery.duplicated
        row.peak_rss_mib = peak
        row.why = "nothing failed: nothing may repeat"
        row.figures |= {"seconds": round(elapsed, 1), "messages_per_second": round(n / elapsed),
                        "rss_at_end_mib": round(end_rss, 1), "possible_duplicates": counted,
                        "rss_series": stage.memory.thinned(),
                        "progress_series": progress[:: max(1, len(progress) // 300)]}  # fmt: skip
        row.check("no recipient missed", delivery.missed == 0, f"{delivery.missed} missed")
        row.check("nobody got it twice", delivery.duplicated == 0, f"{delivery.duplicated}")
        row.check(f"peak RSS under {PEAK_GOAL:.0f} MiB (goal)", peak < PEAK_GOAL,
                  f"{peak:.0f} MiB")  # fmt: skip
        row.check("engine stops cleanly", code == 0, f"exit status {code}")
