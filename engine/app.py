"""The top nursery: binds, outbox, inbox, router, metrics, and an orderly stop.

``open_engine(config)`` runs everything for the duration of a block (tests, the demo);
``run_from_cli`` runs it until SIGINT/SIGTERM and serves ``/metrics``, ``/healthz`` and
``/readyz`` over HTTP from the same event loop (`engine.http`). Stopping
takes no new work, waits (bounded) for the responses still in flight, unbinds, and closes.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import trio

from counters import EmbeddedServerError, Store, StoreConfig, StoreUnavailable, open_store
from engine.bind import CarrierBind
from engine.campaigns.appeals import Campaigns
from engine.campaigns.fanout import FanOut
from engine.campaigns.router import CampaignRouter
from engine.config import Config
from engine.groups import sole
from engine.http import ListenError, serve_engine, url_host
from engine.inbox import Inbox
from engine.lease import ConsumerLease, ConsumerTaken
from engine.live.process import run_public_process
from engine.logs import configure as configure_logging
from engine.masking import redact_url
from engine.metrics import BindCollector, Metrics
from engine.outbox import Outbox
from engine.pool import CarrierPool
from engine.routers import LoggingRouter, Router, RouterContext, RouterFactory, RouterLoop

__all__ = ["Engine", "LoggingRouter", "demo_from_cli", "open_engine", "run_from_cli"]

log = logging.getLogger(__name__)


class Engine:
    """The running engine's parts, for tests and operators."""

    def __init__(
        self,
        config: Config,
        store: Store,
        metrics: Metrics,
        router: Router | RouterFactory | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.context = RouterContext(store, config, metrics)
        self.router = _make_router(router, self.context)
        self.campaigns = Campaigns(store, config.campaigns)
        self.fanout = FanOut(store, config.campaigns, metrics)
        self.consumer = consumer = config.outbox.consumer or socket.gethostname()
        self.inbox = Inbox(store, config, metrics)
        self.binds = [
            CarrierBind(bind, carrier, self.inbox) for carrier, bind in config.all_binds()
        ]
        self.pools = {
            name: CarrierPool(name, [b for b in self.binds if b.carrier == name])
            for name in config.carriers
        }
        for name, pool in self.pools.items():
            self.inbox.notify[name] = pool.notify
        self.outbox = Outbox(
            store,
            self.pools,
            config,
            metrics,
            consumer=consumer,
            reclaim_idle=config.outbox.reclaim_idle,
        )
        self.outbox.on_sent = self.inbox.sent
        self.router_loop = RouterLoop(
            store,
            self.router,
            metrics,
            consumer=consumer,
            reclaim_idle=config.outbox.reclaim_idle,
            keep_messages=config.inbox.keep_messages,
            keep_seconds=config.inbox.keep_days * 86400,
        )
        metrics.registry.register(BindCollector(lambda: self.binds))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for bind in self.binds:
                await nursery.start(bind.run)
            await nursery.start(self.outbox.run)
            await nursery.start(self.router_loop.run)
            if isinstance(self.router, CampaignRouter):
                await nursery.start(self.fanout.run)
            nursery.start_soon(self._housekeeping)
            task_status.started()

    async def _housekeeping(self) -> None:
        while True:
            await self.housekeep()
            await trio.sleep(1.0)

    async def housekeep(self) -> None:
        """Gauges that are states, not events; receipts matched late; per-appeal tallies.
        A Redis outage pauses the Redis part (what it holds is kept for the next round):
        it never ends the engine."""
        m = self.metrics
        for bind in self.binds:
            m.child("window_in_use", bind.carrier, bind.name).set(bind.in_flight())
            m.child("rate_current", bind.carrier, bind.name).set(bind.rate.current)
        now = trio.current_time()
        oldest = {"tx": now, "bulk": now}
        for name, queue in self.outbox.queues.items():
            m.child("queue_depth", name, "tx").set(len(queue.tx))
            m.child("queue_depth", name, "bulk").set(len(queue.bulk))
            for lane, items in (("tx", queue.tx), ("bulk", queue.bulk)):
                if items:
                    oldest[lane] = min(oldest[lane], items[0].read_at)
        for lane, since in oldest.items():
            m.child("oldest_age", lane).set(now - since)
        self.outbox.flush_metrics()
        self.inbox.expire(now)
        try:
            await self.inbox.apply_late()
            await self.inbox.flush_tallies()
        except StoreUnavailable:
            m.child("store_errors", "housekeeping").inc()

    def all_bound(self) -> bool:
        return all(bind.is_up() for bind in self.binds)

    async def wait_bound(self) -> None:
        """Wait until every configured bind is up (callers bound this with a deadline)."""
        while not self.all_bound():
            await self.inbox.changed.park()

    async def stop(self, grace: float = 5.0) -> None:
        """Take no new work, wait (bounded) for in-flight responses and their write-back to
        Redis, then unbind every bind."""
        self.outbox.stop_intake()
        with trio.move_on_after(grace):
            while any(bind.in_flight() for bind in self.binds):
                with trio.move_on_after(0.02):  # responses are settled in callbacks: poll
                    await self.inbox.changed.park()
        with trio.move_on_after(grace):
            await self.outbox.flush()
        self.outbox.flush_metrics()
        async with trio.open_nursery() as nursery:
            for bind in self.binds:
                nursery.start_soon(bind.stop, grace)
        with trio.move_on_after(grace):  # what the closing binds never wrote goes back
            await self.outbox.flush()


def _make_router(router: Router | RouterFactory | None, context: RouterContext) -> Router:
    """The router given, one built by the factory given, or the configured one."""
    if router is None:
        if context.config.inbox.router == "log":
            return LoggingRouter(context)
        return CampaignRouter(context)
    if isinstance(router, type) or not hasattr(router, "route"):
        return router(context)  # a factory (a router class is one)
    return cast(Router, router)


@asynccontextmanager
async def open_engine(
    config: Config,
    *,
    metrics: Metrics | None = None,
    router: Router | RouterFactory | None = None,
    store: Store | None = None,
) -> AsyncIterator[Engine]:
    """Run the engine for the duration of the block; stop it in order on the way out."""
    metrics = metrics or Metrics()
    if store is None:
        async with (
            open_store(store_config(config), on_batch=metrics.observe_batch) as opened,
            _running(config, opened, metrics, router) as engine,
        ):
            yield engine
    else:
        async with _running(config, store, metrics, router) as engine:
            yield engine


def store_config(config: Config) -> StoreConfig:
    """How the engine's configuration opens Redis."""
    return StoreConfig(
        url=config.redis.url or "",
        namespace=config.redis.namespace,
        data_dir=config.redis.data_dir or "",
        appendfsync=config.redis.appendfsync,
        forget_secret=config.redis.forget_secret,
    )


@asynccontextmanager
async def _running(
    config: Config, store: Store, metrics: Metrics, router: Router | RouterFactory | None
) -> AsyncIterator[Engine]:
    engine = Engine(config, store, metrics, router)
    lease = ConsumerLease(store, engine.consumer)
    await lease.acquire()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lease.keep)
            await nursery.start(engine.run)
            try:
                yield engine
            finally:
                with trio.CancelScope(shield=True):
                    await engine.stop()
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await lease.release()


