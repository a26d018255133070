"""Fan-out: the engines turn an appeal (or its outcome) into queued messages, a chunk at a time.

Theory of operation. ``Campaigns.send`` only posts a job. Every engine runs a ``FanOut`` loop
that takes a short lease on a job (so one engine expands it at a time), reads the next chunk
of the audience bitmap from the job's cursor (the active subscribers for an appeal, the
appeal's signers for its outcome), and queues one message per recipient through
``Queues.enqueue_appeal``, which marks the recipient in the appeal's per-kind ``sent`` bitmap
in the same Lua call: a crash between queueing and saving the cursor re-reads the chunk and
queues nobody twice. The loop waits while the bulk lane is full (``fanout_high_water``), so a
million-recipient appeal becomes a stream of chunks paced by the carriers, not a million
stream entries at once; and it can be paused by a job's status (the next issue's console).
Consent is checked again when each message is read to be sent (``engine.preflight``).
"""

from __future__ import annotations

import logging
import uuid

import trio

from counters import AppealMeta, Lane, OutboundMessage, Store, StoreUnavailable
from engine.campaigns.model import AppealStatus
from engine.campaigns.progress import FanOutGauges
from engine.campaigns.settings import CampaignConfig
from engine.metrics import Metrics

__all__ = ["FanOut"]

log = logging.getLogger(__name__)

LEASE = 10.0
WEEK = 7 * 86400.0
IDLE = 0.2


