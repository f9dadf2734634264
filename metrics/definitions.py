"""The common metrics of DESIGN.md, each defined once as a database aggregation.

Every page, API response, CSV export and scorecard reads a figure through `REGISTRY`:
a metric's `records(filters)` is the queryset of the records it counts (the drill-down),
and its value is one aggregation over that queryset. `metric_values_grouped` computes
the same aggregation per campaign, channel, source, territory or owner in one query per
metric, so per-campaign KPIs are the very same formulas.

A period is [start, end) in whole days of the deployment's time zone (settings.TIME_ZONE).
A rate whose denominator is 0 is None; money is a Decimal with two places.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DecimalField,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from alignment.agreement.selectors import AGREEMENT_GENERATION, agreement_in_force_id
from alignment.models import (
    Dispute,
    DisputeEffect,
    FieldIntel,
    FollowUpKind,
    FunnelStage,
    StageKey,
    Team,
)
from campaigns.models import Campaign, SpendEntry
from config.dates import WEEK, day_start, deployment_date, period_params_parse, week_start_of
from config.dates import deployment_tz as deployment_tz  # re-exported for bench/
from config.generations import memo
from leads.models import (
    Deal,
    DealOutcome,
    FollowUp,
    Lead,
    SlaBreach,
    SourceChannel,
    StageEvent,
)
from metrics.models import Target, Territory
from metrics.rollups import (
    DECISION_STAGES,
    leads_created_by,
    leads_created_count,
    mql_responses,
    reading_memo,
    rollups_reading,
    rollups_ready,
    stage_entries,
    stage_entries_by,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# How long a team has to acknowledge intel or resolve a dispute (alignment score).
FEEDBACK_WINDOW = timedelta(days=5)
# The response SLA when no agreement says otherwise (hours).
DEFAULT_RESPONSE_SLA_HOURS = 24
# Trailing window for the reverse-funnel plan's conversion rates and deal size.
PLAN_TRAILING_DAYS = 182

# The funnel steps whose cohort conversion is a metric, in waterfall order.
CONVERSION_STEPS: list[tuple[str, str]] = [
    (StageKey.INQUIRY, StageKey.MQL),
    (StageKey.MQL, StageKey.SAL),
    (StageKey.SAL, StageKey.SQL),
    (StageKey.SQL, StageKey.OPPORTUNITY),
    (StageKey.OPPORTUNITY, StageKey.WON),
    (StageKey.MQL, StageKey.WON),
]
FUNNEL_STAGES = [StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY, StageKey.WON]
REJECTED_STAGES = [stage for stage in DECISION_STAGES if stage != StageKey.SAL]


# --- database helpers -------------------------------------------------------------------


class _PyMedian:
    """SQLite aggregate for MEDIAN(x) (PostgreSQL uses percentile_cont)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2


