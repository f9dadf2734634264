"""Reads of the metrics app for the dashboard, targets page and meeting pack.

Figures come from metrics/definitions.py only; these functions arrange them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, Count, F, QuerySet, Sum, Value, When

from alignment.agreement.selectors import agreement_active, agreement_in_force
from alignment.handoffs.selectors import handoffs_overdue_in_week
from alignment.models import Dispute, DisputeStatus, FieldIntel, IntelKind, IntelStatus, StageKey
from campaigns.models import Campaign
from campaigns.selectors import campaign_acceptance_rates, campaigns_without_roi
from campaigns.services import ACCEPTANCE_WINDOW_DAYS
from config.dates import WEEK, day_start
from config.formats import person_name
from leads.models import Deal, DealOutcome
from metrics.definitions import (
    CENT,
    CONVERSION_STEPS,
    MetricFilter,
    Plan,
    disputes_open_at_end,
    intel_created,
    intel_waiting_at_end,
    metric_unit,
    metric_values,
    metric_values_grouped,
    mql_overrides,
    plan_compute,
    sla_breaches,
    target_revenue,
)
from metrics.models import Scorecard, Target, Territory
from metrics.reporting.services import scorecard_build
from metrics.rollups import rollups_reading

LEDGER_METRICS = ("follow_ups_within_sla", "sla_breaches")
CAMPAIGN_METRICS = ("spend", "new_leads", "mqls", "attributed_revenue", "roi")
FUNNEL = [
    ("new_leads", StageKey.INQUIRY),
    ("mqls", StageKey.MQL),
    ("stage_entries[sal]", StageKey.SAL),
    ("stage_entries[sql]", StageKey.SQL),
    ("stage_entries[opportunity]", StageKey.OPPORTUNITY),
    ("stage_entries[won]", StageKey.WON),
]


def funnel_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Stage counts with the cohort conversion from the stage before."""
    steps = {
        b: f"stage_conversion[{a}→{b}]" for a, b in CONVERSION_STEPS if a != "mql" or b != "won"
    }
    rows = []
    for name, stage in FUNNEL:
        conversion = steps.get(stage)
        rows.append(
            {
                "name": name,
                "stage": stage,
                "label": StageKey(stage).label,
                "count": values[name],
                "conversion_name": conversion,
                "conversion": values.get(conversion) if conversion else None,
            }
        )
    return rows


def scorecard_history(*, territory: int | None, until: date, weeks: int = 12) -> list[Scorecard]:
    """The stored scorecards of a territory (None: overall), oldest first."""
    qs = Scorecard.objects.filter(
        week_start__gt=until - timedelta(weeks=weeks), week_start__lte=until
    )
    qs = qs.filter(territory_id=territory) if territory else qs.filter(territory__isnull=True)
    return list(qs.order_by("week_start"))


def scorecard_table(*, territory: int | None, until: date, weeks: int = 12) -> list[Scorecard]:
    """The weeks of scorecard_history, per territory: one territory's, or (None) the overall
    cards and every territory's; by week, the overall card first, then territories by name."""
    qs = Scorecard.objects.filter(
        week_start__gt=until - timedelta(weeks=weeks), week_start__lte=until
    ).select_related("territory", "agreement")
    if territory:
        qs = qs.filter(territory_id=territory)
    return list(qs.order_by("week_start", F("territory__name").asc(nulls_first=True), "pk"))


def campaign_rows(*, f: MetricFilter) -> list[dict[str, Any]]:
    grouped = metric_values_grouped(f=f, by="campaign", names=CAMPAIGN_METRICS)
    names = dict(
        Campaign.objects.filter(pk__in=[k for k in grouped if k]).values_list("pk", "name")
    )
    not_live = campaigns_without_roi(ids=grouped)
    rows = [
        {"campaign": pk, "name": names.get(pk, ""), **values, "has_roi": pk not in not_live}
        | ({"roi": None} if pk in not_live else {})  # not live yet: no ROI
        for pk, values in grouped.items()
        if pk is not None
    ]
    return sorted(rows, key=lambda r: r["name"])


def ledger_rows(*, f: MetricFilter) -> list[dict[str, Any]]:
    """Each rep's credits (follow-ups in time) and breaches in the period (same metrics
    as the sales ledger, leads.selectors.sla_ledger)."""
    grouped = metric_values_grouped(f=f, by="owner", names=LEDGER_METRICS)
    users = get_user_model().objects.filter(pk__in=[k for k in grouped if k])
    rows = [
        {
            "owner": user.pk,
            "name": person_name(user),
            "credits": grouped[user.pk]["follow_ups_within_sla"],
            "breaches": grouped[user.pk]["sla_breaches"],
            "net": grouped[user.pk]["follow_ups_within_sla"] - grouped[user.pk]["sla_breaches"],
        }
        for user in users
    ]
    return sorted(rows, key=lambda r: (-r["net"], r["name"]))


