"""Writes of the metrics app: weekly scorecards (upserted), and targets.

A scorecard is one ISO week (Monday 00:00 to Monday 00:00 in the deployment's time
zone) for one territory or overall (territory NULL): every common metric, the alignment
score with each component's raw value and weight, and the change against the previous
week. Running a computation twice, or in two workers at once, leaves one row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role
from alignment.agreement.selectors import COMPONENT_LABELS, DEFAULT_WEIGHTS, agreement_in_force
from alignment.models import Agreement
from alignment.notifications.services import notification_send
from alignment.webhooks.services import webhook_emit
from config.dates import day_start, deployment_tz, planned_date_check, week_start_of
from config.replicas import primary_position, replica_reads
from leads.models import Lead
from metrics.definitions import (
    METRIC_NAMES,
    MetricFilter,
    Plan,
    metric_values,
    metric_values_by_territory,
    plan_compute,
    plans_compute,
)
from metrics.models import Scorecard, Target, Territory
from metrics.rollups import rollups_reading

logger = logging.getLogger(__name__)

TRAILING_WEEKS = 12
PUBLISHED_EVENT = "scorecard.published"

# The alignment-score components (labels, default weights): alignment.agreement.selectors'
# SCORE_COMPONENTS, the one list.


# --- the alignment score -----------------------------------------------------------------


def _capped(value: float | None) -> float | None:
    return None if value is None else min(1.0, max(0.0, float(value)))


def alignment_components(
    *, values: dict[str, Any], planned_mql_to_won: float | None, weights: dict[str, int]
) -> list[dict[str, Any]]:
    """Each component: its raw value, its 0–1 value, its weight and renormalised share.

    A component with no data (value None) drops out; the others' shares are their
    weights over the sum of the weights that remain.
    """
    actual = values.get("stage_conversion[mql→won]")
    vs_plan = (
        None
        if actual is None or not planned_mql_to_won
        else _capped(float(actual) / planned_mql_to_won)
    )
    raw = {
        "sla_compliance": (values.get("sla_compliance"), _capped(values.get("sla_compliance"))),
        "acceptance_rate": (
            values.get("acceptance_rate"),
            _capped(values.get("acceptance_rate")),
        ),
        "mql_to_won_vs_plan": (
            {"actual": actual, "planned": planned_mql_to_won},
            vs_plan,
        ),
        "target_attainment": (
            values.get("target_attainment"),
            _capped(values.get("target_attainment")),
        ),
        "intel_ack_within_5d": (
            values.get("intel_ack_within_5d"),
            _capped(values.get("intel_ack_within_5d")),
        ),
        "disputes_resolved_within_5d": (
            values.get("disputes_resolved_within_5d"),
            _capped(values.get("disputes_resolved_within_5d")),
        ),
    }
    present = sum(weights[key] for key, (_raw, value) in raw.items() if value is not None)
    components = []
    for key, (raw_value, value) in raw.items():
        weight = weights[key]
        share = round(weight / present, 4) if (value is not None and present) else None
        components.append(
            {
                "key": key,
                "label": str(COMPONENT_LABELS[key]),
                "raw": raw_value,
                "value": None if value is None else round(value, 4),
                "weight": weight,
                "effective_weight": share,
            }
        )
    return components


def alignment_score(components: list[dict[str, Any]]) -> Decimal | None:
    """0–100: the weighted mean of the components that have data; None if none has."""
    present = [c for c in components if c["value"] is not None]
    total = sum(c["weight"] for c in present)
    if not present or not total:
        return None
    score = sum(Decimal(str(c["value"])) * c["weight"] for c in present) / total * 100
    return score.quantize(Decimal("0.01"))


# --- scorecards ----------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, dict):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def scorecard_delta(
    *, metrics: dict[str, Any], score: Decimal | None, previous: Scorecard | None
) -> dict[str, Any]:
    """Current minus previous week, per metric and for the score; None where either lacks."""
    if previous is None:
        return {}
    delta: dict[str, Any] = {}
    for name, value in metrics.items():
        now, before = _number(value), _number(previous.metrics.get(name))
        delta[name] = None if now is None or before is None else round(now - before, 4)
    before_score = previous.alignment_score
    delta["alignment_score"] = (
        None if score is None or before_score is None else float(score - before_score)
    )
    return delta


@dataclass(frozen=True)
class ScorecardData:
    """A week's figures before they are stored (the meeting pack shows them live too)."""

    week_start: date
    territory_id: int | None
    metrics: dict[str, Any]
    components: list[dict[str, Any]]
    alignment_score: Decimal | None
    agreement: Agreement | None


