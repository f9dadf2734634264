"""Reads of the campaigns app: lookups, launch readiness, the closed loop."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _lazy

from alignment.agreement.selectors import agreement_active, localized
from alignment.models import Agreement, ReasonKind, StageKey
from campaigns.attribution import (
    DEFAULT_MODEL,
    AttributionModel,
    attribution_credits,
    attribution_for_period,
)
from campaigns.models import (
    Briefing,
    BriefingAcknowledgment,
    Campaign,
    CampaignStatus,
    Collateral,
    SpendCorrection,
)
from config.dates import WEEK, deployment_date, period_clamp, week_start_of
from leads.models import Lead, StageEvent
from metrics.definitions import (
    REGISTRY,
    MetricFilter,
    metric_empty_value,
    metric_values,
    metric_values_grouped,
    rejections_upheld,
    won_deals,
)
from metrics.models import TerritoryMember

RATIO = Decimal("0.001")


# --- lookups -----------------------------------------------------------------------------


def campaign_for_utm(
    *, utm_source: str = "", utm_medium: str = "", utm_campaign: str = ""
) -> Campaign | None:
    """The campaign tagged with these UTM values (campaigns.models.CampaignQuerySet)."""
    return Campaign.objects.for_utm(
        utm_source=utm_source, utm_medium=utm_medium, utm_campaign=utm_campaign
    )


def campaign_lookup(
    *, name: str = "", utm_source: str = "", utm_medium: str = "", utm_campaign: str = ""
) -> Campaign | None:
    """A campaign by UTM tags, else by exact name (campaigns.models.CampaignQuerySet)."""
    return Campaign.objects.lookup(
        name=name, utm_source=utm_source, utm_medium=utm_medium, utm_campaign=utm_campaign
    )


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


def campaign_expected_reps(*, campaign: Campaign) -> list[TerritoryMember]:
    """Active reps of the campaign's target territories (of every territory if none is
    set), each once, by user id, with their user."""
    return campaigns_expected_reps(campaign_ids=[campaign.pk])[campaign.pk]


def campaigns_expected_reps(*, campaign_ids: Iterable[int]) -> dict[int, list[TerritoryMember]]:
    """campaign_expected_reps for many campaigns in two queries (the hand-off lists read
    every published briefing's): {campaign id: its expected reps}."""
    ids = set(campaign_ids)
    targets: dict[int, set[int]] = {pk: set() for pk in ids}
    through = Campaign.target_territories.through.objects.filter(campaign_id__in=ids)
    for campaign_id, territory_id in through.values_list("campaign_id", "territory_id"):
        targets[campaign_id].add(territory_id)
    members = list(
        TerritoryMember.objects.filter(is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("user_id", "territory_id")
    )
    expected: dict[int, list[TerritoryMember]] = {}
    for campaign_id, territories in targets.items():
        seen: set[int] = set()
        expected[campaign_id] = []
        for member in members:
            if (not territories or member.territory_id in territories) and (
                member.user_id not in seen
            ):
                seen.add(member.user_id)
                expected[campaign_id].append(member)
    return expected


def campaign_readiness(*, campaign: Campaign, agreement: Agreement | None = None) -> Readiness:
    """Acknowledged / expected, counting only reps of the target territories."""
    agreement = agreement or agreement_active()
    expected_ids = {member.user_id for member in campaign_expected_reps(campaign=campaign)}
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


def briefing_acknowledged_by(*, campaign: Campaign, user: User) -> bool:
    return BriefingAcknowledgment.objects.filter(
        briefing__campaign=campaign, user_id=user.pk
    ).exists()


def briefing_for(*, campaign: Campaign) -> Briefing | None:
    return Briefing.objects.filter(campaign=campaign).first()


# --- spend corrections -------------------------------------------------------------------


def spend_corrections(*, campaign: Campaign) -> QuerySet[SpendCorrection]:
    """The campaign's spend corrections and removals, newest first, with their actors."""
    return SpendCorrection.objects.filter(campaign=campaign).select_related("actor")


# --- the closed loop ---------------------------------------------------------------------


def campaign_rejection_reasons(*, campaign: Campaign) -> list[dict]:
    """Why sales rejected this campaign's MQLs: reason code, its label, how often."""
    agreement = agreement_active()
    labels = (
        {
            code.code: localized(code, "label")
            for code in agreement.reason_codes.all()
            if code.kind == ReasonKind.REJECTION
        }
        if agreement
        else {}
    )
    rows = (
        StageEvent.objects.filter(
            lead__campaign=campaign,
            from_stage=StageKey.MQL,
            to_stage=StageKey.RECYCLED,
            reverted_by__isnull=True,  # a rejection a sales manager reverted is none
        )
        .exclude(source=StageEvent.Source.REVERT)
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


def campaign_rejections_upheld(*, f: MetricFilter) -> int:
    """Of sales' rejections of the campaign's MQLs in the period, those an executive upheld
    on dispute (metrics.definitions.rejections_upheld)."""
    return rejections_upheld(f).count()


# --- collateral --------------------------------------------------------------------------


def collateral_for_lead(*, lead: Lead) -> list[Collateral]:
    """The pieces a rep can use on this lead: its campaign's and its current stage's."""
    query = Q(campaign__isnull=True, stage_key=lead.stage)
    if lead.campaign_id:
        query |= Q(campaign_id=lead.campaign_id, stage_key__in=["", lead.stage])
    return list(Collateral.objects.filter(query).select_related("campaign").order_by("title", "pk"))


# --- KPIs through the common metric definitions ------------------------------------------

# Per campaign and per channel, by their DESIGN.md names (metrics/definitions.py).
KPI_METRICS = [
    "spend",
    "new_leads",
    "mqls",
    "mqls_accepted",
    "acceptance_rate",
    "pipeline_created",
    "new_accounts",
    "cost_per_lead",
    "cost_per_mql",
    "cac",
]
FUNNEL_METRICS = [
    ("new_leads", _lazy("Leads")),
    ("mqls", _lazy("MQLs")),
    ("stage_entries[sal]", _lazy("Accepted (SAL)")),
    ("stage_entries[sql]", _lazy("SQL")),
    ("stage_entries[opportunity]", _lazy("Opportunities")),
    ("stage_entries[won]", _lazy("Won")),
]


# A campaign has a return once it has run: live, paused or completed. A planned one has
# only spent (a deposit, a booth) and would read as a red -100 %: it shows no ROI.
ROI_STATUSES = frozenset({CampaignStatus.LIVE, CampaignStatus.PAUSED, CampaignStatus.COMPLETED})


def campaign_has_roi(*, campaign: Campaign) -> bool:
    """Whether the campaign's ROI means anything yet (ROI_STATUSES)."""
    return campaign.status in ROI_STATUSES


def campaigns_without_roi(*, ids: Iterable[Any]) -> set[int]:
    """Of these campaign ids, those whose ROI is not shown yet (planned); one query."""
    wanted = [pk for pk in ids if pk is not None]
    if not wanted:
        return set()
    return set(
        Campaign.objects.filter(pk__in=wanted)
        .exclude(status__in=ROI_STATUSES)
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class KpiTable:
    """KPIs per group (campaign id or channel) for one period, revenue under one model."""

    f: MetricFilter
    model: str
    rows: dict[Any, dict[str, Any]]
    totals: dict[str, Any]

    @property
    def model_label(self) -> str:
        return str(AttributionModel(self.model).label)

    def row(self, key: Any) -> dict[str, Any]:
        return self.rows.get(key) or _empty_row()


def _empty_row() -> dict[str, Any]:
    row = {name: metric_empty_value(name) for name in KPI_METRICS}
    row.update(won_revenue=Decimal("0.00"), roi=None)
    return row


def _with_revenue(row: dict[str, Any], revenue: Decimal) -> dict[str, Any]:
    # ROI is the common metric's formula, fed with the revenue of the chosen model.
    roi = REGISTRY["roi"].combine
    assert roi is not None  # a composite metric
    return {**row, "won_revenue": revenue, "roi": roi(revenue, row["spend"])}


def campaign_kpis(*, f: MetricFilter, by: str = "campaign", model: str = DEFAULT_MODEL) -> KpiTable:
    """Spend, leads, MQLs, accepted, pipeline, won revenue, CPL, cost per MQL, CAC, ROI.

    Grouped by campaign id or by channel; a constant number of queries however many
    campaigns. Won revenue is credited by `model` (see campaigns.attribution). A campaign
    not yet live has no ROI (None; ROI_STATUSES).
    """
    if by not in ("campaign", "channel"):
        raise ValueError(f"Unknown grouping {by!r}")
    grouped = metric_values_grouped(f=f, by=by, names=KPI_METRICS)
    attribution = attribution_for_period(model=model, start=f.start_at, end=f.end_at)
    revenue: dict[Any, Decimal] = {}
    if by == "campaign":
        revenue = {k: v for k, v in attribution.credits.items() if k is not None}
    else:
        channel_of = dict(
            Campaign.objects.filter(pk__in=[k for k in attribution.credits if k]).values_list(
                "pk", "channel"
            )
        )
        for campaign_id, amount in attribution.credits.items():
            if campaign_id is not None:
                channel = channel_of[campaign_id]
                revenue[channel] = revenue.get(channel, Decimal("0.00")) + amount
    keys = {k for k in grouped if k is not None} | set(revenue)
    rows = {
        key: _with_revenue(grouped.get(key) or _empty_row(), revenue.get(key, Decimal("0.00")))
        for key in keys
    }
    if by == "campaign":
        for key in campaigns_without_roi(ids=keys):
            rows[key]["roi"] = None  # not live yet: no return to speak of
    totals = metric_values(f=f, names=KPI_METRICS)
    totals = _with_revenue(totals, sum(revenue.values(), Decimal("0.00")))
    return KpiTable(f=f, model=str(model), rows=rows, totals=totals)


def campaign_list(*, f: MetricFilter, model: str = DEFAULT_MODEL) -> list[tuple[Campaign, dict]]:
    """Every campaign with its KPIs for the period; the query count does not grow with rows."""
    table = campaign_kpis(f=f, by="campaign", model=model)
    campaigns = Campaign.objects.select_related("owner").order_by("-starts_on", "name")
    return [(campaign, table.row(campaign.pk)) for campaign in campaigns]


def campaign_period(*, campaign: Campaign, today: date | None = None) -> MetricFilter:
    """The campaign's life so far: from its start (or first spend) to today inclusive, or to
    its planned end when that is later.

    Stored dates outside config.dates' period window (an end of 9999-12-31 saved before
    the window was enforced, or by another system) are moved into it, so the period's
    next day exists and the campaign's page keeps working.
    """
    today = today or deployment_date()
    first_spend = campaign.spend_entries.order_by("date").values_list("date", flat=True).first()
    start = period_clamp(min(filter(None, [campaign.starts_on, first_spend])))
    end = period_clamp(max(today, campaign.ends_on or today)) + timedelta(days=1)
    return MetricFilter(start=start, end=max(end, start + timedelta(days=1)), campaign=campaign.pk)


def campaign_funnel(*, f: MetricFilter) -> list[dict[str, Any]]:
    """The campaign's funnel in the period, stage by stage, through the common metrics."""
    values = metric_values(f=f, names=[name for name, _label in FUNNEL_METRICS])
    top = values["new_leads"] or 0
    return [
        {
            "name": name,
            "label": str(label),
            "value": values[name],
            "width": int(100 * values[name] / top) if top else 0,
        }
        for name, label in FUNNEL_METRICS
    ]


@dataclass(frozen=True)
class TimelinePoint:
    week: date
    spend: Decimal
    revenue: Decimal


def campaign_spend_revenue_weekly(
    *, campaign: Campaign, f: MetricFilter, model: str = DEFAULT_MODEL
) -> list[TimelinePoint]:
    """Spend and credited won revenue per ISO week of the period up to today (for the chart)."""
    spend_by_week: dict[date, Decimal] = {}
    spend = REGISTRY["spend"].records(f)
    for day, amount in spend.filter(campaign=campaign).values_list("date", "amount"):
        week = week_start_of(day)
        spend_by_week[week] = spend_by_week.get(week, Decimal("0.00")) + amount
    revenue_by_week: dict[date, Decimal] = {}
    credits = attribution_credits(model=model, deals=won_deals(start=f.start_at, end=f.end_at))
    for credit in credits:
        if credit.campaign_id == campaign.pk:
            week = week_start_of(credit.closed_at)  # the deployment's week
            revenue_by_week[week] = revenue_by_week.get(week, Decimal("0.00")) + credit.amount
    points: list[TimelinePoint] = []
    week = week_start_of(f.start)
    until = min(f.end, deployment_date() + timedelta(days=1))  # no flat future
    while week < until or not points:
        points.append(
            TimelinePoint(
                week=week,
                spend=spend_by_week.get(week, Decimal("0.00")),
                revenue=revenue_by_week.get(week, Decimal("0.00")),
            )
        )
        week += WEEK
    return points


def campaign_acceptance_rates(*, f: MetricFilter) -> dict[int, float | None]:
    """Sales' acceptance rate of each campaign's MQLs decided in the period (one query)."""
    rates = REGISTRY["acceptance_rate"].values_grouped(f, by="campaign")
    return {k: v for k, v in rates.items() if k is not None}
