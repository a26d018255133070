"""SMPP over TLS to the simulator on 127.0.0.1, with throw-away CAs made by ``trustme``:
the certificate is verified by default, a refused one is one clear ERROR line and the bind
retries without sending anything (not even the bind PDU, which carries the password), and
a pin narrows trust to one certificate."""

from __future__ import annotations

import base64
import hashlib
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trustme

from counters import Store
from engine.app import Engine, open_engine
from engine.config import parse_config
from engine.metrics import Metrics
from engine.routers import LoggingRouter
from smpp.simulator.config import AccountConfig, ReceiptConfig, SimulatorConfig
from smpp.simulator.server import open_simulator
from tests.engine.support import BIND, Rig

CARRIER = "carrier.example"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """The CA the engine is told to trust."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "carrier-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def serve_cert(tmp_path: Path, leaf: trustme.LeafCert) -> SimulatorConfig:
    """A simulator that serves ``leaf`` over TLS."""
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    return SimulatorConfig(
        port=0,
        tls_cert=str(cert),
        tls_key=str(key),
        accounts=[AccountConfig(system_id="ja", password="pw")],
        receipts=ReceiptConfig(enabled=False),
    )


def fingerprint(leaf: trustme.LeafCert) -> str:
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    return hashlib.sha256(der).hexdigest()


@asynccontextmanager
async def running(store: Store, sim_config: SimulatorConfig, tls: str) -> AsyncIterator[Rig]:
    """The simulator and an engine with one bind to it, ``tls`` added to the bind's lines;
    unlike ``support.rig`` this does not wait for the bind to come up."""
    async with open_simulator(sim_config) as sim:
        _, port = await sim.listen("127.0.0.1", 0)
        bind = BIND.format(n=1, port=port, system_id="ja", window=16, rate=100.0, burst=10,
                           response_timeout=2.0)  # fmt: skip
        text = f'short_code = "4777"\n[redis]\nnamespace = "{store.keys.namespace}"\n'
        config = parse_config(f"{text}[carriers.sim]\n{bind}tls = true\n{tls}\n")
        metrics = Metrics()
        async with open_engine(config, metrics=metrics, store=store, router=LoggingRouter) as e:
            yield Rig(sim, e, store, metrics)


async def wait_refused(engine: Engine, times: int) -> None:
    with trio.fail_after(10):
        while engine.binds[0].tls_refusals < times:
            await trio.sleep(0.02)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def assert_nothing_sent(r: Rig) -> None:
    received, _ = r.sim.pdu_counts()
    assert sum(received.values()) == 0  # not even bind_transceiver: the password stayed home
    assert r.sim.ledger.count() == 0
    assert not r.engine.binds[0].is_up()


async def test_binds_over_tls_with_the_carrier_ca_and_delivers(
    store: Store, ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    sim = serve_cert(tmp_path, ca.issue_cert("127.0.0.1"))
    async with running(store, sim, f'tls_ca = "{ca_file}"') as r:
        with trio.fail_after(10):
            await r.engine.wait_bound()
        await r.push(1)
        await r.wait_delivered(1, timeout=10)
        assert r.received(0, 1) == [1]
        assert r.engine.binds[0].tls_refusals == 0


async def test_certificate_from_another_ca_is_refused(
    store: Store, ca_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = trustme.CA().issue_cert("127.0.0.1")
    async with running(store, serve_cert(tmp_path, stranger), f'tls_ca = "{ca_file}"') as r:
        await r.push(1)
        await wait_refused(r.engine, 3)  # and it keeps retrying: the engine did not stop
        assert_nothing_sent(r)
        refused = r.metrics.registry.get_sample_value(
            "ja_bind_tls_refusals_total", {"carrier": "sim", "bind": "sim-1"}
        )
        assert refused is not None
        assert refused >= 3
    # One line for three refusals with the same reason.
    assert errors(caplog) == [
        "carrier sim bind sim-1: certificate verify failed: unable to get local issuer "
        "certificate; reconnecting"
    ]


async def test_system_trust_store_is_the_default(
    store: Store, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(store, serve_cert(tmp_path, ca.issue_cert("127.0.0.1")), "") as r:
        await wait_refused(r.engine, 1)
        assert_nothing_sent(r)
    assert "certificate verify failed" in errors(caplog)[0]


@pytest.mark.parametrize(
    ("server_name", "reason"),
    [
        ("", "IP address mismatch, certificate is not valid for '127.0.0.1'."),
        ('tls_server_name = "other.example"', "Hostname mismatch, certificate is not valid for "
         "'other.example'."),
    ],
)  # fmt: skip
async def test_name_mismatch_is_refused(
    store: Store,
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    server_name: str,
    reason: str,
) -> None:
    sim = serve_cert(tmp_path, ca.issue_cert(CARRIER))
    async with running(store, sim, f'tls_ca = "{ca_file}"\n{server_name}') as r:
        await wait_refused(r.engine, 1)
        assert_nothing_sent(r)
    assert errors(caplog) == [
        f"carrier sim bind sim-1: certificate verify failed: {reason}; reconnecting"
    ]


async def test_server_name_for_a_carrier_reached_by_address(
    store: Store, ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    sim = serve_cert(tmp_path, ca.issue_cert(CARRIER))
    async with running(store, sim, f'tls_ca = "{ca_file}"\ntls_server_name = "{CARRIER}"') as r:
        with trio.fail_after(10):
            await r.engine.wait_bound()


@pytest.mark.parametrize("spelling", ["hex", "colons", "base64"])
async def test_matching_pin_binds(
    store: Store, ca: trustme.CA, ca_file: Path, tmp_path: Path, spelling: str
) -> None:
    leaf = ca.issue_cert("127.0.0.1")
    digest = fingerprint(leaf)
    pin = {
        "hex": digest,
        "colons": ":".join(digest[i : i + 2] for i in range(0, 64, 2)).upper(),
        "base64": base64.b64encode(bytes.fromhex(digest)).decode(),
    }[spelling]
    tls = f'tls_ca = "{ca_file}"\ntls_pin_sha256 = ["{"0" * 64}", "{pin}"]'
    async with running(store, serve_cert(tmp_path, leaf), tls) as r:
        with trio.fail_after(10):
            await r.engine.wait_bound()
        await r.push(1)
        await r.wait_delivered(1, timeout=10)


async def test_wrong_pin_is_refused_before_the_bind(
    store: Store, ca: trustme.CA, ca_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leaf = ca.issue_cert("127.0.0.1")  # valid for the CA: only the pin refuses it
    wrong = "ab" * 32
    tls = f'tls_ca = "{ca_file}"\ntls_pin_sha256 = ["{wrong}"]'
    async with running(store, serve_cert(tmp_path, leaf), tls) as r:
        await r.push(1)
        await wait_refused(r.engine, 2)
        assert_nothing_sent(r)
    assert errors(caplog) == [
        f"carrier sim bind sim-1: certificate pin mismatch: expected sha256 {wrong}, "
        f"got sha256 {fingerprint(leaf)}; reconnecting"
    ]


async def test_pin_without_verification_trusts_that_certificate_only(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leaf = trustme.CA().issue_cert("127.0.0.1")  # a CA nobody trusts: a self-made carrier cert
    tls = f'tls_verify = false\ntls_pin_sha256 = ["{fingerprint(leaf)}"]'
    async with running(store, serve_cert(tmp_path, leaf), tls) as r:
        with trio.fail_after(10):
            await r.engine.wait_bound()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "tls_verify = false" in w] == [
        "carrier sim bind sim-1: tls_verify = false: the carrier's certificate is not checked, "
        "anyone on the path can read the password and the traffic"
    ]
