"""Redis killed and started again in the middle of a JA burst; the engine must carry on alone.

A private redis-server (AOF, ``appendfsync always``, on a port of its own: the shared one
keeps nothing on disk and is not ours to restart) holds the engine's data. The burst is the
one of ``kill9-burst``: handsets answer the appeal with JA, the engine sends thank-yous. Once
a quarter of the expected JA are counted, Redis gets SIGKILL, stays down ``DOWN`` seconds and
comes back on the same port from its AOF. Meanwhile the engine answers deliver_sm with
ESME_RX_T_APPN (the simulator retries), and nobody restarts or pokes it. Afterwards the same
invariants as the crash: the count equals the distinct handsets whose JA the engine
acknowledged, nobody thanked twice, a thank-you missing only if it was in flight; and the
engine still runs. "Time to recover": from Redis answering again to the first deliver_sm the
engine acknowledges.
"""

from __future__ import annotations

import redis
import trio

from bench.faults.crash import burst_checks, settled
from bench.faults.harness import PrivateRedis, until
from bench.faults.process import EngineSettings
from bench.faults.report import Row
from bench.faults.stage import Options, Stage, open_stage, simulator_config

__all__ = ["redis_restart"]


async def _outage(stage: Stage, server: PrivateRedis, down: float) -> float:
    """Kill Redis, wait ``down`` seconds, start it again; when it answered again."""
    await trio.to_thread.run_sync(server.kill)
    await trio.sleep(down)
    await trio.to_thread.run_sync(server.start)
    back = trio.current_time()
    stage.client.close()
    stage.client = redis.Redis.from_url(server.url, socket_timeout=10.0)
    return back


async def redis_restart(options: Options, rows: list[Row]) -> None:
    n = 1_500 if options.quick else 20_000
    down = 2.0 if options.quick else 5.0
    thank_delay = 1.0 if options.quick else 5.0
    settings = EngineSettings(binds=2, window=64, rate=1000.0, thank_delay=thank_delay)
    row = Row("redis-restart", f"Redis (AOF, appendfsync always) killed -9 during a JA burst "
              f"from {n:,} handsets, down {down:g} s, restarted")  # fmt: skip
    rows.append(row)
    directory = options.tmp / "redis-restart"
    directory.mkdir(exist_ok=True)
    server = PrivateRedis(directory)
    await trio.to_thread.run_sync(server.start)
    try:
        config = simulator_config(n, replies=0.8)
        async with open_stage(options, row.scenario, config, url=server.url) as stage:
            await stage.subscribe(n)
            async with stage.engine(settings) as engine:
                await stage.wait_bound(settings.binds)
                appeal = await stage.send_appeal(row.scenario)
                quarter = int(0.8 * n) // 4
                await until("a quarter of the JA counted",
                            lambda: _at_least(stage, appeal, quarter), 120)  # fmt: skip
                row.figures["signatures_at_kill"] = await stage.signatures(appeal)
                back = await _outage(stage, server, down)
                acked = stage.sim.stats.deliveries["ok"]
                await until("a deliver_sm acknowledged after the restart",
                            lambda: stage.sim.stats.deliveries["ok"] > acked, 60,
                            interval=0.005)  # fmt: skip
                row.recovery_s = trio.current_time() - back
                await settled(stage, appeal)
                alive = engine.alive()
                scrape = await engine.scrape()
                code = await engine.stop()
            burst_checks(row, stage, await stage.signatures(appeal), scrape)
            row.peak_rss_mib = stage.memory.peak_mib
            retried = stage.sim.stats.deliveries["retried"]
            row.why = (f"thank-yous are never resent: {row.figures['thank_yous_missing']} "
                       f"not sent; {retried:,} deliver_sm refused while Redis was down "
                       f"(ESME_RX_T_APPN) and redelivered, counted once")  # fmt: skip
            row.figures["deliver_sm_retried"] = retried
            row.check("the engine ran through the outage", alive, "it had exited")
            row.check("engine stops cleanly", code == 0, f"exit status {code}")
    finally:
        await trio.to_thread.run_sync(server.kill)


async def _at_least(stage: Stage, appeal: int, count: int) -> bool:
    return await stage.signatures(appeal) >= count