class Median(Aggregate):
    """The median (continuous: the mean of the two middle values on an even count)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    output_field = FloatField()
    template = "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra_context):
        connection.ensure_connection()
        connection.connection.create_aggregate("ACCORD_MEDIAN", 1, _PyMedian)
        return self.as_sql(
            compiler, connection, template="ACCORD_MEDIAN(%(expressions)s)", **extra_context
        )


class HoursBetween(Func):
    """(end − start) in hours as a float, in SQL."""

    output_field = FloatField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            # date_part gives a float at once; EXTRACT's exact numeric is several times
            # slower per row and is rounded to a float by the median anyway.
            template="(date_part('epoch', %(expressions)s) / 3600.0)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        end, start = self.source_expressions
        end_sql, end_params = compiler.compile(end)
        start_sql, start_params = compiler.compile(start)
        return (
            f"((julianday({end_sql}) - julianday({start_sql})) * 24.0)",
            [*end_params, *start_params],
        )

    def as_sql(  # other databases
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        if connection.vendor == "sqlite":
            return self.as_sqlite(compiler, connection, **extra_context)
        return super().as_sql(
            compiler,
            connection,
            function=function,
            template=template,
            arg_joiner=arg_joiner,
            **extra_context,
        )


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _rate(numerator: Any, denominator: Any) -> float | None:
    if not denominator:
        return None
    return round(float(numerator or 0) / float(denominator), 4)


def _round(value: Any, places: int = 2) -> float | None:
    return None if value is None else round(float(value), places)


# --- the filter object ------------------------------------------------------------------


# Days and ISO weeks are the deployment's: config.dates (deployment_tz, day_start,
# week_start_of) defines them once; they are re-exported here for the metric pages.


# What a metric filter may narrow by, besides its period.
NARROWING = ("territory", "campaign", "owner", "source")


@dataclass(frozen=True)
class MetricFilter:
    """A period [start, end) of whole days, optionally narrowed. Ids, not objects."""

    start: date
    end: date
    territory: int | None = None
    campaign: int | None = None
    owner: int | None = None
    source: str | None = None

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    @property
    def end_at(self) -> datetime:
        return day_start(self.end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def narrowed_by(self) -> list[str]:
        """The dimensions this filter narrows by (NARROWING order)."""
        return [name for name in NARROWING if getattr(self, name) not in (None, "")]

    def shifted(self, *, start: date, end: date) -> MetricFilter:
        return replace(self, start=start, end=end)

    def as_params(self) -> dict[str, str]:
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for name in self.narrowed_by():
            params[name] = str(getattr(self, name))
        return params


FILTER_FIELDS = ("start", "end", "territory", "campaign", "owner", "source", "week")


def metric_filter_parse(params: Mapping[str, Any], *, default_days: int = 28) -> MetricFilter:
    """A MetricFilter from query parameters, or a ValidationError with field errors.

    `week=YYYY-MM-DD` (any day of it) means that ISO week; without start/end the period
    is the last `default_days` days up to today.
    """
    errors: dict[str, list[str]] = {}

    def _date(name: str) -> date | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = [_("Enter a date as YYYY-MM-DD.")]
            return None

    def _id(name: str, model: type[models.Model]) -> int | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        if not raw.isdigit() or not model._default_manager.filter(pk=int(raw)).exists():
            errors[name] = [_("Unknown %(name)s “%(value)s”.") % {"name": name, "value": raw}]
            return None
        return int(raw)

    today = deployment_date()
    week = _date("week")
    start, end = _date("start"), _date("end")
    if week is not None:
        start = week_start_of(week)
        end = start + WEEK
    if end is None and "end" not in errors:
        end = (start + timedelta(days=default_days)) if start else today + timedelta(days=1)
    if start is None and "start" not in errors and end is not None:
        start = end - timedelta(days=default_days)
    if start and end and end <= start:
        errors["end"] = [_("The end must be after the start.")]
    if start and end and (end - start).days > 3660:
        errors["end"] = [_("A period may span at most ten years.")]
    source = (params.get("source") or "").strip() or None
    if source and source not in SourceChannel.values:
        errors["source"] = [_("Unknown source channel “%(value)s”.") % {"value": source}]
    filters = {
        "territory": _id("territory", Territory),
        "campaign": _id("campaign", Campaign),
        "owner": _id("owner", get_user_model()),
    }
    if errors:
        raise ValidationError(errors)
    assert start is not None and end is not None
    return MetricFilter(start=start, end=end, source=source, **filters)


# --- narrowing each kind of record --------------------------------------------------------

# For each base model: the path of territory, campaign, owner, source channel, and the
# group-by paths (campaign, channel = the campaign's channel, source, territory, owner).
_PATHS: dict[str, dict[str, str]] = {
    "lead": {
        "territory": "territory_id",
        "campaign": "campaign_id",
        "owner": "owner_id",
        "source": "source",
        "channel": "campaign__channel",
    },
    "event": {
        "territory": "lead__territory_id",
        "campaign": "lead__campaign_id",
        "owner": "lead__owner_id",
        "source": "lead__source",
        "channel": "lead__campaign__channel",
    },
    "deal": {  # the lead's campaign and creation time are kept on the deal (Deal.lead_*)
        "territory": "lead__territory_id",
        "campaign": "lead_campaign_id",
        "owner": "owner_id",
        "source": "lead__source",
        "channel": "lead_campaign__channel",
    },
    "spend": {
        "territory": "campaign__target_territories",
        "campaign": "campaign_id",
        "owner": "campaign__owner_id",
        "source": "campaign__channel",
        "channel": "campaign__channel",
    },
    "intel": {
        "territory": "lead__territory_id",
        "campaign": "campaign_id",
        "owner": "author_id",
        "source": "lead__source",
        "channel": "campaign__channel",
    },
    "dispute": {
        "territory": "lead__territory_id",
        "campaign": "lead__campaign_id",
        "owner": "lead__owner_id",
        "source": "lead__source",
        "channel": "lead__campaign__channel",
    },
    "breach": {
        "territory": "territory_id",
        "campaign": "lead__campaign_id",
        "owner": "owner_id",
        "source": "lead__source",
        "channel": "lead__campaign__channel",
    },
    "followup": {
        "territory": "lead__territory_id",
        "campaign": "lead__campaign_id",
        "owner": "author_id",
        "source": "lead__source",
        "channel": "lead__campaign__channel",
    },
}
# Groupings in which a record can be in several groups: a campaign targets several
# territories, so its spend counts in each. Every other grouping puts a record in one group.
_SEVERAL_GROUPS = {("spend", "territory")}


def metric_filter_read(params: Mapping[str, Any], *, default_days: int = 28) -> MetricFilter:
    """The filter of a query string, as every metric and campaign page and API reads it.

    metric_filter_parse behind config.dates' period window: a start, end or week before
    1970 or over five years ahead (a week of year 9999 has no next week) is a field error,
    reported with every other bad parameter in one ValidationError, never an overflow.
    """
    errors: dict[str, list[str]] = {}
    try:
        period_params_parse(params)
    except ValidationError as exc:
        errors = exc.message_dict
    readable = {name: params.get(name) or "" for name in FILTER_FIELDS if name not in errors}
    try:
        f = metric_filter_parse(readable, default_days=default_days)
    except ValidationError as exc:
        errors = {**exc.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    return f


GROUPINGS = ("campaign", "channel", "source", "territory", "owner")


def _narrow(qs: QuerySet, base: str, f: MetricFilter) -> QuerySet:
    paths = _PATHS[base]
    for name in f.narrowed_by():
        value = getattr(f, name)
        path = paths[name]
        if base == "intel" and name == "campaign":
            qs = qs.filter(Q(campaign_id=value) | Q(lead__campaign_id=value))
        elif base == "intel" and name == "territory":
            qs = qs.filter(Q(lead__territory_id=value) | Q(deal__lead__territory_id=value))
        else:
            qs = qs.filter(**{path: value})
    return qs


def _in(prefix: str, f: MetricFilter) -> dict[str, datetime]:
    return {f"{prefix}__gte": f.start_at, f"{prefix}__lt": f.end_at}


def _moves() -> QuerySet:
    """The stage events that count as moves: not a sales manager's revert, nor a move it
    reverted (both stay in the history; an undone move is no entry and no decision)."""
    # An uncorrelated NOT IN (PostgreSQL hashes the few reverted ids once per query), not
    # a join or a correlated NOT EXISTS: inside the cohorts' nested EXISTS those made
    # PostgreSQL probe the stage events again for every row (minutes on real data sets).
    reverted = StageEvent.objects.filter(reverts__isnull=False).values("reverts_id")
    return StageEvent.objects.exclude(source=StageEvent.Source.REVERT).exclude(pk__in=reverted)


def _entered(stage: str, f: MetricFilter) -> Exists:
    return Exists(_moves().filter(lead=OuterRef("pk"), to_stage=stage, **_in("occurred_at", f)))


# --- record sets (the drill-downs) -------------------------------------------------------


def leads_created(f: MetricFilter) -> QuerySet:
    return _narrow(Lead.objects.filter(**_in("created_at", f)), "lead", f)


def leads_entered(stage: str) -> Callable[[MetricFilter], QuerySet]:
    def records(f: MetricFilter) -> QuerySet:
        return _narrow(Lead.objects.filter(_entered(stage, f)), "lead", f)

    return records


def mql_decisions(f: MetricFilter) -> QuerySet:
    """Sales' decisions on MQLs in the period: moves out of `mql` into `sal` (accepted) or
    `recycled`/`disqualified` (rejected).

    Only sales decides on MQLs: a move a marketer made (actor_team "marketing", in data
    from before the stage service refused them) is no decision. Moves by the system or an
    import (no team) count; a decision a sales manager reverted does not, nor the revert.
    """
    return _narrow(
        _moves()
        .filter(
            from_stage=StageKey.MQL,
            to_stage__in=DECISION_STAGES,
            **_in("occurred_at", f),
        )
        .exclude(actor_team=Team.MARKETING),
        "event",
        f,
    )


@dataclass(frozen=True)
class Subset:
    """The records of `of` that match `where`: a metric's records when they are part of
    another metric's (the MQLs accepted, of sales' MQL decisions). Its value is read in
    the same query as the wider records' metrics (`_read_together`), counted with
    `where` as the aggregate's filter."""

    of: Callable[[MetricFilter], QuerySet]
    where: Q

    def __call__(self, f: MetricFilter) -> QuerySet:
        return self.of(f).filter(self.where)


def rejections_upheld(f: MetricFilter) -> QuerySet:
    """Sales' rejections of MQLs in the period (as `mql_decisions` counts them) that an
    executive upheld on dispute: the rejections the arbiter agreed with, a measure of the
    quality of the leads a campaign sends. A rejection the arbiter overturned is reverted,
    so it is neither a rejection nor upheld."""
    upheld = Dispute.objects.filter(rejection=OuterRef("pk"), effect=DisputeEffect.UPHELD)
    return mql_decisions(f).filter(to_stage__in=REJECTED_STAGES).filter(Exists(upheld))


def mql_overrides(f: MetricFilter) -> QuerySet:
    """Hand moves into `mql` in the period past its entry criterion (a manager's override,
    with the written reason on the event)."""
    return _narrow(
        StageEvent.objects.filter(to_stage=StageKey.MQL, override=True, **_in("occurred_at", f)),
        "event",
        f,
    )


def leads_assigned_followed_up(f: MetricFilter) -> QuerySet:
    return _narrow(
        Lead.objects.filter(**_in("assigned_at", f), first_follow_up_at__isnull=False),
        "lead",
        f,
    )


def response_sla_hours(*, at: datetime) -> int:
    """The MQL stage's SLA of the agreement in force at `at` (a period's end).

    Cached in the process per version until an agreement or a stage changes
    (config.generations): reading the version in force with its whole funnel took six
    queries per page.
    """
    pk = agreement_in_force_id(at=at)
    if pk is None:
        return DEFAULT_RESPONSE_SLA_HOURS
    return memo(AGREEMENT_GENERATION, ("mql_sla_hours", pk), lambda: _mql_sla_hours(pk))


