"""The Grafana dashboard and the alert rules, checked against a real Prometheus.

Debian's ``prometheus`` package provides ``prometheus`` and ``promtool`` (``.ci/run`` installs
it where apt is available); without them the tests that need them skip, saying why. The live
test runs a short appeal (subscribers, an appeal through a slow bind so its fan-out is still
running, JA replies, duplicates, opt-outs, thank-yous, receipts) through a real engine process
and the simulator, lets Prometheus scrape the engine every second with the alert rules
loaded, and then asks Prometheus for every panel query of the dashboard (its template
variables substituted) and every alert expression: each must parse, each panel query must
return data, every metric name they mention must be one the engine exports, and every rule
must evaluate without error.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import trio
import yaml
from prometheus_client.core import Metric

from counters import CountersCollector, Keys, Store
from engine.campaigns.appeals import Campaigns
from engine.campaigns.model import AppealSpec
from engine.campaigns.progress import FanOutGauges
from engine.config import parse_config
from engine.metrics import BindCollector, Metrics
from smpp.simulator.config import AccountConfig, HandsetConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.server import open_simulator
from tests.engine.test_run_process import engine_process, wait_bound
from tests.redis_support import free_port
from tests.waiting import poll_for

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "ops" / "grafana" / "ja-engine.json"
ALERTS = ROOT / "ops" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "ops" / "prometheus" / "alerts_test.yml"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (apt-get install prometheus)"
)

JOB = "ja-engine"
RATE_INTERVAL = "15s"
"""What Grafana's ``$__rate_interval`` becomes here (4x the 1 s scrape interval, rounded up)."""
MAY_BE_ABSENT = {
    "ja_engine_store_unavailable_total": "counted only once Redis has refused an operation",
}
"""Names a short healthy run never exports; their expressions say ``or vector(0)``."""

FIRST = 31600000000
SUBSCRIBERS = 1200
CONFIG = """
short_code = "4777"
[redis]
url = "{redis_url}"
namespace = "{namespace}"
[metrics]
port = 0
[outbox]
consumer = "prometheus-test"
[inbox]
redelivery_window = 0.2
[campaigns]
thank_delay = 1.0
[carriers.sim]
[[carriers.sim.binds]]
name = "sim-1"
port = {port}
system_id = "ja"
password = "pw"
window = 16
rate = 40
burst = 5
reconnect_initial = 0.05
"""
"""40 messages a second: 1,200 subscribers take 30 s and more, so the fan-out is still running
(its gauges present) when the JA, thank-yous and receipts have been scraped (2-3 s after
sending on this machine); the test stops everything then."""


