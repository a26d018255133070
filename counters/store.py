"""Opening the store: resolve the URL (or start the embedded server), run the batcher.

async with open_store(StoreConfig()) as store:
    subscriber = await store.subscribers.id("+31612345678")
    result = await store.appeals.sign(7, subscriber, text="Ja!", message_id="abc")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from .appeals import Appeals
from .batcher import Batcher
from .collector import AppealGauges, CountersCollector
from .config import StoreConfig, default_data_dir, make_client, resolve_url
from .deliveries import Deliveries
from .embedded import EmbeddedServer
from .keys import Keys
from .reach import Reach
from .streams import Queues
from .subscribers import Subscribers

__all__ = ["Store", "open_store"]


class Store:
    """Everything the engine keeps in Redis, grouped by subject."""

    def __init__(
        self, batcher: Batcher, keys: Keys, url: str, *, forget_secret: bytes = b""
    ) -> None:
        self.batcher = batcher
        self.keys = keys
        self.url = url
        self.subscribers = Subscribers(batcher, keys, forget_secret=forget_secret)
        self.appeals = Appeals(batcher, keys)
        self.reach = Reach(batcher, keys)
        self.queues = Queues(batcher, keys)
        self.deliveries = Deliveries(batcher, keys)
        self.appeal_gauges: dict[str, AppealGauges] = {}
        """Figures the engine derives from the appeals' state, by name (set once per name:
        several engines in one process share the store), added to `collector`."""

    def collector(self, *, max_appeals: int = 20) -> CountersCollector:
        """A Prometheus collector reading this store's counts at scrape time."""
        return CountersCollector(
            self.batcher.client,
            self.keys,
            max_appeals=max_appeals,
            appeal_gauges=list(self.appeal_gauges.values()),
        )


@asynccontextmanager
async def open_store(
    config: StoreConfig | None = None, *, on_batch: Callable[[int, float], None] | None = None
) -> AsyncIterator[Store]:
    """Connect (starting the embedded server if no URL is configured) and serve batches.

    Raises:
        StoreUnavailable: Redis does not answer at start.
        EmbeddedServerError: no URL is configured and the embedded server cannot start.
    """
    config = config or StoreConfig()
    url = resolve_url(config)
    embedded = None
    if url is None:
        embedded = EmbeddedServer(default_data_dir(config), appendfsync=config.appendfsync)
        url = await trio.to_thread.run_sync(embedded.start)
    try:
        client = make_client(url, config)
        try:
            batcher = Batcher(
                client, max_batch=config.max_batch, runners=config.runners, on_batch=on_batch
            )
            await batcher.connect()
            store = Store(
                batcher, Keys(config.namespace), url, forget_secret=config.forget_secret.encode()
            )
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(batcher.run)
                    yield store
                    nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                # The nursery only runs the batcher, which does not fail on its own: a lone
                # exception is the caller's (or a cancellation) and goes back unwrapped.
                if len(group.exceptions) == 1:
                    raise group.exceptions[0]  # noqa: B904 (keep the exception's own cause)
                raise
        finally:
            client.close()
    finally:
        if embedded is not None:
            await trio.to_thread.run_sync(embedded.stop)