def _mql_sla_hours(agreement_id: int) -> int:
    stage = FunnelStage.objects.filter(agreement_id=agreement_id, key=StageKey.MQL).first()
    return stage.sla_hours if stage is not None and stage.sla_hours else DEFAULT_RESPONSE_SLA_HOURS


def leads_response_due(f: MetricFilter) -> QuerySet:
    """Leads whose response-SLA deadline (MQL entry + the MQL stage's SLA) fell in the period.

    The clock is calendar hours from the latest MQL entry (the SLA of the agreement in
    force at the period's end, so a past period keeps the SLA of its time).
    """
    hours, start, end = _response_window(f)
    qs = Lead.objects.filter(mql_at__gte=start, mql_at__lt=end)
    return _narrow(qs, "lead", f).annotate(followed_in_time=_followed_within(hours))


def _response_window(f: MetricFilter) -> tuple[int, datetime, datetime]:
    """The SLA's whole hours, and the MQL entries [start, end) whose deadline is in `f`."""
    hours = response_sla_hours(at=f.end_at)
    return hours, f.start_at - timedelta(hours=hours), f.end_at - timedelta(hours=hours)


def _followed_within(hours: int) -> Q:
    return Q(first_follow_up_at__isnull=False) & Q(
        first_follow_up_at__lte=F("mql_at") + Value(timedelta(hours=hours))
    )


def _rollup_sla_compliance(f: MetricFilter) -> float | None:
    """SLA compliance as leads_response_due defines it: the whole days of its MQL entries
    from ResponseDayRollup, and the parts of a day at either end of the window (an SLA
    that is not whole days, a change of clocks) from the leads themselves."""
    hours, start, end = _response_window(f)
    within = total = 0
    ends = [(start, end)]
    days = _whole_days(start, end)
    if days is not None:
        first, last = days
        within, total = mql_responses(
            start=first, end=last, hours=hours, territory=f.territory, campaign=f.campaign,
            source=f.source,
        )  # fmt: skip
        ends = [(start, day_start(first)), (day_start(last), end)]
    ranges = [Q(mql_at__gte=a, mql_at__lt=b) for a, b in ends if a < b]
    if ranges:
        row = _narrow(Lead.objects.filter(reduce(or_, ranges)), "lead", f).aggregate(
            num=Count("pk", filter=_followed_within(hours)), den=Count("pk")
        )
        within, total = within + row["num"], total + row["den"]
    return _rate(within, total)


def _whole_days(start: datetime, end: datetime) -> tuple[date, date] | None:
    """The days [first, last) wholly inside [start, end) in the deployment's time zone;
    None when there is none."""
    try:
        first = deployment_date(start)
        if day_start(first) < start:
            first += timedelta(days=1)
        last = deployment_date(end)
    except OverflowError:  # a window at the calendar's ends
        return None
    return (first, last) if first < last else None


def conversion_cohort(from_stage: str, to_stage: str) -> Callable[[MetricFilter], QuerySet]:
    """Leads that entered `from_stage` in the period; `reached`: whether they entered
    `to_stage` at or after their first entry in the period (at any time up to now).

    Written as two EXISTS (a `to_stage` event with a period entry at or before it)
    rather than a "first entry" subquery compared in a third, so that PostgreSQL starts
    from the period's stage events (stage_event_to_lead_idx, index-only) and probes each
    lead once per stage (stage_event_reach_idx).
    """

    def records(f: MetricFilter) -> QuerySet:
        entered_before = _moves().filter(
            lead=OuterRef("lead"),
            to_stage=from_stage,
            occurred_at__lte=OuterRef("occurred_at"),
            **_in("occurred_at", f),
        )
        qs = Lead.objects.filter(_entered(from_stage, f)).annotate(
            reached=Exists(
                _moves()
                .filter(lead=OuterRef("pk"), to_stage=to_stage)
                .filter(Exists(entered_before))
            )
        )
        return _narrow(qs, "lead", f)

    return records


# A won deal: closed with the outcome "won". The one definition: revenue, win rate, new
# accounts, attribution and the team page all count with it.
WON_DEAL = Q(outcome=DealOutcome.WON, closed_at__isnull=False)


def won_deals(*, start: datetime | None = None, end: datetime | None = None) -> QuerySet[Deal]:
    """Deals won (closed as won) in [start, end); either bound may be left open."""
    deals = Deal.objects.filter(WON_DEAL)
    if start is not None:
        deals = deals.filter(closed_at__gte=start)
    if end is not None:
        deals = deals.filter(closed_at__lt=end)
    return deals


def deals_closed(f: MetricFilter) -> QuerySet:
    return _narrow(
        Deal.objects.filter(outcome__in=[DealOutcome.WON, DealOutcome.LOST], **_in("closed_at", f)),
        "deal",
        f,
    )


def deals_won(f: MetricFilter) -> QuerySet:
    return _narrow(won_deals(start=f.start_at, end=f.end_at), "deal", f)


def deals_won_attributed(f: MetricFilter) -> QuerySet:
    return deals_won(f).filter(lead_campaign__isnull=False)  # the lead's, kept on the deal


def deals_first_won(f: MetricFilter) -> QuerySet:
    """The first won deal of each account, for accounts whose first win fell in the period.

    A deal's account is its lead's (leads.models.account_key); the account's first win is
    its earliest won deal by closing time, then id (a deal without an account is its own
    account's). Both are kept on the deal by the database (Deal.account, Deal.first_win),
    so a period's new accounts are read from the first wins' own index."""
    return deals_won(f).filter(first_win=True)


def deals_created(f: MetricFilter) -> QuerySet:
    return _narrow(Deal.objects.filter(**_in("created_at", f)), "deal", f)


def spend_entries(f: MetricFilter) -> QuerySet:
    qs = SpendEntry.objects.filter(date__gte=f.start, date__lt=f.end)
    return _narrow(qs, "spend", f)


def intel_created(f: MetricFilter) -> QuerySet:
    return _narrow(FieldIntel.objects.filter(**_in("created_at", f)), "intel", f)


def intel_acknowledged_cohort(f: MetricFilter) -> QuerySet:
    return intel_created(f).filter(acknowledged_at__isnull=False)


def intel_ack_due(f: MetricFilter) -> QuerySet:
    """Intel whose 5-day acknowledgement window ended in the period."""
    qs = FieldIntel.objects.filter(
        created_at__gte=f.start_at - FEEDBACK_WINDOW, created_at__lt=f.end_at - FEEDBACK_WINDOW
    )
    return _narrow(qs, "intel", f).annotate(
        in_time=Q(acknowledged_at__isnull=False)
        & Q(acknowledged_at__lte=F("created_at") + Value(FEEDBACK_WINDOW))
    )


def disputes_created(f: MetricFilter) -> QuerySet:
    return _narrow(Dispute.objects.filter(**_in("created_at", f)), "dispute", f)


def disputes_resolved_in(f: MetricFilter) -> QuerySet:
    return _narrow(Dispute.objects.filter(**_in("resolved_at", f)), "dispute", f)


def disputes_open_at_end(f: MetricFilter) -> QuerySet:
    """Disputes that were open at the period's end: raised before it, not resolved by it.

    From the timestamps, not today's status, so a past week's pack reads as it was then.
    """
    qs = Dispute.objects.filter(created_at__lt=f.end_at).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=f.end_at)
    )
    return _narrow(qs, "dispute", f)