def scorecard_agreement(*, week: date) -> Agreement | None:
    """The agreement a week is scored by: the version in force at the week's end, so a
    new version's weights never rewrite the weeks before it."""
    return agreement_in_force(at=day_start(week_start_of(week) + timedelta(days=7)))


def _week_filter(week_start: date, territory: int | None = None) -> MetricFilter:
    return MetricFilter(start=week_start, end=week_start + timedelta(days=7), territory=territory)


def scorecard_build(
    *,
    week: date,
    territory: int | None,
    agreement: Agreement | None = None,
    plan: Plan | None = None,
    values: dict[str, Any] | None = None,
) -> ScorecardData:
    """Every metric of the week, the alignment components and the score (nothing saved).

    `agreement`: the week's (scorecard_agreement), when the caller has looked it up;
    `plan`: the week's plan for this territory, and `values` its metrics (with that plan),
    when the caller has computed them (scorecards_compute: every territory at once).
    """
    week_start = week_start_of(week)
    f = _week_filter(week_start, territory)
    with rollups_reading():
        plan = plan if plan is not None else plan_compute(f=f)
        values = values if values is not None else metric_values(f=f, plan=plan)
    agreement = agreement if agreement is not None else scorecard_agreement(week=week_start)
    weights = agreement.weights() if agreement is not None else dict(DEFAULT_WEIGHTS)
    components = alignment_components(
        values=values, planned_mql_to_won=plan.mql_to_won_rate, weights=weights
    )
    metrics = {name: _jsonable(values[name]) for name in METRIC_NAMES}
    metrics["planned_mqls"] = plan.needed.get("mql")
    metrics["revenue_target"] = _jsonable(plan.revenue_target)
    return ScorecardData(
        week_start=week_start,
        territory_id=territory,
        metrics=metrics,
        components=components,
        alignment_score=alignment_score(components),
        agreement=agreement,
    )


@dataclass(frozen=True)
class ScorecardResult:
    scorecard: Scorecard
    created: bool


def scorecard_compute(
    *,
    week: date,
    territory: Territory | int | None,
    agreement: Agreement | None = None,
    now: datetime | None = None,
    plan: Plan | None = None,
    values: dict[str, Any] | None = None,
) -> ScorecardResult:
    """Compute and upsert the scorecard of the ISO week holding `week` for one territory.

    Running it again replaces the row; two concurrent runs leave one row (the loser of
    the insert race updates the winner's row). A new overall row publishes the week.
    """
    week_start = week_start_of(week)
    territory_id = territory.pk if isinstance(territory, Territory) else territory
    built = scorecard_build(
        week=week_start, territory=territory_id, agreement=agreement, plan=plan, values=values
    )
    agreement, metrics, components, score = (
        built.agreement,
        built.metrics,
        built.components,
        built.alignment_score,
    )
    computed_at = now or timezone.now()
    key = {"week_start": week_start, "territory_id": territory_id}

    with transaction.atomic():
        previous = (
            Scorecard.objects.filter(  # type: ignore[misc]  # None is IS NULL: overall
                territory_id=territory_id, week_start=week_start - timedelta(days=7)
            )
            .only("metrics", "alignment_score")
            .first()
        )
        delta = scorecard_delta(metrics=metrics, score=score, previous=previous)
        fields = {
            "metrics": metrics,
            "alignment_score": score,
            "components": components,
            "delta": delta,
            "agreement": agreement,
            "computed_at": computed_at,
        }
        created = False
        card = Scorecard.objects.select_for_update().filter(**key).first()
        if card is None:
            try:
                with transaction.atomic():  # a savepoint: the loser of a race lands below
                    card = Scorecard.objects.create(**key, **fields)
                    created = True
            except IntegrityError:
                card = Scorecard.objects.select_for_update().get(**key)
        if not created:
            for name, value in fields.items():
                setattr(card, name, value)
            card.save(update_fields=[*fields])
        if created and territory_id is None:
            scorecard_publish(scorecard=card)
    return ScorecardResult(scorecard=card, created=created)


def scorecard_publish(*, scorecard: Scorecard) -> None:
    """Tell managers and integrations a week's overall scorecard exists; once per week.

    Called when the week's overall row is first inserted; notifications and webhook
    deliveries are deduplicated by the week, so a second call adds nothing.
    """

    week = scorecard.week_start.isoformat()
    managers = (
        get_user_model()
        .objects.filter(
            is_active=True,
            groups__name__in=[Role.SALES_MANAGER, Role.MARKETING_MANAGER, Role.EXECUTIVE],
        )
        .distinct()
    )
    score = scorecard.alignment_score
    notification_send(
        recipients=managers,
        event=PUBLISHED_EVENT,
        dedupe_key=f"week:{week}",
        title=lambda: (
            _("Scorecard for the week of %(week)s")
            % {"week": date_format(scorecard.week_start, "SHORT_DATE_FORMAT")}
        ),
        body=lambda: (
            _("Alignment score: %(score)s") % {"score": score}
            if score is not None
            else _("No alignment score: no component had data.")
        ),
        url=_pack_url(week),
    )
    webhook_emit(
        event=PUBLISHED_EVENT,
        key=f"week:{week}",
        payload={
            "week_start": week,
            "territory": None,
            "alignment_score": None if score is None else str(score),
            "components": scorecard.components,
            "metrics": scorecard.metrics,
            "delta": scorecard.delta,
        },
    )


