"""Reads of the leads app."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from alignment.models import StageKey
from leads.models import FollowUp, Lead, SlaBreach

OPEN_STAGES = [StageKey.INQUIRY, StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY]
CLOSED_STAGES = [StageKey.WON, StageKey.LOST, StageKey.DISQUALIFIED, StageKey.RECYCLED]


def lead_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Lead]:
    from leads.filters import LeadFilter

    queryset = Lead.objects.select_related("owner", "territory", "campaign")
    return LeadFilter(filters or {}, queryset=queryset).qs


def lead_queue(*, rep: AbstractBaseUser) -> QuerySet[Lead]:
    """A rep's open leads, most urgent first: overdue, then soonest due, then no clock."""
    return (
        Lead.objects.filter(owner=rep, stage__in=OPEN_STAGES)
        .select_related("territory", "campaign")
        .order_by(F("sla_due_at").asc(nulls_last=True), "id")
    )


def lead_stage_counts(*, queryset: QuerySet[Lead] | None = None) -> dict[str, int]:
    queryset = Lead.objects.all() if queryset is None else queryset
    counts = dict(queryset.order_by().values_list("stage").annotate(n=Count("id")))
    return {key: counts.get(key, 0) for key in StageKey.values}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str
    actor: str


def lead_timeline(*, lead: Lead) -> list[TimelineEntry]:
    """Stage events, follow-ups, touches, intelligence and disputes, newest first."""
    entries: list[TimelineEntry] = []
    for event in lead.stage_events.select_related("actor"):
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind="stage",
                title=f"{event.get_from_stage_display() or '—'} → {event.get_to_stage_display()}",
                detail=" · ".join(filter(None, [event.reason_code, event.reason])),
                actor=str(event.actor or event.get_source_display()),
            )
        )
    for follow_up in lead.follow_ups.select_related("author"):
        entries.append(
            TimelineEntry(
                at=follow_up.occurred_at,
                kind="follow_up",
                title=f"{follow_up.get_kind_display()}: {follow_up.get_outcome_display()}",
                detail=follow_up.notes,
                actor=str(follow_up.author),
            )
        )
    for touch in lead.touches.select_related("campaign"):
        entries.append(
            TimelineEntry(
                at=touch.occurred_at,
                kind="touch",
                title=touch.get_kind_display(),
                detail=str(touch.campaign or ""),
                actor="",
            )
        )
    for intel in lead.intel.select_related("author"):
        entries.append(
            TimelineEntry(
                at=intel.created_at,
                kind="intel",
                title=intel.get_kind_display(),
                detail=intel.text,
                actor=str(intel.author),
            )
        )
    for dispute in lead.disputes.select_related("raised_by"):
        entries.append(
            TimelineEntry(
                at=dispute.created_at,
                kind="dispute",
                title=f"{dispute.get_kind_display()} ({dispute.get_status_display()})",
                detail=dispute.reason,
                actor=str(dispute.raised_by),
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


# --- the sales side: ledger, agenda, team -------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    """One rep's week: follow-ups that stopped a clock in time (credit), late ones, breaches."""

    rep_id: int
    rep_name: str
    week_start: date
    credits: int
    late: int
    breaches: int

    @property
    def net(self) -> int:
        return self.credits - self.breaches


def week_start_of(moment: datetime | date) -> date:
    """Monday of the ISO week holding `moment`, in the deployment's time zone."""
    day = timezone.localtime(moment).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def _week_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end, time.min, tzinfo=tz),
    )


def sla_ledger(*, reps: Iterable[AbstractBaseUser], start: date, weeks: int = 1) -> list[LedgerRow]:
    """Per rep and ISO week from `start` (a Monday): credits, late follow-ups, breaches.

    The one definition of the SLA incentive and penalty: a credit is a follow-up that
    stopped a running SLA clock by its deadline (`within_sla`), a breach a recorded
    SlaBreach whose deadline fell in the week, counted against the lead's owner then.
    Two grouped queries, whatever the number of reps and weeks.
    """
    reps = list(reps)
    rep_ids = [r.pk for r in reps]
    lower, upper = _week_bounds(start, start + timedelta(weeks=weeks))
    tz = timezone.get_current_timezone()
    counts: dict[tuple[int, date], dict[str, int]] = {}
    follow_ups = (
        FollowUp.objects.filter(
            author_id__in=rep_ids,
            occurred_at__gte=lower,
            occurred_at__lt=upper,
            within_sla__isnull=False,
        )
        .annotate(week=TruncWeek("occurred_at", tzinfo=tz))
        .values("author_id", "week")
        .annotate(
            credits=Count("id", filter=Q(within_sla=True)),
            late=Count("id", filter=Q(within_sla=False)),
        )
        .order_by()
    )
    for row in follow_ups:
        slot = counts.setdefault((row["author_id"], _as_date(row["week"])), {})
        slot["credits"], slot["late"] = row["credits"], row["late"]
    breaches = (
        SlaBreach.objects.filter(owner_id__in=rep_ids, due_at__gte=lower, due_at__lt=upper)
        .annotate(week=TruncWeek("due_at", tzinfo=tz))
        .values("owner_id", "week")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in breaches:
        counts.setdefault((row["owner_id"], _as_date(row["week"])), {})["breaches"] = row["n"]
    rows = []
    for offset in range(weeks):
        week = start + timedelta(weeks=offset)
        for rep in reps:
            slot = counts.get((rep.pk, week), {})
            rows.append(
                LedgerRow(
                    rep_id=rep.pk,
                    rep_name=rep.get_full_name() or rep.get_username(),
                    week_start=week,
                    credits=slot.get("credits", 0),
                    late=slot.get("late", 0),
                    breaches=slot.get("breaches", 0),
                )
            )
    return rows


def _as_date(value: datetime | date) -> date:
    return timezone.localtime(value).date() if isinstance(value, datetime) else value
