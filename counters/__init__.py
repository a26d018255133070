"""counters: everything ja-engine keeps in Redis, reached from Trio in batches.

Open it with `open_store`; every method of `Store.subscribers`, `Store.appeals`, `Store.reach`
and `Store.queues` is batched with other tasks' calls and raises `StoreUnavailable` when Redis
did not confirm. Imports nothing from ``smpp`` or ``engine``.
"""

from .appeals import Appeals
from .batcher import Batcher, Kind, Single
from .collector import AppealGauges, AppealStates, CountersCollector
from .config import StoreConfig, make_client, resolve_url
from .deliveries import Attempt, Deliveries, InboundRecord, SentRecord
from .embedded import EmbeddedServer
from .errors import CountersError, EmbeddedServerError, StoreError, StoreUnavailable
from .keys import Keys, Lane
from .reach import Reach
from .records import (
    AppealFigures,
    AppealMeta,
    ConsentEvent,
    ConsentKind,
    ConsentResult,
    OutboundMessage,
    QueuedMessage,
    Signature,
    SignResult,
)
from .store import Store, open_store
from .streams import GROUP, Queues
from .subscribers import Subscribers

__all__ = [
    "GROUP",
    "AppealFigures",
    "AppealGauges",
    "AppealMeta",
    "AppealStates",
    "Appeals",
    "Attempt",
    "Batcher",
    "ConsentEvent",
    "ConsentKind",
    "ConsentResult",
    "CountersCollector",
    "CountersError",
    "Deliveries",
    "EmbeddedServer",
    "EmbeddedServerError",
    "InboundRecord",
    "Keys",
    "Kind",
    "Lane",
    "OutboundMessage",
    "QueuedMessage",
    "Queues",
    "Reach",
    "SentRecord",
    "SignResult",
    "Signature",
    "Single",
    "Store",
    "StoreConfig",
    "StoreError",
    "StoreUnavailable",
    "Subscribers",
    "make_client",
    "open_store",
    "resolve_url",
]