def _pack_url(week: str) -> str:

    try:
        return reverse("metrics:pack") + f"?week={week}"
    except NoReverseMatch:  # the pages are not installed (an API-only deployment)
        return ""


def scorecard_weeks(*, week: date, trailing: int = TRAILING_WEEKS) -> list[date]:
    """The week holding `week` and the `trailing` weeks before it, oldest first."""
    last = week_start_of(week)
    return [last - timedelta(weeks=n) for n in range(trailing, -1, -1)]


def scorecards_compute(
    *, week: date, trailing: int = TRAILING_WEEKS, now: datetime | None = None
) -> list[ScorecardResult]:
    """Every territory and overall, for the week and the trailing weeks (cohorts mature).

    Oldest first, so each week's change is against a freshly recomputed previous week.
    Each week is scored by the agreement in force at its end.
    """
    territory_ids = list(Territory.objects.order_by("pk").values_list("pk", flat=True))
    results = []
    pause = settings.SCORECARD_STEP_DELAY_MS / 1000
    for week_start in scorecard_weeks(week=week, trailing=trailing):
        agreement = scorecard_agreement(week=week_start)
        # The week's plans and metrics read each figure once for every territory.
        f = _week_filter(week_start)
        # Read on a replica (when there is one) that has replayed the rollups' refresh.
        with rollups_reading(), replica_reads(after=primary_position()):
            plans = plans_compute(f=f, territories=territory_ids)
            values = metric_values_by_territory(f=f, territories=territory_ids, plans=plans)
        for territory_id in [None, *territory_ids]:
            if pause:
                time.sleep(pause)
            results.append(
                scorecard_compute(
                    week=week_start,
                    territory=territory_id,
                    agreement=agreement,
                    now=now,
                    plan=plans[territory_id],
                    values=values[territory_id],
                )
            )
    return results


def last_complete_week(*, now: datetime | None = None) -> date:
    """The Monday of the last ISO week that has ended, in the deployment's time zone."""
    today = timezone.localtime(now or timezone.now(), deployment_tz()).date()
    return week_start_of(today) - timedelta(days=7)


def scorecards_compute_all(*, now: datetime | None = None) -> list[ScorecardResult]:
    """Every week from the first lead's week to the last complete week."""

    first = Lead.objects.order_by("created_at").values_list("created_at", flat=True).first()
    last = last_complete_week(now=now)
    if first is None:
        return []
    start = week_start_of(timezone.localtime(first, deployment_tz()).date())
    if start > last:
        return []
    weeks = (last - start).days // 7
    return scorecards_compute(week=last, trailing=weeks, now=now)


# --- targets -------------------------------------------------------------------------------


def target_period_bounds(*, period: str, starts_on: date) -> tuple[date, date]:
    """A month or quarter starting on its first day; ValidationError otherwise."""
    if starts_on.day != 1:
        raise ValidationError({"starts_on": [_("A period starts on the first of a month.")]})
    if period == Target.Period.QUARTER and starts_on.month not in (1, 4, 7, 10):
        raise ValidationError(
            {"starts_on": [_("A quarter starts in January, April, July or October.")]}
        )
    months = 3 if period == Target.Period.QUARTER else 1
    month = starts_on.month - 1 + months
    return starts_on, date(starts_on.year + month // 12, month % 12 + 1, 1)


@transaction.atomic
def target_set(
    *,
    territory: Territory | None,
    period: str,
    starts_on: date,
    revenue_target: Decimal,
    actor: User | None,
) -> Target:
    """Create or replace the revenue target of a territory (or overall) for a period."""
    if period not in Target.Period.values:
        raise ValidationError({"period": [_("Choose a month or a quarter.")]})
    if revenue_target is None or revenue_target < 0:
        raise ValidationError({"revenue_target": [_("A target cannot be negative.")]})
    planned_date_check(starts_on, field="starts_on")  # its period's end must be computable
    start, end = target_period_bounds(period=period, starts_on=starts_on)
    target, _created = Target.objects.select_for_update().update_or_create(
        territory=territory,
        starts_on=start,
        ends_on=end,
        defaults={"period": period, "revenue_target": revenue_target, "set_by": actor},
    )
    return target