def intel_waiting_at_end(f: MetricFilter) -> QuerySet:
    """Intel that was waiting for marketing's acknowledgement at the period's end: sent
    before it, not acknowledged by it (from the timestamps, not today's status)."""
    qs = FieldIntel.objects.filter(created_at__lt=f.end_at).filter(
        Q(acknowledged_at__isnull=True) | Q(acknowledged_at__gte=f.end_at)
    )
    return _narrow(qs, "intel", f)


def disputes_resolution_due(f: MetricFilter) -> QuerySet:
    """Disputes whose 5-day resolution window ended in the period."""
    qs = Dispute.objects.filter(
        created_at__gte=f.start_at - FEEDBACK_WINDOW, created_at__lt=f.end_at - FEEDBACK_WINDOW
    )
    return _narrow(qs, "dispute", f).annotate(
        in_time=Q(resolved_at__isnull=False)
        & Q(resolved_at__lte=F("created_at") + Value(FEEDBACK_WINDOW))
    )


def sla_breaches(f: MetricFilter) -> QuerySet:
    return _narrow(SlaBreach.objects.filter(**_in("due_at", f)), "breach", f)


def follow_ups_within_sla(f: MetricFilter) -> QuerySet:
    return _narrow(FollowUp.objects.filter(within_sla=True, **_in("occurred_at", f)), "followup", f)


def follow_ups_logged(kinds: Iterable[str] | None = None) -> Callable[[MetricFilter], QuerySet]:
    """Follow-ups (of the given kinds, or every kind) that took place in the period."""

    def records(f: MetricFilter) -> QuerySet:
        qs = FollowUp.objects.filter(**_in("occurred_at", f))
        if kinds is not None:
            qs = qs.filter(kind__in=list(kinds))
        return _narrow(qs, "followup", f)

    return records


# --- the registry ------------------------------------------------------------------------

MONEY = DecimalField(max_digits=16, decimal_places=2)


@dataclass(frozen=True)
class Metric:
    """One common metric: its records and one aggregation over them.

    `aggregates` are the named aggregations over `records(f)`; `finish` turns their row
    into the value. A composite metric (`parts`) divides two other metrics' values.
    """

    name: str
    label: StrOrPromise
    unit: str  # count | rate | money | hours | days | ratio
    base: str  # which kind of record (see _PATHS)
    records: Callable[[MetricFilter], QuerySet]
    aggregates: Callable[[], dict[str, Any]] = field(default=lambda: {"value": Count("pk")})
    finish: Callable[[dict[str, Any]], Any] = field(default=lambda row: row["value"] or 0)
    description: StrOrPromise = ""
    # For a composite: (numerator name, denominator name, how to combine).
    parts: tuple[str, str] | None = None
    combine: Callable[[Any, Any], Any] | None = None
    # Which records the drill-down shows; the count shown beside it.
    count_key: str = "value"
    # The value from the day rollups (metrics.rollups), for a period narrowed by the
    # filters in `rollup_keeps` at most; None: the metric always reads its records.
    rollup: Callable[[MetricFilter], Any] | None = None
    rollup_keeps: tuple[str, ...] = ("territory",)
    # The values grouped by one of `rollup_keeps` from the rollups ({key: value}).
    rollup_grouped: Callable[[MetricFilter, str], dict[Any, Any]] | None = None
    # A count or sum of records: its value is the sum of its values by any grouping that
    # puts each record in one group, which a reading that has them adds up (_groups_read).
    additive: bool = False

    @property
    def is_rate(self) -> bool:
        return self.unit in {"rate", "ratio"} or self.parts is not None

    def value(self, f: MetricFilter) -> Any:
        if self.parts:
            numerator, denominator = (REGISTRY[p].value(f) for p in self.parts)
            return self.combine(numerator, denominator)  # type: ignore[misc]
        groups = self._groups_read(f)
        if groups is not None:  # additive: the sum of its groups, already read
            return sum(groups.values(), start=metric_empty_value(self.name))
        if self.reads_rollups(f):
            return self.rollup(f)  # type: ignore[misc]
        row = self.records(f).aggregate(**self.aggregates())
        return self.finish(row)

    def _groups_read(self, f: MetricFilter) -> dict[Any, Any] | None:
        """An additive metric's values by some grouping of `f`, when the reading has read
        them (a page's campaign table, a week's scorecards by territory)."""
        memo = reading_memo()
        if not self.additive or memo is None:
            return None
        kept = memo.get(("grouped", self.name, f), {})
        return next(
            (groups for by, groups in kept.items() if (self.base, by) not in _SEVERAL_GROUPS),
            None,
        )

    def values_grouped(self, f: MetricFilter, *, by: str) -> dict[Any, Any]:
        """{group key: value} in one query (a composite: one query per part)."""
        if by not in GROUPINGS:
            raise ValueError(f"Unknown grouping {by!r}")
        if self.parts:
            numerators, denominators = (REGISTRY[p].values_grouped(f, by=by) for p in self.parts)
            keys = set(numerators) | set(denominators)
            empty_num = metric_empty_value(self.parts[0])
            return {
                key: self.combine(  # type: ignore[misc]
                    numerators.get(key, empty_num), denominators.get(key)
                )
                for key in keys
            }
        memo = reading_memo()
        kept = memo.setdefault(("grouped", self.name, f), {}) if memo is not None else {}
        if by in kept:  # a part of two composites (spend, of ROI and cost per lead): once
            return dict(kept[by])
        if (
            self.rollup_grouped is not None
            and by in self.rollup_keeps
            and self._rollup_fits(f)
            and rollups_ready()
        ):
            grouped = self.rollup_grouped(f, by)
        else:
            path = _PATHS[self.base][by]
            rows = (
                self.records(f)
                .order_by()
                .values(group=F(path))
                .annotate(**self.aggregates())
                .order_by("group")
            )
            grouped = {row["group"]: self.finish(row) for row in rows}
        kept[by] = grouped
        return dict(grouped)  # the caller's to change

    def reads_rollups(self, f: MetricFilter) -> bool:
        """Whether the value of `f` comes from the rollups (else from the records)."""
        return self.rollup is not None and self._rollup_fits(f) and rollups_ready()

    def _rollup_fits(self, f: MetricFilter) -> bool:
        """Whether the rollups keep every dimension `f` narrows by (owner: never)."""
        return all(name in self.rollup_keeps for name in f.narrowed_by())

    def drill_base(self) -> Metric:
        """The metric whose records a composite's drill-down lists (its denominator)."""
        return REGISTRY[self.parts[1]].drill_base() if self.parts else self


def _rollup_created(f: MetricFilter) -> int:
    return leads_created_count(
        start=f.start, end=f.end, territory=f.territory, campaign=f.campaign, source=f.source
    )


def _rollup_created_by(f: MetricFilter, by: str) -> dict[Any, int]:
    return leads_created_by(
        by=by, start=f.start, end=f.end, territory=f.territory, campaign=f.campaign,
        source=f.source,
    )  # fmt: skip


def _rollup_entered(stage: str) -> Callable[[MetricFilter], int]:
    def value(f: MetricFilter) -> int:
        return stage_entries(
            stage=stage, start=f.start, end=f.end, territory=f.territory, campaign=f.campaign
        ).entered

    return value


def _rollup_entered_by(stage: str) -> Callable[[MetricFilter, str], dict[Any, int]]:
    def grouped(f: MetricFilter, by: str) -> dict[Any, int]:
        found = stage_entries_by(
            by=by, stage=stage, start=f.start, end=f.end, territory=f.territory,
            campaign=f.campaign,
        )  # fmt: skip
        return {key: e.entered for key, e in found.items() if e.entered}

    return grouped


