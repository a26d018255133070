"""The metric objects: names, bounded labels, series that exist before their first event."""

from __future__ import annotations

import platform

from prometheus_client import generate_latest

from engine.config import BindConfig
from engine.metrics import JA_RESULTS, Metrics, status_label
from smpp.constants import CommandStatus


def test_build_info_names_the_version_and_python() -> None:
    sample = Metrics().registry.get_sample_value
    assert sample("ja_build_info", {"version": "0.1.0", "python": platform.python_version()}) == 1


def test_configured_binds_and_ja_results_exist_at_zero() -> None:
    metrics = Metrics()
    metrics.expect_binds([("sim", BindConfig(name="b1", system_id="ja", window=32, rate=50.0))])
    sample = metrics.registry.get_sample_value
    bind = {"carrier": "sim", "bind": "b1"}
    assert sample("ja_bind_up", bind) == 0
    assert sample("ja_bind_reconnects_total", bind) == 0
    assert sample("ja_bind_throttles_total", bind) == 0
    assert sample("ja_smpp_window_size", bind) == 32
    assert sample("ja_bind_configured_rate_limit_per_second", bind) == 50
    for result in JA_RESULTS:
        assert sample("ja_campaign_ja_total", {"result": result}) == 0


def test_redis_batches_are_histograms_of_size_and_seconds() -> None:
    metrics = Metrics()
    metrics.observe_batch(120, 0.003)
    sample = metrics.registry.get_sample_value
    assert sample("ja_store_batch_operations_bucket", {"le": "200.0"}) == 1
    assert sample("ja_store_batch_operations_bucket", {"le": "100.0"}) == 0
    assert sample("ja_store_batch_duration_seconds_sum") == 0.003


def test_no_created_series() -> None:
    """Counters end in ``_total`` and nothing else: no ``*_created`` companions."""
    assert b"_created" not in generate_latest(Metrics().registry)


def test_response_status_labels_are_bounded() -> None:
    assert status_label(CommandStatus.ESME_RTHROTTLED) == "ESME_RTHROTTLED"
    assert status_label(0x401) == "0x00000401"
    assert {status_label(code) for code in range(0x500, 0x10500)} == {"RESERVED"}