class _Stop:
    """A stop asked for by a signal: before Redis answered, it cancels the connecting
    (nothing else has begun); later, the engine finishes starting and stops in order at
    once (cancelling it half-started would cut the Redis link its own unwinding needs)."""

    def __init__(self) -> None:
        self.requested = trio.Event()
        self.connecting: trio.CancelScope | None = None

    def request(self) -> None:
        self.requested.set()
        if self.connecting is not None:
            self.connecting.cancel()


async def _serve(config: Config, early: list[int], config_path: str) -> None:
    """Run until SIGINT/SIGTERM, watched before anything starts; ``early`` holds a signal
    that came before the event loop did. ``config_path`` is given to the public server's
    process (`engine.live.process`)."""
    stop = _Stop()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signal, signals, early, stop)
            await _run_engine(config, stop, config_path)
            nursery.cancel_scope.cancel()


async def _stop_on_signal(signals: AsyncIterator[int], early: list[int], stop: _Stop) -> None:
    if not early:
        async for signum in signals:
            early.append(signum)
            break
    log.info("signal %d: stopping", early[0])
    stop.request()


async def _run_engine(config: Config, stop: _Stop, config_path: str) -> None:
    metrics = Metrics()
    with trio.CancelScope() as stop.connecting:
        async with open_store(store_config(config), on_batch=metrics.observe_batch) as store:
            stop.connecting = None  # Redis answered: from here on a stop is an orderly one
            if stop.requested.is_set():
                return
            async with open_engine(config, metrics=metrics, store=store) as engine:
                if stop.requested.is_set():
                    return
                await _serve_http(config, engine, stop, config_path)


