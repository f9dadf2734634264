"""Demo briefings, collateral and acknowledgments, so the campaign pages show them.

Idempotent: a second run finds what the first created and adds nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from alignment.models import StageKey
from campaigns.models import (
    Briefing,
    BriefingAcknowledgment,
    Campaign,
    CampaignStatus,
    Collateral,
)
from campaigns.selectors import campaign_readiness

STAGE_COLLATERAL = [
    (StageKey.MQL, "First-call script", "https://example.com/accord/first-call-script"),
    (StageKey.SAL, "Discovery questions", "https://example.com/accord/discovery"),
    (StageKey.OPPORTUNITY, "ROI calculator", "https://example.com/accord/roi-calculator"),
]


# One uploaded file among the links: reps download it through the permission-checked view,
# from whichever storage MEDIA_STORAGE configures. A fixed name, written once.
PRICE_LIST = "collateral/demo/accord-price-list.csv"
PRICE_LIST_CSV = (
    "plan,seats included,price per month (USD),extra seat (USD)\n"
    "Starter,5,290,49\n"
    "Growth,25,1190,39\n"
    "Scale,100,3900,29\n"
)


def _price_list() -> str:
    if not default_storage.exists(PRICE_LIST):
        return default_storage.save(PRICE_LIST, ContentFile(PRICE_LIST_CSV.encode()))
    return PRICE_LIST


def campaigns_demo_seed(*, campaigns: list[Campaign], now: datetime) -> None:
    users = get_user_model().objects.in_bulk(["marketer", "rep", "rep2"], field_name="username")
    author = users.get("marketer")
    for stage, title, url in STAGE_COLLATERAL:
        Collateral.objects.get_or_create(
            title=title, stage_key=stage, campaign=None, defaults={"url": url, "created_by": author}
        )
    if not Collateral.objects.filter(title="Price list", stage_key=StageKey.SQL).exists():
        Collateral.objects.create(
            title="Price list",
            stage_key=StageKey.SQL,
            file=_price_list(),
            description="Plans and seat prices, for the first pricing conversation.",
            created_by=author,
        )
    for index, campaign in enumerate(campaigns):
        Collateral.objects.get_or_create(
            title=f"{campaign.name}: one-pager",
            campaign=campaign,
            defaults={
                "url": f"https://example.com/accord/campaign-{campaign.pk}.pdf",
                "description": "What the campaign promises and to whom.",
                "created_by": author,
            },
        )
        briefing, _created = Briefing.objects.get_or_create(
            campaign=campaign,
            defaults={
                "body": (
                    f"{campaign.name} targets operations and revenue leaders in mid-size "
                    "companies. Expect questions about pricing tiers and the CRM migration; "
                    "the one-pager below has the answers. Follow up within the agreed SLA."
                ),
                "published_at": now,
            },
        )
        # The first campaign is fully acknowledged, the second half-way, the rest not yet.
        readers = {0: ["rep", "rep2"], 1: ["rep"]}.get(index, [])
        for username in readers:
            if username in users:
                BriefingAcknowledgment.objects.get_or_create(
                    briefing=briefing, user=users[username], defaults={"acknowledged_at": now}
                )
        if campaign.status == CampaignStatus.LIVE and campaign.launched_at is None:
            # A live demo campaign was launched when it started, as ready as sales is now.
            readiness = campaign_readiness(campaign=campaign)
            Campaign.objects.filter(pk=campaign.pk, launched_at__isnull=True).update(
                launched_at=datetime.combine(campaign.starts_on, datetime.min.time(), now.tzinfo),
                launched_by=author,
                readiness_at_launch=readiness.ratio,
                launched_below_readiness=not readiness.is_ready,
            )
