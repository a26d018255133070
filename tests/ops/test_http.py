"""The engine's HTTP server over real sockets on 127.0.0.1: /metrics, /healthz, /readyz."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

import pytest
import trio
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.routing import Route

from counters import Store, StoreConfig, open_store
from engine.config import HttpConfig
from engine.http import MetricsApp, OffLoop, serve_app, serving
from smpp.constants import CommandId
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from tests.engine.support import rig
from tests.ops.client import get
from tests.redis_support import PrivateRedis
from tests.waiting import poll_for, wait_for


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
        handsets=HandsetConfig(count=1000, reply_probability=0.0, stranger_probability=0.0),
    )


async def test_metrics_health_and_readiness_answer_over_loopback(store: Store) -> None:
    async with rig(store, sim_config()) as r, serving(r.engine) as port:
        metrics = await get(port, "/metrics")
        assert metrics.status == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'ja_bind_up{bind="sim-1",carrier="sim"} 1.0' in metrics.text
        assert "ja_store_up 1.0" in metrics.text  # the Redis-held counts, read off the loop

        health = await get(port, "/healthz")
        assert (health.status, health.json()) == (200, {"alive": True})

        ready = await get(port, "/readyz")
        assert ready.status == 200
        body = ready.json()
        assert body["ready"] is True
        assert body["not_ready"] == []
        assert body["redis"]["answering"] is True
        assert body["carriers"] == {"sim": {"up": ["sim-1"], "down": []}}


async def test_the_exposition_is_prometheus_clients_own(store: Store) -> None:
    """OpenMetrics on request, gzip when allowed, ``name[]`` filters; other methods and
    paths refused."""
    async with rig(store, sim_config()) as r, serving(r.engine) as port:
        open_metrics = await get(
            port, "/metrics", headers=(("Accept", "application/openmetrics-text"),)
        )
        assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
        assert open_metrics.text.endswith("# EOF\n")
        packed = await get(port, "/metrics", headers=(("Accept-Encoding", "gzip"),))
        assert packed.headers["content-encoding"] == "gzip"
        assert b"ja_bind_up" in gzip.decompress(packed.body)
        only = await get(port, "/metrics?name[]=ja_bind_up")
        assert {f.name for f in text_string_to_metric_families(only.text)} == {"ja_bind_up"}
        assert (await get(port, "/metrics", method="HEAD")).status == 200
        assert (await get(port, "/metrics", method="POST")).status == 405
        assert (await get(port, "/readyz", method="DELETE")).status == 405
        assert (await get(port, "/nothing")).status == 404


class _Where(Collector):
    """Records the thread each collection ran in."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.threads: list[int] = []

    def collect(self) -> Iterator[Metric]:
        self.threads.append(threading.get_ident())
        yield GaugeMetricFamily(self.name, "where it ran", value=1)


async def test_only_the_off_loop_collector_leaves_the_event_loop() -> None:
    """The loop's own collectors run on the loop (no race with the tasks that change their
    dicts); the one doing blocking I/O runs in a worker thread, for that scrape only."""
    registry = CollectorRegistry()
    on_loop, blocking = _Where("ja_on_loop"), _Where("ja_blocking")
    off = OffLoop(blocking)
    registry.register(on_loop)
    registry.register(off)
    app = Starlette(routes=[Route("/metrics", MetricsApp(registry, [off]))])
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_app, app, HttpConfig(port=0), stop.wait)
        scrape = await get(port, "/metrics")
        stop.set()
    assert "ja_on_loop 1.0" in scrape.text
    assert "ja_blocking 1.0" in scrape.text
    assert on_loop.threads == [threading.get_ident()]
    assert len(blocking.threads) == 1
    assert blocking.threads != on_loop.threads
    registry.get_sample_value("ja_blocking")  # outside a scrape: collected where it is asked
    assert blocking.threads[1] == threading.get_ident()


