"""The campaign router: what each inbound SMS means, and what the engine does about it.

Theory of operation. A batch of recorded inbound messages is classified (``keywords``) and
acted on with a handful of Redis calls for the whole batch, whatever its size: one lookup of
the senders' ids and consent, one consent update per kind (opt-outs, joins), one ``sign``
call per appeal, one thank-you schedule per appeal, one call for all replies. Decision order:
opt-out, help, join, a signature (an explicit "JA 17", else the latest open appeal the
handset received, else the open public appeal), then near misses (a clarifying question,
never a silent signature or opt-out) and the rest (an operator log line and at most one
hint a day). Senders that are not phone numbers (alphanumeric, short codes) never get an
automatic answer, and every number has a budget of automatic answers per hour.

Idempotence. Each reply is keyed by the inbound entry id it answers (``RouterContext.send``);
each thank-you by (appeal, signer) (``RouterContext.schedule``), and it is scheduled for every
signer seen in a batch read ``again``, so a crash between signing and scheduling neither
loses nor repeats it. The thank-you is a template: the outbox renders it with the count when
it goes out.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field

from counters import AppealMeta, InboundRecord, OutboundMessage
from engine.campaigns.keywords import Classifier, Decision, Intent
from engine.campaigns.settings import Templates
from engine.campaigns.texts import render
from engine.masking import mask_number, printable
from engine.routers import Batch, RouterContext
from smpp.ratelimit import TokenBucket

__all__ = ["CampaignRouter"]

log = logging.getLogger(__name__)

APPEALS_TTL = 1.0
"""Seconds the router trusts its copy of the appeals' metadata (open/closed, public)."""
RECENT_APPEALS = 50
_DYNAMIC = {"count": "{count}", "others": "{others}", "appeal": "{appeal}"}


@dataclass
class _Item:
    entry_id: str
    record: InboundRecord
    decision: Decision
    subscriber: int = 0
    active: bool = False
    stopped: bool = False
    language: str = ""


@dataclass
class _Plan:
    """What one batch will do, gathered before any of it is done."""

    replies: list[tuple[str, OutboundMessage]] = field(default_factory=list)
    opt_outs: list[_Item] = field(default_factory=list)
    joins: list[_Item] = field(default_factory=list)
    signs: list[tuple[_Item, AppealMeta]] = field(default_factory=list)
    tallies: Counter[tuple[int, str]] = field(default_factory=Counter)
    """Per-appeal figures for ``show``: late JA, opt-outs after receiving it."""