def feedback_health() -> dict[str, int]:
    """Right now: intel waiting for marketing, disputes waiting for an arbiter."""
    return {
        "intel_waiting": FieldIntel.objects.filter(status="new").count(),
        "disputes_open": Dispute.objects.filter(status=DisputeStatus.OPEN).count(),
    }


@dataclass(frozen=True)
class Dashboard:
    filters: MetricFilter
    values: dict[str, Any]
    funnel: list[dict[str, Any]]
    revenue_target: Decimal | None
    campaigns: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    history: list[Scorecard]
    health: dict[str, int]


def dashboard_build(*, f: MetricFilter) -> Dashboard:
    with rollups_reading():
        return _dashboard(f)


def _dashboard(f: MetricFilter) -> Dashboard:
    # The tables by campaign and by rep first: the totals of their counts and sums are
    # the sums of their rows (metrics.definitions._from_groups), not read again.
    campaigns = campaign_rows(f=f)
    ledger = ledger_rows(f=f)
    values = metric_values(f=f)
    return Dashboard(
        filters=f,
        values=values,
        funnel=funnel_rows(values),
        revenue_target=target_revenue(f),
        campaigns=campaigns,
        ledger=ledger,
        history=scorecard_history(territory=f.territory, until=f.end),
        health=feedback_health(),
    )


# --- targets, plan, forecast ------------------------------------------------------------------


def forecast_weighted(*, territory: int | None = None) -> dict[str, Any]:
    """Open pipeline by the lead's stage, weighted by the agreed win probability (one query)."""
    agreement = agreement_active()
    probability = {s.key: s.win_probability for s in agreement.stages.all()} if agreement else {}
    deals = Deal.objects.filter(outcome=DealOutcome.OPEN)
    if territory:
        deals = deals.filter(lead__territory_id=territory)
    grouped = (
        deals.order_by()
        .values("lead__stage")
        .annotate(amount=Sum("amount"), deals=Count("pk"))
        .order_by("lead__stage")
    )
    rows = []
    total = Decimal(0)
    for row in grouped:
        p = probability.get(row["lead__stage"], Decimal(0))
        weighted = (row["amount"] * p).quantize(CENT)
        total += weighted
        rows.append(
            {
                "stage": row["lead__stage"],
                "label": StageKey(row["lead__stage"]).label,
                "deals": row["deals"],
                "amount": row["amount"].quantize(CENT),
                "probability": p,
                "weighted": weighted,
            }
        )
    order = list(StageKey.values)
    rows.sort(key=lambda r: order.index(r["stage"]))
    return {"rows": rows, "total": total.quantize(CENT)}


def target_period_current(*, today: date, period: str) -> tuple[date, date]:
    if period == Target.Period.QUARTER:
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        months = 3
    else:
        start = date(today.year, today.month, 1)
        months = 1
    month = start.month - 1 + months
    return start, date(start.year + month // 12, month % 12 + 1, 1)


PLAN_ACTUALS = [
    (StageKey.MQL, "mqls"),
    (StageKey.SAL, "stage_entries[sal]"),
    (StageKey.SQL, "stage_entries[sql]"),
    (StageKey.OPPORTUNITY, "stage_entries[opportunity]"),
    (StageKey.WON, "stage_entries[won]"),
]


def plan_rows(*, plan: Plan, actuals: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "stage": stage,
            "label": StageKey(stage).label,
            "needed": plan.needed.get(stage),
            "actual": actuals[name],
            "metric": name,
        }
        for stage, name in PLAN_ACTUALS
    ]


def plan_build(*, f: MetricFilter) -> dict[str, Any]:
    plan = plan_compute(f=f)
    actuals = metric_values(
        f=f, names=["revenue", *[name for _s, name in PLAN_ACTUALS], "target_attainment"]
    )
    return {"plan": plan, "rows": plan_rows(plan=plan, actuals=actuals), "actuals": actuals}


def targets_list() -> QuerySet[Target]:
    return Target.objects.select_related("territory", "set_by").order_by(
        "-starts_on", "territory__name"
    )


# --- the weekly meeting pack -------------------------------------------------------------------


