"""Reads of the leads app."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, QuerySet
from django.utils import timezone

from alignment.models import StageKey
from leads.models import Lead

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
    """One rep's week: follow-ups that stopped a clock in time (credit), breaches (penalty)."""

    rep_id: int
    rep_name: str
    week_start: date
    credits: int
    breaches: int

    @property
    def net(self) -> int:
        return self.credits - self.breaches


def week_start_of(moment: datetime | date) -> date:
    """Monday of the ISO week holding `moment`, in the deployment's time zone."""
    day = timezone.localtime(moment).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


LEDGER_METRICS = ("follow_ups_within_sla", "sla_breaches")


def sla_ledger(*, reps: Iterable[AbstractBaseUser], start: date, weeks: int = 1) -> list[LedgerRow]:
    """Per rep and ISO week from `start` (a Monday): credits and breaches.

    The SLA incentive and penalty the agreement promises, through the common metrics
    (`follow_ups_within_sla`: follow-ups that stopped a running clock by its deadline;
    `sla_breaches`: breaches whose deadline fell in the week, against the owner then),
    so the ledger, the scorecard and the dashboards agree. Two grouped queries per week,
    whatever the number of reps.
    """
    from metrics.definitions import MetricFilter, metric_values_grouped

    reps = list(reps)
    rows = []
    for offset in range(weeks):
        week = start + timedelta(weeks=offset)
        grouped = metric_values_grouped(
            f=MetricFilter(start=week, end=week + timedelta(weeks=1)),
            by="owner",
            names=LEDGER_METRICS,
        )
        for rep in reps:
            values = grouped.get(rep.pk, {})
            rows.append(
                LedgerRow(
                    rep_id=rep.pk,
                    rep_name=rep.get_full_name() or rep.get_username(),
                    week_start=week,
                    credits=values.get("follow_ups_within_sla", 0),
                    breaches=values.get("sla_breaches", 0),
                )
            )
    return rows
