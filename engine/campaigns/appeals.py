"""The campaign API: create an appeal, send it, send its outcome, read its figures.

Sending does not queue a million messages from the caller's process: it opens the appeal and
posts a fan-out job in Redis; the engines expand it in chunks (``engine.campaigns.fanout``),
so the CLI, an HTTP API or a test can start an appeal the running engines then carry out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from counters import AppealMeta, Store
from engine.campaigns.model import (
    AppealSpec,
    AppealStatus,
    AppealView,
    CampaignError,
    FanOutProgress,
)
from engine.campaigns.settings import PLACEHOLDERS, CampaignConfig
from engine.campaigns.texts import TextError, check_template, check_text, format_count, render

__all__ = ["OUTCOME_PLACEHOLDERS", "Campaigns", "fanout_progress"]

OUTCOME_PLACEHOLDERS = frozenset({"count", "organisation"})


class Campaigns:
    """Typed operations on appeals, over the store the engines share."""

    def __init__(
        self,
        store: Store,
        config: CampaignConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    async def create(self, spec: AppealSpec) -> AppealView:
        """Check the text and templates, then store the appeal as a draft.

        Raises:
            CampaignError: empty title, a text over one segment (unless ``force``), an
                unknown language, or a template with an unknown placeholder.
        """
        language = spec.language or self.config.default_language
        if language not in self.config.templates:
            known = ", ".join(sorted(self.config.templates))
            raise CampaignError(f"language {language!r} has no reply texts (known: {known})")
        if not spec.title.strip():
            raise CampaignError("title: expected a non-empty title")
        try:
            check_text(spec.text, force=spec.force)
            if spec.thank_you:
                check_template(spec.thank_you, PLACEHOLDERS["thank_you"])
        except TextError as exc:
            raise CampaignError(str(exc)) from None
        appeal = await self.store.appeals.next_id()
        window = spec.reply_window or self.config.reply_window
        meta = AppealMeta(
            id=appeal,
            title=spec.title.strip(),
            text=spec.text,
            opens_at=0.0,
            closes_at=0.0,
            public=spec.public,
            language=language,
            thank_you=spec.thank_you,
            audience_language=spec.audience_language,
            outcome_to_public=spec.outcome_to_public,
            created_at=self.clock(),
            extra={"reply_window": repr(window), **({"urgent": "1"} if spec.urgent else {})},
        )
        await self.store.appeals.create(meta)
        await self.store.appeals.set_state(appeal, {"status": AppealStatus.DRAFT.value})
        return await self.show(appeal)

    async def send(self, appeal: int) -> AppealView:
        """Open the appeal for JA and start its fan-out to every active subscriber (or its
        segment). Sending twice changes nothing."""
        meta = await self._meta(appeal)
        state = await self.store.appeals.state(appeal)
        if state.get("status") != AppealStatus.DRAFT.value:
            return await self.show(appeal)
        now = self.clock()
        window = float(meta.extra.get("reply_window", self.config.reply_window))
        opened = msgspec.structs.replace(meta, opens_at=now, closes_at=now + window)
        await self.store.appeals.create(opened)
        audience = await self.store.subscribers.active_count()  # the segment is counted as
        # the fan-out goes: who is outside it ends up in "skipped"
        await self.store.appeals.set_state(
            appeal,
            {"status": AppealStatus.SENDING.value, "appeal_audience": audience, "sent_at": now},
        )
        await self.store.appeals.add_job(appeal, "appeal")
        return await self.show(appeal)

    async def outcome(self, appeal: int, text: str, *, force: bool = False) -> AppealView:
        """Send the outcome once to the appeal's signers who are still subscribed (and its
        public signers who have not opted out, if the appeal says so). The text may say
        {count} (the signatures now, formatted for the appeal's language)."""
        meta = await self._meta(appeal)
        state = await self.store.appeals.state(appeal)
        if state.get("outcome_status"):
            raise CampaignError(f"appeal {appeal}: the outcome was sent already")
        if state.get("cancelled"):
            raise CampaignError(f"appeal {appeal} is cancelled: it gets no outcome")
        if state.get("status") == AppealStatus.DRAFT.value:
            raise CampaignError(f"appeal {appeal} was never sent: it has no signers")
        signers = await self.store.appeals.count(appeal)
        try:
            check_template(text, OUTCOME_PLACEHOLDERS)
            text = render(text, {"count": format_count(signers, meta.language),
                                 "organisation": self.config.organisation})  # fmt: skip
            check_text(text, force=force)
        except TextError as exc:
            raise CampaignError(str(exc)) from None
        await self.store.appeals.create(msgspec.structs.replace(meta, outcome=text))
        await self.store.appeals.set_state(
            appeal,
            {
                "outcome_status": "sending",
                "outcome_audience": signers,
                "outcome_sent_at": self.clock(),
            },
        )
        await self.store.appeals.add_job(appeal, "outcome")
        return await self.show(appeal)

    async def pause(self, appeal: int) -> AppealView:
        """Stop sending the appeal (and its outcome) within about a second, on every engine:
        the fan-out stops, and messages already queued are set aside as they come up."""
        state = await self._sending(appeal, "pause")
        if not state.get("paused"):
            await self.store.appeals.set_state(appeal, {"paused": 1})
        return await self.show(appeal)

    async def resume(self, appeal: int) -> AppealView:
        """Go on where the pause stopped: what was set aside goes back to the lane first."""
        await self._sending(appeal, "resume")
        await self.store.appeals.set_state(appeal, {"paused": ""})
        for kind in _KINDS:
            while await self.store.queues.release_held(appeal, kind):
                pass
        return await self.show(appeal)

    async def cancel(self, appeal: int) -> AppealView:
        """Send nothing more of the appeal or its outcome and close it for JA. Signatures
        already given stay; what was not sent is counted as cancelled."""
        meta = await self._meta(appeal)
        await self._sending(appeal, "cancel")
        await self.store.appeals.set_state(appeal, {"cancelled": 1, "paused": ""})
        for kind in _KINDS:
            await self.store.appeals.remove_job(appeal, kind)
            await self.store.queues.drop_held(appeal, kind)
        now = self.clock()
        if meta.closes_at > now:
            await self.store.appeals.create(msgspec.structs.replace(meta, closes_at=now))
        return await self.show(appeal)

    async def _sending(self, appeal: int, verb: str) -> dict[str, str]:
        state = await self.store.appeals.state(appeal)
        if not state:
            raise CampaignError(f"no appeal {appeal}")
        if state.get("cancelled"):
            raise CampaignError(f"appeal {appeal} is cancelled: nothing to {verb}")
        if state.get("status") == AppealStatus.DRAFT.value:
            raise CampaignError(f"appeal {appeal} was never sent: nothing to {verb}")
        return state

    async def show(self, appeal: int) -> AppealView:
        meta = await self._meta(appeal)
        state = await self.store.appeals.state(appeal)
        signatures = await self.store.appeals.count(appeal)
        check = check_text(meta.text, force=True)
        held = {kind: await self.store.queues.held(appeal, kind) for kind in _KINDS}
        return AppealView(
            id=meta.id,
            title=meta.title,
            text=meta.text,
            language=meta.language,
            public=meta.public,
            status=AppealStatus(state.get("status", AppealStatus.DRAFT.value)),
            opens_at=meta.opens_at,
            closes_at=meta.closes_at,
            encoding=check.encoding,
            segments=check.segments,
            signatures=signatures,
            fanout=fanout_progress(state, "appeal", state.get("status", ""), held=held["appeal"]),
            thanks=fanout_progress(state, "thanks", "", audience=signatures),
            outcome=fanout_progress(
                state, "outcome", state.get("outcome_status", ""), held=held["outcome"]
            ),
            outcome_text=meta.outcome,
            paused=bool(state.get("paused")),
            cancelled=bool(state.get("cancelled")),
            duplicates=int(state.get("ja_duplicate", 0)),
            late=int(state.get("ja_late", 0)),
            opt_outs=int(state.get("opt_outs", 0)),
            thank_you_delay=_mean_delay(state),
            receipts=_receipts(state),
        )

    async def list(self, *, newest: int = 100) -> list[AppealView]:
        return [await self.show(appeal) for appeal in await self.store.appeals.ids(newest=newest)]

    async def _meta(self, appeal: int) -> AppealMeta:
        meta = await self.store.appeals.meta(appeal)
        if meta is None:
            raise CampaignError(f"no appeal {appeal}")
        return meta


_KINDS = ("appeal", "outcome")


def _mean_delay(state: dict[str, str]) -> float:
    sent = int(state.get("thanks_sent", 0))
    return int(state.get("thanks_delay_ms", 0)) / 1000 / sent if sent else 0.0


def _receipts(state: dict[str, str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, value in state.items():
        kind, marker, receipt_state = name.partition("_receipt_")
        if marker:
            out.setdefault(kind, {})[receipt_state] = int(value)
    return out


def fanout_progress(
    state: dict[str, str],
    kind: str,
    status: str,
    *,
    audience: int | None = None,
    held: int = 0,
) -> FanOutProgress:
    """One fan-out (``kind``: "appeal", "thanks" or "outcome") from the appeal's state hash."""

    def number(name: str) -> int:
        return int(state.get(f"{kind}_{name}", 0))

    progress = FanOutProgress(
        status="" if status == AppealStatus.DRAFT.value else status,
        queued=number("queued"),
        sent=number("sent"),
        refused=number("opted_out") + number("not_subscribed") + number("expired"),
        failed=number("rejected") + number("failed") + number("unknown") + number("unroutable"),
        skipped=number("skipped"),
        capped=number("capped"),
        held=held,
        audience=number("audience") if audience is None else audience,
    )
    if state.get("cancelled") and kind != "thanks":
        # Whatever was not sent (nor refused, failed or skipped) by now never will be: set
        # aside, dropped from the lane, or never queued. Exact once in-flight submits settle.
        return msgspec.structs.replace(progress, cancelled=progress.remaining)
    return progress