def intel_status_at(at: datetime) -> Case:
    """An intel's status as it was at `at`, from its acknowledged/actioned timestamps."""
    return Case(
        When(actioned_at__lt=at, then=Value(IntelStatus.ACTIONED)),
        When(acknowledged_at__lt=at, then=Value(IntelStatus.ACKNOWLEDGED)),
        default=Value(IntelStatus.NEW),
        output_field=CharField(),
    )


def _with_status_then(items: list[FieldIntel]) -> list[FieldIntel]:
    labels = dict(IntelStatus.choices)
    for item in items:
        # status_then is a queryset annotation; the label is for the template.
        item.status_then_display = labels[item.status_then]  # type: ignore[attr-defined]
    return items


def pack_build(*, week_start: date, territory: int | None) -> dict[str, Any]:
    """Everything the weekly alignment meeting looks at, for one week and territory.

    A past week reads as it was at its end: the disputes then open, the intel then
    waiting for marketing, each intel's status then, and the agreement then in force.
    """

    end = week_start + WEEK
    f = MetricFilter(start=week_start, end=end, territory=territory)
    card = (
        # None is IS NULL (the overall card); the stubs type the lookup without None.
        Scorecard.objects.filter(week_start=week_start, territory_id=territory)  # type: ignore[misc]
        .select_related("territory")
        .first()
    )
    live = None if card else scorecard_build(week=week_start, territory=territory)
    end_at = day_start(end)
    breaches = sla_breaches(f).select_related("lead", "owner")
    intel = intel_created(f).annotate(status_then=intel_status_at(end_at))
    waiting = intel_waiting_at_end(f)
    disputes = disputes_open_at_end(f)
    overrides = mql_overrides(f).select_related("lead", "actor")
    handoffs = handoffs_overdue_in_week(
        start_at=day_start(week_start), end_at=end_at, territory=territory
    )
    agreement = agreement_in_force(at=end_at)
    floor = agreement.acceptance_floor if agreement else None
    window = MetricFilter(
        start=end - timedelta(days=ACCEPTANCE_WINDOW_DAYS), end=end, territory=territory
    )
    rates = campaign_acceptance_rates(f=window)
    flagged_ids = [
        pk
        for pk, rate in rates.items()
        if rate is not None and floor is not None and Decimal(str(rate)) < floor
    ]
    flagged = [
        {"campaign": c, "rate": rates[c.pk]}
        for c in Campaign.objects.filter(pk__in=flagged_ids).order_by("name")
    ]
    kinds = dict(IntelKind.choices)
    intel_by_kind = [
        {**row, "label": kinds.get(row["kind"], row["kind"])}
        for row in intel.order_by().values("kind").annotate(n=Count("pk")).order_by("-n", "kind")
    ]
    return {
        "week_start": week_start,
        "week_end": end,
        "territory": Territory.objects.filter(pk=territory).first() if territory else None,
        "scorecard": card,
        "live": live,
        "breaches": list(breaches.order_by("due_at")[:50]),
        "breach_count": breaches.count(),
        "handoffs_overdue": handoffs,
        "intel": _with_status_then(
            list(intel.select_related("author", "competitor", "lead").order_by("-created_at")[:10])
        ),
        "intel_by_kind": intel_by_kind,
        "intel_waiting": list(
            waiting.select_related("author", "competitor", "lead").order_by("created_at")[:20]
        ),
        "intel_waiting_count": waiting.count(),
        "disputes": list(disputes.select_related("lead", "raised_by").order_by("created_at")[:20]),
        "dispute_count": disputes.count(),
        "overrides": list(overrides.order_by("occurred_at", "pk")[:50]),
        "override_count": overrides.count(),
        "flagged": flagged,
        "floor": floor,
        "acceptance_window_days": ACCEPTANCE_WINDOW_DAYS,
    }


# --- the filter of a query string ---------------------------------------------------------


# The figures the weekly meeting pack shows first (page and CSV).
PACK_METRICS = [
    "new_leads", "mqls", "mql_overrides", "acceptance_rate", "sla_compliance",
    "response_time_hours_median",
    "stage_conversion_mql_sal", "win_rate", "revenue", "target_attainment", "pipeline_created",
    "spend", "roi", "sla_breaches", "follow_ups_within_sla", "intel_ack_within_5d",
    "disputes_opened", "disputes_resolved",
]  # fmt: skip


def scorecard_value(name: str, value: Any) -> Any:
    """Scorecard JSON keeps money as strings; figures format them again."""

    if value is not None and metric_unit(name) == "money":
        return Decimal(value)
    return value