def _rollup_conversion(from_stage: str, to_stage: str) -> Callable[[MetricFilter], float | None]:
    def value(f: MetricFilter) -> float | None:
        found = stage_entries(
            stage=from_stage, start=f.start, end=f.end, territory=f.territory,
            campaign=f.campaign,
        )  # fmt: skip
        return _rate(found.reached[to_stage], found.entered)

    return value


def _rollup_conversion_by(
    from_stage: str, to_stage: str
) -> Callable[[MetricFilter, str], dict[Any, float | None]]:
    def grouped(f: MetricFilter, by: str) -> dict[Any, float | None]:
        found = stage_entries_by(
            by=by, stage=from_stage, start=f.start, end=f.end, territory=f.territory,
            campaign=f.campaign,
        )  # fmt: skip
        return {key: _rate(e.reached[to_stage], e.entered) for key, e in found.items() if e.entered}

    return grouped


def _decided(f: MetricFilter, stages: Iterable[str]) -> int:
    return sum(
        stage_entries(
            stage=stage, start=f.start, end=f.end, territory=f.territory, campaign=f.campaign
        ).decided
        for stage in stages
    )


def _decided_by(f: MetricFilter, by: str, stages: Iterable[str]) -> Counter:
    found: Counter = Counter()
    for stage in stages:
        entries = stage_entries_by(
            by=by, stage=stage, start=f.start, end=f.end, territory=f.territory,
            campaign=f.campaign,
        )  # fmt: skip
        for key, e in entries.items():
            found[key] += e.decided
    return found


def _rollup_decisions(stages: Sequence[str]) -> Callable[[MetricFilter], int]:
    return lambda f: _decided(f, stages)


def _rollup_decisions_by(stages: Sequence[str]) -> Callable[[MetricFilter, str], dict[Any, int]]:
    def grouped(f: MetricFilter, by: str) -> dict[Any, int]:
        return {key: n for key, n in _decided_by(f, by, stages).items() if n}

    return grouped


def _rollup_acceptance(f: MetricFilter) -> float | None:
    accepted = _decided(f, [StageKey.SAL])
    return _rate(accepted, accepted + _decided(f, REJECTED_STAGES))


def _rollup_acceptance_by(f: MetricFilter, by: str) -> dict[Any, float | None]:
    accepted = _decided_by(f, by, [StageKey.SAL])
    rejected = _decided_by(f, by, REJECTED_STAGES)
    return {
        key: _rate(accepted[key], accepted[key] + rejected[key])
        for key in set(accepted) | set(rejected)
        if accepted[key] + rejected[key]
    }


def _ratio_money(numerator: Any, denominator: Any) -> Decimal | None:
    if not denominator or numerator is None:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(CENT)


def _roi(revenue: Any, spend: Any) -> float | None:
    if not spend:
        return None
    return round(float((Decimal(revenue or 0) - Decimal(spend)) / Decimal(spend)), 4)


def _rate_row(row: dict[str, Any]) -> float | None:
    return _rate(row.get("num"), row.get("den"))


def _count_rate(condition: Q) -> Callable[[], dict[str, Any]]:
    return lambda: {"num": Count("pk", filter=condition), "den": Count("pk")}