async def _serve_http(config: Config, engine: Engine, stop: _Stop, config_path: str) -> None:
    """Serve HTTP until a stop is asked for, and the public server's process when
    ``[http] public_port`` is set; print where (bench/ and tests read those lines)."""
    # Everything allocated so far lives as long as the process: move it out of the
    # collector's reach, so a full collection scans only what traffic allocates (a full
    # pass over the start-up heap stalled the event loop for 60-80 ms).
    gc.collect()
    gc.freeze()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_engine, engine, config.http, stop.requested.wait)
        url = f"http://{url_host(config.http.host)}:{port}"
        log.info("metrics on %s/metrics (also /healthz, /readyz)", url)
        print(f"metrics on {url}/metrics", flush=True)
        if config.http.public_port is not None:
            where = await nursery.start(
                run_public_process, config_path, engine.store.url, stop.requested.wait
            )
            log.info("public counter and live page on %s/live/ (a process of its own)", where)
            print(f"public on {where}", flush=True)


def run_from_cli(config: Config, args: argparse.Namespace) -> int:
    """``ja-engine run FILE``: run until SIGINT/SIGTERM."""
    configure_logging(
        getattr(args, "log_format", None) or config.logging.format,
        getattr(args, "log_level", None) or config.logging.level,
    )
    early: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: early.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        trio.run(_serve, config, early, args.config)
    except BaseException as exc:
        if (unreachable := sole(exc, (StoreUnavailable, EmbeddedServerError))) is not None:
            where = config.redis.url or "the embedded server"
            print(f"ja-engine: cannot reach Redis at {redact_url(where)} ({unreachable}); start "
                  "it or fix redis.url / REDIS_URL, then run again", file=sys.stderr)  # fmt: skip
            return EXIT_NO_REDIS
        if (taken := sole(exc, (ConsumerTaken,))) is not None:
            log.error("%s", taken)
            print(f"ja-engine: {taken}", file=sys.stderr)
            return 2
        if (refused := sole(exc, (ListenError,))) is not None:
            log.error("%s", refused)
            assert isinstance(refused, ListenError)
            print(f"ja-engine: HTTP server: {refused}; free the port or change {refused.setting} "
                  "in the configuration", file=sys.stderr)  # fmt: skip
            return EXIT_NO_LISTEN
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


EXIT_NO_REDIS = 3
"""``ja-engine run`` could not reach Redis at start (the same code as the console's)."""
EXIT_NO_LISTEN = 4
"""``ja-engine run`` could not listen on its HTTP address (in use, or not this machine's)."""


def demo_from_cli(args: argparse.Namespace) -> int:
    """``ja-engine demo``: the simulator and the engine in one process (see engine.demo)."""
    from engine.demo import main as demo_main

    return demo_main(args)