# --- the files themselves --------------------------------------------------------------------


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel with queries, rows included (a collapsed row keeps its panels inside)."""
    for panel in dashboard["panels"]:
        yield from panels(panel) if panel.get("panels") else ()
        if panel.get("type") != "row":
            yield panel


def panel_queries() -> list[tuple[str, str]]:
    """(panel title and refId, PromQL with the template variables substituted)."""
    dashboard = json.loads(DASHBOARD.read_text())
    values = {"__rate_interval": RATE_INTERVAL, "__interval": "1s", "__range": "5m"}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable.get("includeAll"), variable
            assert variable.get("allValue") == ".*", variable
            values[variable["name"]] = ".*"

    def substitute(expr: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match[1] or match[2]
            assert name in values, f"unknown template variable ${name} in {expr}"
            return values[name]

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)

    queries = []
    for panel in panels(dashboard):
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            queries.append((f"{panel['title']} [{target['refId']}]", substitute(target["expr"])))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bja_[a-z0-9_]+\b", expr))


def exported_names() -> set[str]:
    """The series names the engine can export (its own metrics, the per-bind collector, the
    Redis-read collector with the fan-out gauges), whether or not they have samples yet."""
    families: list[Metric] = list(Metrics().registry.collect())
    families += BindCollector(list).collect()
    client = redis.Redis()  # describe() never connects
    try:
        families += CountersCollector(client, Keys(), appeal_gauges=[FanOutGauges()]).describe()
    finally:
        client.close()
    suffixes = {
        "counter": ["_total"],
        "histogram": ["_bucket", "_count", "_sum"],
        "info": ["_info"],
    }
    return {f.name + s for f in families for s in suffixes.get(f.type, [""])}


def test_every_name_in_the_dashboard_and_alerts_is_exported() -> None:
    known = exported_names()
    used = {name: where for where, expr in panel_queries() for name in metric_names(expr)}
    used |= {name: rule["alert"] for rule in alert_rules() for name in metric_names(rule["expr"])}
    unknown = {name: where for name, where in used.items() if name not in known}
    assert not unknown, f"names the engine does not export: {unknown}"
    assert {rule["alert"] for rule in alert_rules()} == {
        "JaBindDown", "JaThrottlingSustained", "JaQueueAgeGrowing", "JaReceiptsFailing",
        "JaThankYouDelayAboveTarget", "JaRedisUnavailable", "JaDeadLetters", "JaFanOutStalled",
    }  # fmt: skip


def test_every_alert_has_a_runbook_and_a_unit_test() -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text()
    tested = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    for rule in alert_rules():
        name = rule["alert"]
        assert f"\n### {name}\n" in runbook, f"no runbook section for {name}"
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert name in tested, f"no promtool test makes {name} fire"


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_unit_tests_of_the_alerts() -> None:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- a live engine under Prometheus ----------------------------------------------------------


class PrometheusServer:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.base}/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            with exc:  # its socket too
                if exc.code not in (400, 422):  # 400: does not parse; 422: cannot evaluate
                    raise
                body = json.load(exc)
        return body

    async def get(self, path: str, **params: str) -> Any:
        return await trio.to_thread.run_sync(lambda: self._get(path, **params))

    async def query(self, expr: str) -> list[Any]:
        """The instant vector (or scalar) of ``expr``; fails on an error (a parse error)."""
        body = await self.get("query", query=expr)
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        result: list[Any] = body["data"]["result"]
        return result if body["data"]["resultType"] != "scalar" else [result]

    async def answers(self) -> bool:
        try:
            return bool(await self.query(f'up{{job="{JOB}"}} == 1'))
        except (OSError, ValueError, AssertionError):  # not ready: 503, or no scrape yet
            return False


@asynccontextmanager
async def prometheus(tmp_path: Path, target: str) -> AsyncIterator[PrometheusServer]:
    """Prometheus on a free loopback port scraping ``target`` every second, rules loaded."""
    assert PROMETHEUS is not None
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = await trio.lowlevel.open_process(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        server = PrometheusServer(port)
        await poll_for(server.answers, timeout=20, what="Prometheus scraping the engine")
        yield server
    finally:
        process.terminate()
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        time_compression=600.0,
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(delay=0.1, jitter=0.1, outcomes={"DELIVRD": 0.8, "UNDELIV": 0.2}),
        handsets=HandsetConfig(
            count=SUBSCRIBERS,
            first_number=str(FIRST),
            reply_probability=0.6,
            stop_probability=0.05,
            help_probability=0.0,
            unrelated_probability=0.0,
            long_probability=0.0,
            duplicate_probability=0.4,
            stranger_probability=0.0,
            delay_min=0.0,
            delay_median=300.0,
            delay_sigma=0.5,
            duplicate_gap=300.0,
        ),
    )


async def empty_panels(server: PrometheusServer, queries: list[tuple[str, str]]) -> list[str]:
    """The queries with no sample, or only NaN ones (a quantile of no observations): what
    Grafana would draw as nothing."""
    empty = []
    for where, expr in queries:
        samples = await server.query(expr)
        if all(math.isnan(float(s["value"][1] if isinstance(s, dict) else s[1])) for s in samples):
            empty.append(where)
    return empty


@pytest.mark.slow
@needs_prometheus
async def test_every_panel_and_alert_against_a_live_engine(
    tmp_path: Path, redis_url: str, keys: Keys, store: Store
) -> None:
    queries = panel_queries()
    async with open_simulator(sim_config()) as sim:
        _, sim_port = await sim.listen("127.0.0.1", 0)
        text = CONFIG.format(redis_url=redis_url, namespace=keys.namespace, port=sim_port)
        (tmp_path / "ja.toml").write_text(text)
        numbers = [f"+{FIRST + i}" for i in range(SUBSCRIBERS)]
        await store.subscribers.subscribe_many(numbers, source="test", language="nl")
        async with engine_process(tmp_path / "ja.toml") as engine:
            await wait_bound(sim)
            target = urllib.parse.urlsplit(engine.metrics_url).netloc
            async with prometheus(tmp_path, target) as server:
                campaigns = Campaigns(store, parse_config(text).campaigns)
                view = await campaigns.create(
                    AppealSpec(title="Gevangene X", text="Urgente actie. Antwoord JA.")
                )
                await campaigns.send(view.id)
                started = time.monotonic()

                # Data for every panel at once: the fan-out still running while the JA,
                # thank-yous and receipts it caused have been scraped twice (for rate()).
                empty = [where for where, _ in queries]
                with trio.move_on_after(30):
                    while empty := await empty_panels(server, queries):
                        await trio.sleep(0.5)
                assert not empty, f"panels with no data: {empty}"
                print(f"every panel has data {time.monotonic() - started:.1f} s after sending")

                for rule in alert_rules():
                    await server.query(rule["expr"])  # parses and evaluates
                await check_rules_evaluated(server)
                await check_names_exported(server, queries)


async def check_rules_evaluated(server: PrometheusServer) -> None:
    """Prometheus loaded every rule and evaluated each without error; nothing fires."""

    async def evaluated() -> bool:
        body = await server.get("rules", type="alert")
        rules = [rule for group in body["data"]["groups"] for rule in group["rules"]]
        return len(rules) == len(alert_rules()) and all(r["health"] == "ok" for r in rules)

    await poll_for(evaluated, timeout=10, what="every rule evaluated without error")
    body = await server.get("rules", type="alert")
    firing = [
        rule["name"]
        for group in body["data"]["groups"]
        for rule in group["rules"]
        if rule["state"] == "firing"
    ]
    assert not firing, f"alerts firing in a healthy run: {firing}"


async def check_names_exported(server: PrometheusServer, queries: list[tuple[str, str]]) -> None:
    """A name Prometheus never saw is a typo, however the expression copes with absence."""
    scraped = set((await server.get("label/__name__/values"))["data"])
    exprs = [expr for _, expr in queries] + [rule["expr"] for rule in alert_rules()]
    used = set().union(*(metric_names(expr) for expr in exprs))
    missing = used - scraped - set(MAY_BE_ABSENT)
    assert not missing, f"names Prometheus never scraped from the engine: {sorted(missing)}"