def _build() -> dict[str, Metric]:
    metrics: list[Metric] = [
        Metric(
            "new_leads",
            _lazy("New leads"),
            "count",
            "lead",
            leads_created,
            description=_lazy("Leads created in the period."),
            additive=True,
            rollup=_rollup_created,
            rollup_keeps=("territory", "campaign", "source"),
            rollup_grouped=_rollup_created_by,
        ),
        Metric(
            "mqls",
            _lazy("MQLs"),
            "count",
            "lead",
            leads_entered(StageKey.MQL),
            description=_lazy("Leads that entered MQL in the period."),
            additive=True,
            rollup=_rollup_entered(StageKey.MQL),
            rollup_keeps=("territory", "campaign"),
            rollup_grouped=_rollup_entered_by(StageKey.MQL),
        ),
    ]
    for stage in FUNNEL_STAGES:
        metrics.append(
            Metric(
                f"stage_entries[{stage}]",
                format_lazy(_lazy("Entered {stage}"), stage=StageKey(stage).label),
                "count",
                "lead",
                leads_entered(stage),
                description=_lazy("Leads that entered the stage in the period."),
                additive=True,
                rollup=_rollup_entered(stage),
                rollup_keeps=("territory", "campaign"),
                rollup_grouped=_rollup_entered_by(stage),
            )
        )
    metrics += [
        Metric(
            "mqls_accepted",
            _lazy("MQLs accepted"),
            "count",
            "event",
            Subset(mql_decisions, Q(to_stage=StageKey.SAL)),
            description=_lazy("MQLs accepted by sales in the period."),
            additive=True,
            rollup=_rollup_decisions([StageKey.SAL]),
            rollup_keeps=("territory", "campaign"),
            rollup_grouped=_rollup_decisions_by([StageKey.SAL]),
        ),
        Metric(
            "mqls_rejected",
            _lazy("MQLs rejected"),
            "count",
            "event",
            Subset(mql_decisions, Q(to_stage__in=REJECTED_STAGES)),
            description=_lazy("MQLs sent back or disqualified by sales in the period."),
            additive=True,
            rollup=_rollup_decisions(REJECTED_STAGES),
            rollup_keeps=("territory", "campaign"),
            rollup_grouped=_rollup_decisions_by(REJECTED_STAGES),
        ),
        Metric(
            "acceptance_rate",
            _lazy("Acceptance rate"),
            "rate",
            "event",
            mql_decisions,
            _count_rate(Q(to_stage=StageKey.SAL)),
            _rate_row,
            _lazy(
                "Accepted / (accepted + rejected), over sales' MQL decisions made in the period."
            ),
            count_key="den",
            rollup=_rollup_acceptance,
            rollup_keeps=("territory", "campaign"),
            rollup_grouped=_rollup_acceptance_by,
        ),
        Metric(
            "mql_overrides",
            _lazy("MQL overrides"),
            "count",
            "event",
            mql_overrides,
            description=_lazy(
                "Hand moves into MQL past its entry criterion in the period, each with "
                "a manager's written reason."
            ),
        ),
        Metric(
            "response_time_hours_median",
            _lazy("Median response time (hours)"),
            "hours",
            "lead",
            leads_assigned_followed_up,
            lambda: {
                "value": Median(HoursBetween(F("first_follow_up_at"), F("assigned_at"))),
                "den": Count("pk"),
            },
            lambda row: _round(row.get("value")),
            _lazy(
                "Median hours from MQL assignment to first follow-up, leads assigned in the period."
            ),
            count_key="den",
        ),
        Metric(
            "sla_compliance",
            _lazy("SLA compliance"),
            "rate",
            "lead",
            leads_response_due,
            _count_rate(Q(followed_in_time=True)),
            _rate_row,
            _lazy(
                "Of leads whose response deadline fell in the period, the share followed up by it."
            ),
            count_key="den",
            rollup=_rollup_sla_compliance,
            rollup_keeps=("territory", "campaign", "source"),
        ),
    ]
    for from_stage, to_stage in CONVERSION_STEPS:
        metrics.append(
            Metric(
                f"stage_conversion[{from_stage}→{to_stage}]",
                format_lazy(
                    _lazy("{source} → {target} conversion"),
                    source=StageKey(from_stage).label,
                    target=StageKey(to_stage).label,
                ),
                "rate",
                "lead",
                conversion_cohort(from_stage, to_stage),
                _count_rate(Q(reached=True)),
                _rate_row,
                _lazy(
                    "Of leads that entered the first stage in the period, "
                    "the share that reached the second by now."
                ),
                count_key="den",
                rollup=_rollup_conversion(from_stage, to_stage),
                rollup_keeps=("territory", "campaign"),
                rollup_grouped=_rollup_conversion_by(from_stage, to_stage),
            )
        )
    metrics += [
        Metric(
            "win_rate",
            _lazy("Win rate"),
            "rate",
            "deal",
            deals_closed,
            _count_rate(WON_DEAL),
            _rate_row,
            _lazy("Won / (won + lost), over deals closed in the period."),
            count_key="den",
        ),
        Metric(
            "revenue",
            _lazy("Revenue"),
            "money",
            "deal",
            deals_won,
            lambda: {"value": Sum("amount"), "den": Count("pk")},
            lambda row: _money(row.get("value")),
            _lazy("Sum of won deal amounts closed in the period."),
            count_key="den",
        ),
        Metric(
            "avg_deal_size",
            _lazy("Average deal size"),
            "money",
            "deal",
            deals_won,
            lambda: {"value": Avg("amount", output_field=MONEY), "den": Count("pk")},
            lambda row: None if row.get("value") is None else _money(row["value"]),
            _lazy("Mean amount of won deals closed in the period."),
            count_key="den",
        ),
        Metric(
            "new_accounts",
            _lazy("New accounts"),
            "count",
            "deal",
            deals_first_won,
            description=_lazy("Companies with their first won deal in the period."),
        ),
        Metric(
            "pipeline_created",
            _lazy("Pipeline created"),
            "money",
            "deal",
            deals_created,
            lambda: {"value": Sum("amount"), "den": Count("pk")},
            lambda row: _money(row.get("value")),
            _lazy("Sum of amounts of deals created in the period."),
            count_key="den",
        ),
        Metric(
            "sales_cycle_days_median",
            _lazy("Median sales cycle (days)"),
            "days",
            "deal",
            deals_won,
            lambda: {
                "value": Median(HoursBetween(F("closed_at"), F("lead_created_at"))),
                "den": Count("pk"),
            },
            lambda row: None if row.get("value") is None else round(row["value"] / 24, 2),
            _lazy("Median days from lead creation to won, over deals won in the period."),
            count_key="den",
        ),
        Metric(
            "spend",
            _lazy("Spend"),
            "money",
            "spend",
            spend_entries,
            lambda: {"value": Sum("amount"), "den": Count("pk")},
            lambda row: _money(row.get("value")),
            _lazy("Campaign spend dated in the period."),
            count_key="den",
            additive=True,
        ),
        Metric(
            "attributed_revenue",
            _lazy("Attributed revenue"),
            "money",
            "deal",
            deals_won_attributed,
            lambda: {"value": Sum("amount"), "den": Count("pk")},
            lambda row: _money(row.get("value")),
            _lazy("Won revenue closed in the period from leads with a first-touch campaign."),
            count_key="den",
            additive=True,
        ),
        Metric(
            "cost_per_lead",
            _lazy("Cost per lead"),
            "money",
            "lead",
            leads_created,
            description=_lazy("Spend / new leads."),
            parts=("spend", "new_leads"),
            combine=_ratio_money,
        ),
        Metric(
            "cost_per_mql",
            _lazy("Cost per MQL"),
            "money",
            "lead",
            leads_entered(StageKey.MQL),
            description=_lazy("Spend / MQLs."),
            parts=("spend", "mqls"),
            combine=_ratio_money,
        ),
        Metric(
            "cac",
            _lazy("Customer acquisition cost"),
            "money",
            "deal",
            deals_first_won,
            description=_lazy("Spend / new accounts."),
            parts=("spend", "new_accounts"),
            combine=_ratio_money,
        ),
        Metric(
            "roi",
            _lazy("Marketing ROI"),
            "ratio",
            "spend",
            spend_entries,
            description=_lazy("(Attributed revenue − spend) / spend."),
            parts=("attributed_revenue", "spend"),
            combine=_roi,
        ),
        Metric(
            "intel_ack_hours_median",
            _lazy("Median intel acknowledgement (hours)"),
            "hours",
            "intel",
            intel_acknowledged_cohort,
            lambda: {
                "value": Median(HoursBetween(F("acknowledged_at"), F("created_at"))),
                "den": Count("pk"),
            },
            lambda row: _round(row.get("value")),
            _lazy("Median hours from intel sent to acknowledged, intel sent in the period."),
            count_key="den",
        ),
        Metric(
            "intel_ack_within_5d",
            _lazy("Intel acknowledged within 5 days"),
            "rate",
            "intel",
            intel_ack_due,
            _count_rate(Q(in_time=True)),
            _rate_row,
            _lazy("Of intel whose 5-day window ended in the period, the share acknowledged in it."),
            count_key="den",
        ),
        Metric(
            "disputes_opened",
            _lazy("Disputes opened"),
            "count",
            "dispute",
            disputes_created,
            description=_lazy("Disputes raised in the period."),
        ),
        Metric(
            "disputes_resolved",
            _lazy("Disputes resolved"),
            "count",
            "dispute",
            disputes_resolved_in,
            description=_lazy("Disputes resolved in the period."),
        ),
        Metric(
            "dispute_resolution_hours_median",
            _lazy("Median dispute resolution (hours)"),
            "hours",
            "dispute",
            disputes_resolved_in,
            lambda: {
                "value": Median(HoursBetween(F("resolved_at"), F("created_at"))),
                "den": Count("pk"),
            },
            lambda row: _round(row.get("value")),
            _lazy("Median hours from raised to resolved, disputes resolved in the period."),
            count_key="den",
        ),
        Metric(
            "disputes_resolved_within_5d",
            _lazy("Disputes resolved within 5 days"),
            "rate",
            "dispute",
            disputes_resolution_due,
            _count_rate(Q(in_time=True)),
            _rate_row,
            _lazy("Of disputes whose 5-day window ended in the period, the share resolved in it."),
            count_key="den",
        ),
        Metric(
            "sla_breaches",
            _lazy("SLA breaches"),
            "count",
            "breach",
            sla_breaches,
            description=_lazy("Leads that waited past their stage's SLA, deadline in the period."),
            additive=True,
        ),
        Metric(
            "follow_ups_within_sla",
            _lazy("Follow-ups within SLA"),
            "count",
            "followup",
            follow_ups_within_sla,
            description=_lazy("Follow-ups in the period that stopped an SLA clock in time."),
            additive=True,
        ),
    ]
    return {m.name: m for m in metrics}


REGISTRY: dict[str, Metric] = _build()

# Target metrics depend on targets and the plan, not on one record set; they are
# computed by `targets_value` below and listed in METRIC_NAMES after the registry's.
TARGET_METRICS = ("target_attainment", "mql_attainment")
METRIC_NAMES: list[str] = [*REGISTRY, *TARGET_METRICS]

# The sales team's week (the team page): counts over the same records, narrowing and
# periods as the registry's, but no common metric of DESIGN.md, so kept out of REGISTRY
# (and so out of the scorecards and the API's list). `metric_values_grouped` reads both.
ACTIVITY: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("deals_won", _lazy("Deals won"), "count", "deal", deals_won),
        Metric("follow_ups", _lazy("Follow-ups"), "count", "followup", follow_ups_logged()),
        Metric(
            "follow_ups[call]",
            _lazy("Calls"),
            "count",
            "followup",
            follow_ups_logged([FollowUpKind.CALL]),
        ),
        Metric(
            "follow_ups[meeting]",
            _lazy("Meetings & demos"),
            "count",
            "followup",
            follow_ups_logged([FollowUpKind.MEETING, FollowUpKind.DEMO, FollowUpKind.JOINT_CALL]),
        ),
        Metric(
            "follow_ups[visit]",
            _lazy("Visits"),
            "count",
            "followup",
            follow_ups_logged([FollowUpKind.VISIT]),
        ),
    ]
}


