"""The urgent-action campaign layer: keywords, subscriptions, appeals, thank-yous, outcomes.

Python callers (and the CLI and HTTP faces to come) use the typed API::

    campaigns = Campaigns(store, config.campaigns)      # or engine.campaigns
    view = await campaigns.create(AppealSpec(title="...", text="... Antwoord JA"))
    await campaigns.send(view.id)                      # the engines fan it out
    await campaigns.outcome(view.id, "Goed nieuws: ...")
    print((await campaigns.show(view.id)).signatures)

Inbound messages reach ``CampaignRouter`` in batches through ``engine.routers.RouterLoop``.
"""

from engine.campaigns.appeals import Campaigns
from engine.campaigns.model import (
    AppealSpec,
    AppealStatus,
    AppealView,
    CampaignError,
    FanOutProgress,
)

__all__ = [
    "AppealSpec",
    "AppealStatus",
    "AppealView",
    "CampaignError",
    "Campaigns",
    "FanOutProgress",
]
