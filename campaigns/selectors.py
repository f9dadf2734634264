"""Reads of the campaigns app: lookups, launch readiness, the closed loop."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from alignment.models import Agreement, ReasonKind, StageKey
from alignment.selectors import agreement_active
from campaigns.models import Briefing, BriefingAcknowledgment, Campaign, Collateral
from leads.models import Lead, StageEvent
from metrics.models import TerritoryMember

RATIO = Decimal("0.001")


# --- lookups -----------------------------------------------------------------------------


def campaign_for_utm(
    *, utm_source: str = "", utm_medium: str = "", utm_campaign: str = ""
) -> Campaign | None:
    """The campaign tagged with these UTM values (any case); source/medium narrow if given."""
    utm_campaign = (utm_campaign or "").strip()
    if not utm_campaign:
        return None
    query = Q(utm_campaign__iexact=utm_campaign)
    if (utm_source or "").strip():
        query &= Q(utm_source__iexact=utm_source.strip())
    if (utm_medium or "").strip():
        query &= Q(utm_medium__iexact=utm_medium.strip())
    return Campaign.objects.filter(query).order_by("pk").first()


def campaign_lookup(
    *, name: str = "", utm_source: str = "", utm_medium: str = "", utm_campaign: str = ""
) -> Campaign | None:
    """A campaign by UTM tags, else by exact name (any case): what importers and APIs send."""
    found = campaign_for_utm(
        utm_source=utm_source, utm_medium=utm_medium, utm_campaign=utm_campaign
    )
    if found is None and (name or "").strip():
        found = Campaign.objects.filter(name__iexact=name.strip()).first()
    return found


# --- launch readiness --------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    """How many reps of the target territories acknowledged the briefing, of how many."""

    acknowledged: int
    expected: int
    threshold: Decimal | None

    @property
    def ratio(self) -> Decimal | None:
        if not self.expected:
            return None
        return (Decimal(self.acknowledged) / Decimal(self.expected)).quantize(
            RATIO, rounding=ROUND_HALF_UP
        )

    @property
    def percent(self) -> int | None:
        ratio = self.ratio
        return None if ratio is None else int((ratio * 100).to_integral_value())

    @property
    def is_ready(self) -> bool:
        """Nobody to brief, or enough acknowledgments (compared exactly, not rounded)."""
        if not self.expected or self.threshold is None:
            return True
        return Decimal(self.acknowledged) >= self.threshold * Decimal(self.expected)


def campaign_expected_reps(*, campaign: Campaign) -> QuerySet[TerritoryMember]:
    """Active reps of the campaign's target territories (of every territory if none is set)."""
    members = TerritoryMember.objects.filter(is_active=True, user__is_active=True)
    territory_ids = list(campaign.target_territories.values_list("pk", flat=True))
    if territory_ids:
        members = members.filter(territory_id__in=territory_ids)
    return members


def campaign_readiness(*, campaign: Campaign, agreement: Agreement | None = None) -> Readiness:
    """Acknowledged / expected, counting only reps of the target territories."""
    agreement = agreement or agreement_active()
    expected_ids = set(campaign_expected_reps(campaign=campaign).values_list("user_id", flat=True))
    acknowledged = (
        BriefingAcknowledgment.objects.filter(
            briefing__campaign=campaign, user_id__in=expected_ids
        ).count()
        if expected_ids
        else 0
    )
    return Readiness(
        acknowledged=acknowledged,
        expected=len(expected_ids),
        threshold=agreement.readiness_threshold if agreement else None,
    )


def briefing_acknowledged_by(*, campaign: Campaign, user: AbstractBaseUser) -> bool:
    return BriefingAcknowledgment.objects.filter(
        briefing__campaign=campaign, user_id=user.pk
    ).exists()


def briefing_for(*, campaign: Campaign) -> Briefing | None:
    return Briefing.objects.filter(campaign=campaign).first()


# --- the closed loop ---------------------------------------------------------------------


def campaign_rejection_reasons(*, campaign: Campaign) -> list[dict]:
    """Why sales rejected this campaign's MQLs: reason code, its label, how often."""
    agreement = agreement_active()
    labels = (
        dict(agreement.reason_codes.filter(kind=ReasonKind.REJECTION).values_list("code", "label"))
        if agreement
        else {}
    )
    rows = (
        StageEvent.objects.filter(
            lead__campaign=campaign, from_stage=StageKey.MQL, to_stage=StageKey.RECYCLED
        )
        .values("reason_code")
        .annotate(count=Count("id"))
        .order_by("-count", "reason_code")
    )
    return [
        {
            "code": row["reason_code"],
            "label": labels.get(row["reason_code"], row["reason_code"] or "—"),
            "count": row["count"],
        }
        for row in rows
    ]


# --- collateral --------------------------------------------------------------------------


def collateral_for_lead(*, lead: Lead) -> list[Collateral]:
    """The pieces a rep can use on this lead: its campaign's and its current stage's."""
    query = Q(campaign__isnull=True, stage_key=lead.stage)
    if lead.campaign_id:
        query |= Q(campaign_id=lead.campaign_id, stage_key__in=["", lead.stage])
    return list(Collateral.objects.filter(query).select_related("campaign").order_by("title", "pk"))