def _metric(name: str) -> Metric:
    return REGISTRY[name] if name in REGISTRY else ACTIVITY[name]


def metric_drill_base(name: str) -> str:
    """The kind of record a metric's drill-down lists (lead, event, deal, followup…)."""
    return _metric(name).drill_base().base


def metric_is_known(name: str) -> bool:
    """A common metric or a team activity count: either opens its records."""
    return name in REGISTRY or name in ACTIVITY or name in TARGET_METRICS


# --- targets and the reverse-funnel plan ---------------------------------------------------


def target_revenue(f: MetricFilter) -> Decimal | None:
    """The revenue target for the period: targets overlapping it, pro rata by days.

    A territory filter uses that territory's targets; otherwise the overall targets
    (territory empty), or the sum of territory targets when there are no overall ones.
    None when no target overlaps the period.
    """
    qs = Target.objects.filter(starts_on__lt=f.end, ends_on__gt=f.start)
    if f.territory:
        targets = list(qs.filter(territory_id=f.territory))
    else:
        targets = list(qs.filter(territory__isnull=True)) or list(
            qs.filter(territory__isnull=False)
        )
    if not targets:
        return None
    total = Decimal(0)
    for target in targets:
        overlap = (min(target.ends_on, f.end) - max(target.starts_on, f.start)).days
        length = (target.ends_on - target.starts_on).days
        total += target.revenue_target * Decimal(overlap) / Decimal(length)
    return total.quantize(CENT)


@dataclass(frozen=True)
class Plan:
    """The reverse funnel: what a revenue target needs, from trailing rates and deal size."""

    revenue_target: Decimal | None
    avg_deal_size: Decimal | None
    rates: dict[str, float | None]  # conversion name -> trailing rate
    needed: dict[str, int | None]  # stage -> count needed (won, opportunity, sql, sal, mql)
    trailing_start: date
    trailing_end: date

    @property
    def mql_to_won_rate(self) -> float | None:
        """The MQL→won rate the plan assumes (product of the step rates)."""
        product = 1.0
        for step in ("mql→sal", "sal→sql", "sql→opportunity", "opportunity→won"):
            rate = self.rates.get(step)
            if not rate:
                return None
            product *= rate
        return product


PLAN_STEPS = [
    (StageKey.OPPORTUNITY, "opportunity→won"),
    (StageKey.SQL, "sql→opportunity"),
    (StageKey.SAL, "sal→sql"),
    (StageKey.MQL, "mql→sal"),
]


PLAN_CONVERSIONS = [(a, b) for a, b in CONVERSION_STEPS if a != StageKey.INQUIRY]


def _plan_trailing(f: MetricFilter) -> MetricFilter:
    return f.shifted(start=f.start - timedelta(days=PLAN_TRAILING_DAYS), end=f.start)


class _Unread(Enum):
    """A figure the caller did not give: plan_compute reads it itself."""

    UNREAD = "unread"


def plan_compute(
    *,
    f: MetricFilter,
    revenue_target: Decimal | None = None,
    rates: dict[str, float | None] | None = None,
    deal_size: Decimal | _Unread | None = _Unread.UNREAD,
) -> Plan:
    """Derive the MQLs, SALs, SQLs and opportunities the period's target needs.

    Rates and deal size come from the PLAN_TRAILING_DAYS before the period, with the
    same territory/campaign/owner/source narrowing. A missing rate leaves the stages
    above it unknown (None). `rates` and `deal_size` (the average, None when there was no
    won deal): the trailing figures when the caller has them (plans_compute reads every
    territory's at once).
    """
    target = revenue_target if revenue_target is not None else target_revenue(f)
    trailing = _plan_trailing(f)
    avg = REGISTRY["avg_deal_size"].value(trailing) if isinstance(deal_size, _Unread) else deal_size
    if rates is None:
        rates = {
            f"{a}→{b}": REGISTRY[f"stage_conversion[{a}→{b}]"].value(trailing)
            for a, b in PLAN_CONVERSIONS
        }
    needed: dict[str, int | None] = {}
    count: float | None = None
    if target is not None and avg:
        count = float(target) / float(avg)
        needed[StageKey.WON] = math.ceil(count)
    else:
        needed[StageKey.WON] = None
    for stage, step in PLAN_STEPS:
        rate = rates.get(step)
        count = count / rate if (count is not None and rate) else None
        needed[stage] = math.ceil(count - 1e-9) if count is not None else None
    return Plan(
        revenue_target=target,
        avg_deal_size=avg,
        rates=rates,
        needed=needed,
        trailing_start=trailing.start,
        trailing_end=trailing.end,
    )


def plans_compute(*, f: MetricFilter, territories: Iterable[int]) -> dict[int | None, Plan]:
    """The plan of `f` (not narrowed) overall and for each of `territories`, exactly as
    plan_compute gives each, with the trailing conversion cohorts read once for all:
    one query per step grouped by the lead's territory, the overall rate from the sum of
    the groups' counts (every lead is in one group)."""
    if f.narrowed_by():
        raise ValueError("plans_compute takes a period without narrowing")
    with rollups_reading():
        return _plans(f=f, territories=territories)


def _plans(*, f: MetricFilter, territories: Iterable[int]) -> dict[int | None, Plan]:
    trailing = _plan_trailing(f)
    path = _PATHS["lead"]["territory"]
    keys: list[int | None] = [None, *territories]
    rates: dict[int | None, dict[str, float | None]] = {key: {} for key in keys}
    from_rollups = rollups_ready()
    for a, b in PLAN_CONVERSIONS:
        if from_rollups:
            found = stage_entries_by(
                by="territory", stage=a, start=trailing.start, end=trailing.end
            )
            counts = {key: (e.reached[b], e.entered) for key, e in found.items()}
        else:
            metric = REGISTRY[f"stage_conversion[{a}→{b}]"]
            rows = (
                metric.records(trailing)
                .order_by()
                .values(group=F(path))
                .annotate(**metric.aggregates())
            )
            counts = {row["group"]: (row["num"], row["den"]) for row in rows}
        total = (sum(n for n, _d in counts.values()), sum(d for _n, d in counts.values()))
        for key in keys:
            num, den = total if key is None else counts.get(key, (0, 0))
            rates[key][f"{a}→{b}"] = _rate(num, den)
    deal_size = REGISTRY["avg_deal_size"]
    sizes = deal_size.values_grouped(trailing, by="territory")
    sizes[None] = deal_size.value(trailing)
    return {
        key: plan_compute(
            f=f if key is None else replace(f, territory=key),
            rates=rates[key],
            deal_size=sizes.get(key, metric_empty_value("avg_deal_size")),
        )
        for key in keys
    }


def targets_value(
    name: str,
    f: MetricFilter,
    *,
    known: Mapping[str, Any] | None = None,
    plan: Plan | None = None,
) -> Any:
    """A target metric; `plan` is the period's plan when the caller has computed it."""
    known = known or {}
    if name == "target_attainment":
        goal = plan.revenue_target if plan is not None else target_revenue(f)
        revenue = known.get("revenue", None)
        if revenue is None:
            revenue = REGISTRY["revenue"].value(f)
        return _rate(revenue, goal)
    if name == "mql_attainment":
        plan = plan if plan is not None else plan_compute(f=f)
        mqls = known.get("mqls", None)
        if mqls is None:
            mqls = REGISTRY["mqls"].value(f)
        return _rate(mqls, plan.needed.get(StageKey.MQL))
    raise KeyError(name)