class FanOut:
    """Expands fan-out jobs into the bulk lane."""

    def __init__(self, store: Store, config: CampaignConfig, metrics: Metrics) -> None:
        self.store = store
        self.config = config
        self.metrics = metrics
        store.appeal_gauges.setdefault("fanout", FanOutGauges())  # progress, read at scrape time
        self.token = uuid.uuid4().hex
        self.advanced = False
        self.stepped = trio.lowlevel.ParkingLot()
        """Unparked after every round of the loop (chunks queued, jobs finished or dropped):
        tests waiting for the jobs to end wait on it."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            try:
                worked = await self.step()
            except StoreUnavailable:
                self.metrics.child("store_errors", "fanout").inc()
                await trio.sleep(0.5)
                continue
            self.stepped.unpark_all()
            if not worked:
                await trio.sleep(IDLE)

    async def step(self) -> bool:
        """Expand one chunk of each job this engine may work on, and put back what was set
        aside for appeals no longer paused; False if there was nothing to do."""
        worked = await self._release_resumed()
        for appeal, kind in await self.store.appeals.jobs():
            if await self.store.queues.length(Lane.BULK) > self.config.fanout_high_water:
                return worked
            if not await self.store.appeals.lease(f"{appeal}:{kind}", self.token, LEASE):
                continue
            await self.expand(appeal, kind)
            worked = worked or self.advanced
        return worked

    async def _release_resumed(self) -> bool:
        """Messages set aside while an appeal was paused go back to the lane once it is
        resumed (``Campaigns.resume`` does it at once; this catches those an engine set aside
        just after, on a pause flag it had read a moment before) and go once it is cancelled."""
        held = await self.store.queues.held_sets()
        if not held:
            return False
        appeals = sorted({appeal for appeal, _ in held})
        halts = dict(zip(appeals, await self.store.appeals.halts(appeals), strict=True))
        moved = 0
        for appeal, kind in held:
            if halts[appeal] == "cancelled":
                moved += await self.store.queues.drop_held(appeal, kind)
            elif not halts[appeal]:
                moved += await self.store.queues.release_held(appeal, kind)
        return moved > 0

    async def expand(self, appeal: int, kind: str) -> int:
        """Queue the next chunk of one job; returns how many were queued now (``advanced``
        says whether the job moved at all: a paused one does not)."""
        self.advanced = False
        meta = await self.store.appeals.meta(appeal)
        state = await self.store.appeals.state(appeal)
        if meta is None or state.get("cancelled") or not _running(state, kind):
            await self.store.appeals.remove_job(appeal, kind)
            return 0
        if state.get("paused"):
            return 0  # the job stays; resume lets it go on from its cursor
        cursor = int(state.get(f"{kind}_cursor", 0))
        size = max(1, self.config.fanout_chunk // 8)
        if kind == "appeal":
            ids, length = await self.store.subscribers.active_chunk(cursor, size)
        else:
            ids, length = await self.store.appeals.signed_chunk(appeal, cursor, size)
        self.advanced = True
        if not length:
            await self._finished(appeal, kind)
            return 0
        capped = 0
        if kind == "appeal":
            ids, capped = await self._within_cap(meta, ids)
        messages = await self._messages(meta, kind, ids)
        flags = await self.store.queues.enqueue_appeal(appeal, messages, kind=kind)
        queued = sum(flags)
        await self.store.appeals.tally(
            {
                (appeal, f"{kind}_queued"): queued,
                (appeal, f"{kind}_skipped"): len(ids) - len(messages) + capped,
                (appeal, f"{kind}_capped"): capped,
            }
        )
        await self.store.appeals.set_state(appeal, {f"{kind}_cursor": cursor + length})
        self.metrics.child("fanout", kind).inc(queued)
        return queued

    async def _finished(self, appeal: int, kind: str) -> None:
        field = "status" if kind == "appeal" else "outcome_status"
        done = AppealStatus.SENT.value
        await self.store.appeals.set_state(appeal, {field: done})
        await self.store.appeals.remove_job(appeal, kind)
        log.info("appeal %d: %s fan-out queued in full", appeal, kind, extra={"appeal": appeal})

    async def _within_cap(self, meta: AppealMeta, ids: list[int]) -> tuple[list[int], int]:
        """The ids that may still receive an appeal this week, and how many may not.

        Counted exactly from the ``sent`` bitmaps of the other appeals sent in the last 7
        days; an urgent appeal (``AppealSpec.urgent``) is not capped."""
        cap = self.config.max_appeals_per_week
        if not cap or not ids or meta.extra.get("urgent"):
            return ids, 0
        since = meta.opens_at - WEEK
        recent = [
            m.id
            for m in await self.store.appeals.metas(await self.store.appeals.ids(newest=50))
            if m is not None and m.id != meta.id and m.opens_at and m.opens_at >= since
        ]
        if not recent:
            return ids, 0
        counts = await self.store.queues.sent_bits(recent, ids)
        allowed = [i for i, n in zip(ids, counts, strict=True) if n < cap]
        return allowed, len(ids) - len(allowed)

    async def _messages(self, meta: AppealMeta, kind: str, ids: list[int]) -> list[OutboundMessage]:
        """One message per recipient of this chunk; those left out (outside the appeal's
        segment, opted out since they signed, forgotten) are counted as skipped."""
        if not ids:
            return []
        subscribers = self.store.subscribers
        if kind == "appeal" and meta.audience_language:
            languages = await subscribers.languages(ids)
            ids = [
                i for i, lang in zip(ids, languages, strict=True) if lang == meta.audience_language
            ]
        requires = ["active"] * len(ids)
        if kind == "outcome":
            states = await subscribers.consent_states(ids)
            requires = [
                "active"
                if active
                else ("not_stopped" if meta.outcome_to_public and not stopped else "")
                for active, stopped in states
            ]
        numbers = await subscribers.numbers(ids)
        text = meta.text if kind == "appeal" else meta.outcome
        prefix = "a" if kind == "appeal" else "o"
        return [
            OutboundMessage(
                ref=f"{prefix}{meta.id}:{subscriber}",
                to=number,
                text=text,
                kind=kind,
                appeal=meta.id,
                subscriber=subscriber,
                requires=need,
                language=meta.language,
            )
            for subscriber, number, need in zip(ids, numbers, requires, strict=True)
            if number is not None and need
        ]


def _running(state: dict[str, str], kind: str) -> bool:
    if kind == "appeal":
        return state.get("status") == AppealStatus.SENDING.value
    return state.get("outcome_status") == "sending"