async def test_readiness_names_the_carrier_whose_binds_are_all_down(store: Store) -> None:
    async with rig(store, sim_config()) as r, serving(r.engine) as port:
        bind = r.engine.binds[0]
        r.sim.refuse_binds(3600)
        await r.sim.drop_binds()
        await wait_for(lambda: not bind.is_up(), on=r.engine.inbox.changed, what="bind down")
        ready = await get(port, "/readyz")
        assert ready.status == 503
        body = ready.json()
        assert body["not_ready"] == ["carrier sim: no bind up"]
        assert body["carriers"] == {"sim": {"up": [], "down": ["sim-1"]}}
        assert (await get(port, "/healthz")).status == 200

        r.sim.carrier.refuse_until = 0.0  # the carrier takes binds again
        with trio.fail_after(10):
            await r.engine.wait_bound()
        assert (await get(port, "/readyz")).status == 200


@pytest.mark.slow
async def test_readiness_follows_redis_down_and_back(private_redis: PrivateRedis) -> None:
    config = StoreConfig(url=private_redis.url, namespace="ops")
    async with (
        open_store(config) as store,
        rig(store, sim_config()) as r,
        serving(r.engine) as port,
    ):
        assert (await get(port, "/readyz")).status == 200
        private_redis.kill()

        async def refused() -> bool:
            return (await get(port, "/readyz")).status == 503

        await poll_for(refused, timeout=10, what="/readyz 503 with Redis stopped")
        body = (await get(port, "/readyz")).json()
        assert body["not_ready"] == ["redis: not answering"]
        assert body["redis"]["answering"] is False
        assert body["redis"]["error"]
        assert body["carriers"]["sim"]["up"] == ["sim-1"]
        assert (await get(port, "/healthz")).status == 200
        scrape = await get(port, "/metrics")  # still served: the Redis part says it is down
        assert scrape.status == 200
        assert "ja_store_up 0.0" in scrape.text
        assert 'ja_bind_up{bind="sim-1",carrier="sim"} 1.0' in scrape.text

        await trio.to_thread.run_sync(private_redis.start)

        async def ready() -> bool:
            return (await get(port, "/readyz")).status == 200

        await poll_for(ready, timeout=15, what="/readyz 200 with Redis back")
        assert (await get(port, "/readyz")).json()["redis"]["answering"] is True


@pytest.mark.slow
async def test_scrapes_hammered_during_label_churn_all_succeed(store: Store) -> None:
    """Concurrent scrapes while new label values keep appearing in the engine's collectors (a
    new carrier in the latency histograms and the responses counter, new command ids in a
    bind's PDU counts): every scrape is whole, none fails. From the exporter's thread this
    raised "dictionary changed size during iteration"."""
    most_steps, scrapers, scrapes_each = 1000, 25, 4
    async with rig(store, sim_config()) as r, serving(r.engine) as port:
        bind = r.engine.binds[0]
        commands = list(CommandId)
        replies = []
        scraped = trio.Event()

        async def churn() -> None:
            for i in range(most_steps):
                if scraped.is_set():
                    return
                carrier = f"churn{i}"
                r.metrics.submit_latency.observe(carrier, 0.01)
                r.metrics.child("responses", carrier, "ESME_ROK").inc()
                bind.pdus_in[commands[i % len(commands)]] += 1
                await trio.sleep(0.001)  # scrapes run between two changes

        async def scrape() -> None:
            for _ in range(scrapes_each):
                replies.append(await get(port, "/metrics", timeout=30))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(churn)
            async with trio.open_nursery() as scraping:
                for _ in range(scrapers):
                    scraping.start_soon(scrape)
            scraped.set()

        assert len(replies) == scrapers * scrapes_each
        for reply in replies:
            assert reply.status == 200
            assert reply.text.endswith("\n")
            families = {f.name for f in text_string_to_metric_families(reply.text)}
            assert {"ja_smpp_pdus", "ja_smpp_response_duration_seconds"} <= families
        seen = {reply.text.count("ja_smpp_response_duration_seconds_count") for reply in replies}
        assert len(seen) > 1, "the scrapes did not overlap the churn"