# --- the entry points --------------------------------------------------------------------


def metric_value(*, name: str, f: MetricFilter) -> Any:
    if name in TARGET_METRICS:
        return targets_value(name, f)
    return _metric(name).value(f)


def metric_values(
    *, f: MetricFilter, names: Iterable[str] | None = None, plan: Plan | None = None
) -> dict[str, Any]:
    """Every metric (or the named ones) for one filter, by DESIGN.md name.

    `plan`: the period's plan (plan_compute), when the caller needs it too; computing it
    means six cohort queries over the trailing half-year.
    """
    wanted = list(names) if names is not None else METRIC_NAMES
    unknown = [n for n in wanted if n not in REGISTRY and n not in TARGET_METRICS]
    if unknown:
        raise ValidationError({"metric": [_("Unknown metric: %(n)s") % {"n": ", ".join(unknown)}]})
    with rollups_reading():
        return _metric_values(f=f, wanted=wanted, plan=plan)


def _read_together(f: MetricFilter, names: Iterable[str]) -> dict[str, Any]:
    """The values of the named metrics that aggregate the same records (revenue, deal size
    and the sales cycle: the deals won), each group in one query: the metrics' own
    aggregations side by side, each finished by its own metric."""
    groups: dict[Callable[[MetricFilter], QuerySet], list[Metric]] = {}
    for name in names:
        metric = REGISTRY.get(name)
        if metric is None or metric.parts:
            continue
        if metric.reads_rollups(f):
            continue
        records = metric.records
        groups.setdefault(records.of if isinstance(records, Subset) else records, []).append(metric)
    values: dict[str, Any] = {}
    for records, metrics in groups.items():
        if len(metrics) < 2:
            continue
        aggregates = {
            f"m{index}_{key}": _within(aggregate, metric.records)
            for index, metric in enumerate(metrics)
            for key, aggregate in metric.aggregates().items()
        }
        row = records(f).aggregate(**aggregates)
        for index, metric in enumerate(metrics):
            prefix = f"m{index}_"
            own = {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
            values[metric.name] = metric.finish(own)
    return values


def _within(aggregate: Aggregate, records: Callable[[MetricFilter], QuerySet]) -> Aggregate:
    """`aggregate` over `records` when read over the wider records of a Subset."""
    if not isinstance(records, Subset):
        return aggregate
    if aggregate.filter is not None:
        raise ValueError("A Subset metric's aggregates carry no filter of their own")
    narrowed = aggregate.copy()
    narrowed.filter = records.where
    return narrowed


def _metric_values(*, f: MetricFilter, wanted: list[str], plan: Plan | None) -> dict[str, Any]:
    values: dict[str, Any] = _read_together(f, wanted)
    for name in wanted:
        if name in REGISTRY and name not in values:
            metric = REGISTRY[name]
            if metric.parts:
                parts = [
                    values.get(p) if p in values else REGISTRY[p].value(f) for p in metric.parts
                ]
                values[name] = metric.combine(*parts)  # type: ignore[misc]
            else:
                values[name] = metric.value(f)
    for name in wanted:
        if name in TARGET_METRICS:
            values[name] = targets_value(name, f, known=values, plan=plan)
    return {name: values[name] for name in wanted}


def metric_values_by_territory(
    *, f: MetricFilter, territories: Iterable[int], plans: Mapping[int | None, Plan]
) -> dict[int | None, dict[str, Any]]:
    """Every metric of `f` (not narrowed) overall and for each of `territories`, exactly
    as metric_values gives each (a week's scorecards): a metric whose territory narrowing
    is a grouping by one path is read once for all, grouped by territory (from the
    rollups where they serve); field intel, narrowed by its lead's or its deal's
    territory, once per territory. `plans`: each key's plan (plans_compute)."""
    ids = list(territories)
    values: dict[int | None, dict[str, Any]] = {key: {} for key in [None, *ids]}
    with rollups_reading():
        for name, metric in REGISTRY.items():
            if metric.parts:
                continue
            if metric.base == "intel":
                values[None][name] = metric.value(f)
                for territory in ids:
                    values[territory][name] = metric.value(replace(f, territory=territory))
                continue
            grouped = metric.values_grouped(f, by="territory")
            values[None][name] = metric.value(f)  # an additive one: the groups' sum
            for territory in ids:
                values[territory][name] = grouped.get(territory, metric_empty_value(name))
    for key, known in values.items():
        for name in REGISTRY:
            _combined(name, known)
        narrowed = f if key is None else replace(f, territory=key)
        for name in TARGET_METRICS:
            known[name] = targets_value(name, narrowed, known=known, plan=plans[key])
    return {key: {name: known[name] for name in METRIC_NAMES} for key, known in values.items()}


def _combined(name: str, known: dict[str, Any]) -> Any:
    """A metric's value from `known` values, a composite's from its parts' (kept there)."""
    if name not in known:
        metric = REGISTRY[name]
        numerator, denominator = metric.parts or ("", "")
        known[name] = metric.combine(_combined(numerator, known), _combined(denominator, known))  # type: ignore[misc]
    return known[name]


def metric_values_grouped(
    *, f: MetricFilter, by: str, names: Iterable[str]
) -> dict[Any, dict[str, Any]]:
    """{group key: {metric name: value}}: one query per metric, grouped in the database.

    `by` is one of GROUPINGS: campaign (id), channel (the campaign's channel), source
    (the lead's source channel), territory (id), owner (id). A group absent from a
    metric's rows gets that metric's empty value (0, Decimal 0.00 or None).
    """
    names = list(names)
    with rollups_reading():
        per_metric = {name: _metric(name).values_grouped(f, by=by) for name in names}
    keys = sorted(
        {key for rows in per_metric.values() for key in rows}, key=lambda k: (k is None, str(k))
    )
    result: dict[Any, dict[str, Any]] = {}
    for key in keys:
        result[key] = {}
        for name in names:
            if key in per_metric[name]:
                result[key][name] = per_metric[name][key]
            else:
                result[key][name] = metric_empty_value(name)
    return result


def metric_empty_value(name: str) -> Any:
    metric = _metric(name)
    if metric.parts or metric.is_rate or metric.unit in {"hours", "days"}:
        return None
    if metric.name == "avg_deal_size":
        return None
    if metric.unit == "money":
        return ZERO
    return 0


# The target metrics drill down to the records of their numerators.
TARGET_DRILL = {"target_attainment": "revenue", "mql_attainment": "mqls"}


def metric_records(*, name: str, f: MetricFilter) -> QuerySet:
    """The records a metric counts (a composite: its denominator's records)."""
    name = TARGET_DRILL.get(name, name)
    if name not in REGISTRY and name not in ACTIVITY:
        raise ValidationError({"metric": [_("Unknown metric: %(n)s") % {"n": name}]})
    metric = _metric(name).drill_base()
    return metric.records(f)


def metric_label(name: str) -> str:
    if name == "target_attainment":
        return str(_lazy("Revenue target attainment"))
    if name == "mql_attainment":
        return str(_lazy("MQL plan attainment"))
    return str(_metric(name).label)


def metric_unit(name: str) -> str:
    if name in TARGET_METRICS:
        return "rate"
    return _metric(name).unit
