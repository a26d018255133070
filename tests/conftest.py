"""Fixtures shared by every test package: a real Redis, a key namespace per test.

Tests use the shared server on 127.0.0.1:6379 when it answers (``JA_TEST_REDIS_URL`` overrides),
else one embedded server for the session. Each test gets its own namespace and its keys are
deleted afterwards. Tests that restart Redis start a private ``redis-server`` with the AOF in
``tmp_path`` and always stop it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from counters import EmbeddedServer, Keys, Store, StoreConfig, open_store
from tests.redis_support import PrivateRedis, answers, wipe


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("JA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if answers(url):
        yield url
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("embedded"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def keys(redis_client: redis.Redis) -> Iterator[Keys]:
    """A fresh key namespace; everything under it is deleted after the test."""
    ns = f"t{uuid.uuid4().hex[:12]}"
    k = Keys(ns)
    try:
        yield k
    finally:
        wipe(redis_client, k)


@pytest.fixture
async def store(redis_url: str, keys: Keys) -> AsyncIterator[Store]:
    async with open_store(StoreConfig(url=redis_url, namespace=keys.namespace)) as s:
        yield s


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