class CampaignRouter:
    """Routes inbound batches: STOP, HELP, START, JA, near misses and the rest."""

    remembers_routes = True
    """It notes the carrier/bind each known sender wrote in on itself (with the ids it looks
    up anyway), so the router loop need not look them up a second time."""

    def __init__(self, context: RouterContext) -> None:
        self.ctx = context
        self.config = context.config.campaigns
        self.short_code = context.config.short_code
        self.classifier = Classifier(self.config.keywords)
        self._budgets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._appeals: dict[int, AppealMeta | None] = {}
        self._public: AppealMeta | None = None
        self._fresh_until = -1.0

    # --- the batch -------------------------------------------------------------------------

    async def route(self, batch: Batch, *, again: bool) -> None:
        now = self.ctx.clock()
        items = [_Item(entry_id, r, self.classifier.classify(r.text)) for entry_id, r in batch]
        for rule, n in Counter(item.decision.rule for item in items).items():
            self.ctx.metrics.child("inbound_rules", rule).inc(n)
        items = [i for i in items if self._answerable(i)]
        if not items:
            return
        await self._load_senders(items)
        await self._refresh_appeals(now)
        plan = _Plan()
        pending_signs = [i for i in items if i.decision.intent is Intent.SIGN]
        for item in items:
            if item.decision.intent is not Intent.SIGN:
                self._plan(item, plan, now)
        await self._resolve_signs(pending_signs, plan, now)
        await self._apply_consent(plan, again)
        await self._sign(plan, again, now)
        await self._opt_outs_by_appeal(plan)
        if plan.tallies:
            await self.ctx.store.appeals.tally(dict(plan.tallies))
        if plan.replies:
            sent = await self.ctx.send_many(plan.replies)
            for (_, message), new in zip(plan.replies, sent, strict=True):
                if new:
                    self.ctx.metrics.child("replies", message.kind).inc()

    def _answerable(self, item: _Item) -> bool:
        """Only phone numbers get automatic answers (never alphanumeric senders or short
        codes: other robots); the rest is kept in the inbound log for the operator."""
        source = item.record.source
        if source.startswith("+") and source[1:].isdigit() and len(source) >= 9:
            return True
        log.info("inbound from non-number %s (no answer)", printable(source, 20))
        log.debug("inbound from non-number %s: %s", printable(source, 20),
                  printable(item.record.text))  # fmt: skip
        self.ctx.metrics.child("inbound_rules", "not_a_number").inc()
        return False

    async def _load_senders(self, items: list[_Item]) -> None:
        subscribers = self.ctx.store.subscribers
        numbers = sorted({i.record.source for i in items})
        ids = dict(zip(numbers, await subscribers.ids(numbers, create=False), strict=True))
        known = sorted({i for i in ids.values() if i})
        states = dict(zip(known, await subscribers.consent_states(known), strict=True))
        languages = dict(zip(known, await subscribers.languages(known), strict=True))
        routes = {}
        for item in items:
            item.subscriber = ids[item.record.source]
            item.active, item.stopped = states.get(item.subscriber, (False, False))
            item.language = self._language(languages.get(item.subscriber, ""), item.decision)
            if item.subscriber:  # replies go back the way the subscriber wrote in
                routes[item.subscriber] = _route(item.record)
        await subscribers.set_routes(list(routes.items()))

    def _language(self, known: str, decision: Decision) -> str:
        for candidate in (known, decision.language):
            if candidate in self.config.templates:
                return candidate
        return self.config.default_language

    # --- everything but signatures -----------------------------------------------------------

    def _plan(self, item: _Item, plan: _Plan, now: float) -> None:
        decision = item.decision
        intent = decision.intent
        if intent is Intent.OPT_OUT:
            plan.opt_outs.append(item)
        elif intent is Intent.JOIN:
            plan.joins.append(item)
        elif intent is Intent.HELP:
            self._hint(item, plan, "help", now)
        elif intent is Intent.NEAR_MISS:
            self._clarify(item, plan, now)
        elif intent is Intent.NEGATIVE:
            log.info("inbound %s: a no (%s), nothing to do", item.entry_id,
                     printable(decision.word), extra={"inbound_id": item.entry_id})  # fmt: skip
        else:
            log.info("inbound %s from %s for the operator: %s", item.entry_id,
                     mask_number(item.record.source), printable(item.record.text),
                     extra={"inbound_id": item.entry_id})  # fmt: skip
            day = time.strftime("%Y%m%d", time.gmtime(now))
            self._hint(item, plan, "other", now, key=f"other:{item.record.source}:{day}")

    def _clarify(self, item: _Item, plan: _Plan, now: float) -> None:
        rule = item.decision.rule
        if rule == "near_miss_opt_out":
            self._hint(item, plan, "clarify_stop", now)
        elif rule == "near_miss_sign":
            self._hint(item, plan, "clarify_sign", now)
        else:
            self._hint(item, plan, "clarify_other", now, suggestion=item.decision.suggestion)

    def _hint(
        self,
        item: _Item,
        plan: _Plan,
        kind: str,
        now: float,
        *,
        key: str = "",
        suggestion: str = "",
    ) -> None:
        """An automatic answer, within the number's budget."""
        if not self._within_budget(item.record.source, now):
            self.ctx.metrics.child("replies", "over_budget").inc()
            return
        text = self._text(item.language, kind, suggestion=suggestion)
        plan.replies.append((key or item.entry_id, self._reply(item, kind, text)))

    def _within_budget(self, number: str, now: float) -> bool:
        bucket = self._budgets.get(number)
        if bucket is None:
            budget = self.config.reply_budget
            bucket = self._budgets[number] = TokenBucket(budget / 3600.0, budget, now)
            if len(self._budgets) > 100_000:
                self._budgets.popitem(last=False)
        else:
            self._budgets.move_to_end(number)
        return bucket.take(now)

    def _text(self, language: str, kind: str, **values: object) -> str:
        templates: Templates = self.config.templates[language]
        template: str = getattr(templates, kind)
        return render(template, self._values(**values))

    def _values(self, **values: object) -> dict[str, object]:
        return {"organisation": self.config.organisation, "short_code": self.short_code,
                **_DYNAMIC, **values}  # fmt: skip

    def _reply(self, item: _Item, kind: str, text: str, **extra: object) -> OutboundMessage:
        record = item.record
        return OutboundMessage(
            ref=f"{kind}:{item.entry_id}",
            to=record.source,
            text=text,
            kind=kind,
            subscriber=item.subscriber,
            carrier=record.carrier,
            bind=record.bind,
            language=item.language,
            origin_at=record.received_at,
            **extra,  # type: ignore[arg-type]
        )

    async def _apply_consent(self, plan: _Plan, again: bool) -> None:
        subscribers = self.ctx.store.subscribers
        metrics = self.ctx.metrics
        if plan.opt_outs:
            events = [(i.record.source, i.record.text, i.entry_id, _route(i.record))
                      for i in plan.opt_outs]  # fmt: skip
            await subscribers.unsubscribe_many(events, source="sms")
            for item in plan.opt_outs:
                metrics.child("consent", "opt_out", "sms").inc()
                # Confirmed once: not again to a number that had already opted out (unless
                # this entry may be the one that opted it out, read again after a crash).
                if not item.stopped or again:
                    text = self._text(item.language, "stop")
                    plan.replies.append((item.entry_id, self._reply(item, "stop", text)))
        if plan.joins:
            # A known subscriber keeps the language they have; a new one gets the language
            # of the word they joined with (AAN: Dutch, JOIN: English).
            joins = [(i.record.source, i.record.text, i.entry_id, _route(i.record), i.language)
                     for i in plan.joins]  # fmt: skip
            results = await subscribers.subscribe_each(joins, source="sms")
            for item, result in zip(plan.joins, results, strict=True):
                metrics.child("consent", "subscribe", "sms").inc()
                item.subscriber = result.subscriber
                text = self._text(item.language, "welcome")
                plan.replies.append((item.entry_id, self._reply(item, "welcome", text)))

    async def _opt_outs_by_appeal(self, plan: _Plan) -> None:
        """An opt-out counts against the latest appeal its number received ("opt-outs since
        the appeal" in ``show``)."""
        ids = [i.subscriber for i in plan.opt_outs if i.subscriber and not i.stopped]
        for appeal in await self.ctx.store.appeals.last_received_many(ids):
            if appeal:
                plan.tallies[(appeal, "opt_outs")] += 1

    # --- signatures --------------------------------------------------------------------------

    async def _refresh_appeals(self, now: float) -> None:
        """Reload the newest appeals' metadata at most once a second (they change rarely)."""
        if now < self._fresh_until:
            return
        store = self.ctx.store.appeals
        ids = await store.ids(newest=RECENT_APPEALS)
        self._appeals = dict(zip(ids, await store.metas(ids), strict=True))
        public = [m for m in self._appeals.values() if m and m.public and m.is_open(now)]
        self._public = max(public, key=lambda m: m.opens_at, default=None)
        self._fresh_until = now + APPEALS_TTL

    async def _meta(self, appeal: int) -> AppealMeta | None:
        if appeal not in self._appeals:
            self._appeals[appeal] = await self.ctx.store.appeals.meta(appeal)
        return self._appeals[appeal]

    async def _resolve_signs(self, items: list[_Item], plan: _Plan, now: float) -> None:
        """Which appeal each JA signs, or why it signs none (answered with a hint)."""
        if not items:
            return
        known = [i.subscriber for i in items if i.subscriber]
        last = dict(zip(known, await self.ctx.store.appeals.last_received_many(known), strict=True))
        await self._queued_instead(items, last, now)
        for item in items:
            explicit = item.decision.appeal
            candidate = explicit if explicit is not None else last.get(item.subscriber, 0)
            meta = await self._meta(candidate) if candidate else None
            if meta is not None and meta.is_open(now):
                chosen: AppealMeta | None = meta
            elif explicit is None and self._public is not None:
                chosen = self._public
            else:
                chosen = None
            if chosen is None:
                late = meta is not None and meta.opens_at > 0 and now >= meta.closes_at
                self._unsigned(item, plan, now, "late" if late else "unattributed", meta)
            elif not (chosen.public or item.active):
                self._unsigned(item, plan, now, "not_subscribed", chosen)
            else:
                plan.signs.append((item, chosen))

    async def _queued_instead(self, items: list[_Item], last: dict[int, int], now: float) -> None:
        """Subscribers with no appeal recorded as received: the newest open appeal queued for
        them stands in. "Received" is written once the carrier took the message; after a
        crash it may be missing for a message the handset has (the restarted engine sends
        it again only after its backlog), and the JA to it would otherwise sign nothing."""
        unknown = sorted({i.subscriber for i in items if i.subscriber and not last.get(i.subscriber)
                          and i.decision.appeal is None})  # fmt: skip
        open_appeals = sorted(
            (m for m in self._appeals.values() if m is not None and m.is_open(now)),
            key=lambda m: m.opens_at,
            reverse=True,
        )
        if not unknown or not open_appeals:
            return
        ids = [m.id for m in open_appeals]
        flags = await self.ctx.store.queues.sent_flags(ids, unknown)
        for column, subscriber in enumerate(unknown):
            for appeal, bits in zip(ids, flags, strict=True):
                if bits[column]:
                    last[subscriber] = appeal
                    break

    def _unsigned(
        self, item: _Item, plan: _Plan, now: float, result: str, meta: AppealMeta | None
    ) -> None:
        self.ctx.metrics.child("signatures", result).inc()
        if meta is not None and result == "late":
            plan.tallies[(meta.id, "ja_late")] += 1
        kind = {"late": "late", "unattributed": "no_appeal"}.get(result, "not_subscribed")
        if kind == "late" and meta is not None:
            text = self._text(item.language, "late", appeal=meta.id)
            if self._within_budget(item.record.source, now):
                plan.replies.append((item.entry_id, self._reply(item, kind, text)))
            return
        self._hint(item, plan, kind, now)

    async def _sign(self, plan: _Plan, again: bool, now: float) -> None:
        if not plan.signs:
            return
        store = self.ctx.store
        strangers = sorted({i.record.source for i, _ in plan.signs if not i.subscriber})
        if strangers:  # a public appeal's signers who are not subscribers get an id, no more
            ids = dict(zip(strangers, await store.subscribers.ids(strangers), strict=True))
            for item, _ in plan.signs:
                item.subscriber = item.subscriber or ids[item.record.source]
        results = await store.appeals.sign_many(
            [(m.id, i.subscriber, i.record.text, i.entry_id) for i, m in plan.signs]
        )
        thanks: dict[int, list[tuple[float, OutboundMessage]]] = defaultdict(list)
        new = sum(result.new for result in results)
        duplicates = Counter(
            m.id for (_, m), r in zip(plan.signs, results, strict=True) if not r.new
        )
        if duplicates:
            await store.appeals.tally({(a, "ja_duplicate"): n for a, n in duplicates.items()})
        metrics = self.ctx.metrics
        if new:
            metrics.child("signatures", "accepted").inc(new)
        if new < len(results):
            metrics.child("signatures", "duplicate").inc(len(results) - new)
        for (item, meta), result in zip(plan.signs, results, strict=True):
            if result.new or again:
                due = item.record.received_at + self.config.thank_delay
                thanks[meta.id].append((due, self._thank_you(item, meta)))
        for appeal, items in thanks.items():
            flags = await self.ctx.schedule_many(appeal, "thanks", items)
            if any(flags):
                await store.appeals.add_state(appeal, "thanks_queued", sum(flags))

    def _thank_you(self, item: _Item, meta: AppealMeta) -> OutboundMessage:
        language = meta.language if meta.language in self.config.templates else item.language
        if item.active or not meta.public:
            template = meta.thank_you or self.config.templates[language].thank_you
        else:
            template = self.config.templates[language].thank_you_public
        record = item.record
        return OutboundMessage(
            ref=f"t{meta.id}:{item.subscriber}",
            to=record.source,
            text=render(template, self._values()),
            kind="thanks",
            appeal=meta.id,
            subscriber=item.subscriber,
            carrier=record.carrier,
            bind=record.bind,
            requires="not_stopped",
            template=True,
            language=language,
            origin_at=record.received_at,
        )


def _route(record: InboundRecord) -> str:
    return f"{record.carrier}/{record.bind}"
