"""Reads of the leads app."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, user_has_role
from alignment.models import StageKey
from config.bulk import texts_in
from config.dates import WEEK, week_start_of
from config.formats import money_format, person_name
from leads.filters import LeadFilter
from leads.models import (
    OPEN_STAGES,
    Correction,
    Deal,
    FollowUp,
    Lead,
    LeadEdit,
    LeadImport,
    LeadMerge,
    SlaBreach,
    StageEvent,
)
from metrics.definitions import MetricFilter, metric_values_grouped


def leads_with_email(*, email: str) -> QuerySet[Lead]:
    """Leads whose email is `email` in any case, found through the unique lower(email) index.

    Not `email__iexact`: it compiles to UPPER(email) = UPPER(...), which no index serves,
    so every lookup read the whole table (13 s per created lead at 1M leads).
    """
    return Lead.objects.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(email)))


def leads_by_keys(
    *, external_ids: Iterable[str | None], emails: Iterable[str | None]
) -> tuple[dict[str, Lead], dict[str, Lead]]:
    """The leads these keys name: {external id: lead}, {lower-cased e-mail: lead}.

    A merged duplicate's old e-mail or external id names its survivor (LeadMerge), so an
    upsert or an import that still sends them updates the one lead rather than creating
    the duplicate again; such a lead carries `merged_keys`, the old keys that found it,
    which are never written over its own (lead_changes). Three queries at most, whatever
    the number of keys (the importer asks for a whole batch).
    """
    wanted_ids = {key for key in external_ids if key}
    wanted_emails = {key.strip().lower() for key in emails if key and key.strip()}
    by_external: dict[str, Lead] = {}
    by_email: dict[str, Lead] = {}
    if wanted_ids:
        for lead in Lead.objects.filter(texts_in("external_id", wanted_ids)).order_by():
            by_external[str(lead.external_id)] = lead
    if wanted_emails:
        found = Lead.objects.alias(email_lower=Lower("email")).filter(
            texts_in("email_lower", wanted_emails)
        )
        for lead in found.order_by():
            by_email[lead.email.lower()] = lead
    old_ids, old_emails = wanted_ids - by_external.keys(), wanted_emails - by_email.keys()
    if old_ids or old_emails:
        merges = LeadMerge.objects.annotate(email_lower=Lower("merged_email")).filter(
            texts_in("merged_external_id", old_ids) | texts_in("email_lower", old_emails)
        )
        survivors: dict[int, Lead] = {}
        for merge in merges.select_related("survivor").order_by("-occurred_at"):
            survivor = survivors.setdefault(merge.survivor_id, merge.survivor)
            survivor.merged_keys = getattr(survivor, "merged_keys", set())  # type: ignore[attr-defined]
            if merge.merged_external_id in old_ids:
                by_external.setdefault(merge.merged_external_id, survivor)
                survivor.merged_keys.add(merge.merged_external_id)  # type: ignore[attr-defined]
            if merge.email_lower in old_emails:
                by_email.setdefault(merge.email_lower, survivor)
                survivor.merged_keys.add(merge.email_lower)  # type: ignore[attr-defined]
    return by_external, by_email


def lead_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Lead]:

    queryset = Lead.objects.select_related("owner", "territory", "campaign")
    return LeadFilter(filters or {}, queryset=queryset).qs


QUEUE_DUE_CHOICES = ("overdue", "24h", "week", "none")


def lead_queue(
    *,
    rep: User,
    stage: str = "",
    due: str = "",
    search: str = "",
    now: datetime | None = None,
) -> QuerySet[Lead]:
    """A rep's open leads, most urgent first: overdue, then soonest due, then no clock.

    The order (owner, open stage, sla_due_at, id) is served by the partial index
    `lead_open_queue_idx`; the last follow-up's next step comes in the same query.
    Filters: a stage, a due window (overdue, 24h, week, none: no clock) and a search.
    """
    now = now or timezone.now()
    last_step = FollowUp.objects.filter(lead=OuterRef("pk")).exclude(next_step="")
    queryset = (
        Lead.objects.filter(owner=rep, stage__in=OPEN_STAGES)
        .select_related("territory", "campaign")
        .annotate(
            next_step=Subquery(last_step.order_by("-occurred_at", "-id").values("next_step")[:1])
        )
        .order_by(F("sla_due_at").asc(nulls_last=True), "id")
    )
    if stage in OPEN_STAGES:
        queryset = queryset.filter(stage=stage)
    if due == "overdue":
        queryset = queryset.filter(sla_due_at__lt=now)
    elif due == "24h":
        queryset = queryset.filter(sla_due_at__gte=now, sla_due_at__lt=now + timedelta(hours=24))
    elif due == "week":
        queryset = queryset.filter(sla_due_at__gte=now, sla_due_at__lt=now + timedelta(days=7))
    elif due == "none":
        queryset = queryset.filter(sla_due_at__isnull=True)
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(email__icontains=search)
            | Q(company__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    return queryset


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
    """Stage events, follow-ups, touches, intelligence, disputes and corrections, newest
    first."""
    entries: list[TimelineEntry] = []
    for event in lead.stage_events.select_related("actor", "reverted_by"):
        move = f"{event.get_from_stage_display() or '—'} → {event.get_to_stage_display()}"
        if event.source == StageEvent.Source.REVERT:  # shows the move it took back
            move = _("Reverted: %(move)s") % {
                "move": f"{event.get_to_stage_display()} → {event.get_from_stage_display()}"
            }
        elif hasattr(event, "reverted_by"):
            move = _("%(move)s (reverted)") % {"move": move}
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind="stage",
                title=move,
                detail=" · ".join(filter(None, [event.reason_code, event.reason])),
                actor=person_name(event.actor) if event.actor else str(event.get_source_display()),
            )
        )
    for follow_up in lead.follow_ups.select_related("author"):
        entries.append(
            TimelineEntry(
                at=follow_up.occurred_at,
                kind="follow_up",
                title=f"{follow_up.get_kind_display()}: {follow_up.get_outcome_display()}",
                detail=" · ".join(
                    filter(
                        None,
                        [
                            follow_up.notes,
                            _("Next step: %(step)s") % {"step": follow_up.next_step}
                            if follow_up.next_step
                            else "",
                        ],
                    )
                ),
                actor=person_name(follow_up.author),
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
                actor=person_name(intel.author),
            )
        )
    for dispute in lead.disputes.select_related("raised_by"):
        entries.append(
            TimelineEntry(
                at=dispute.created_at,
                kind="dispute",
                title=f"{dispute.get_kind_display()} ({dispute.get_status_display()})",
                detail=dispute.reason,
                actor=person_name(dispute.raised_by),
            )
        )
    corrections = list(lead.corrections.select_related("actor"))
    deal_ids = [c.record_id for c in corrections if c.record == Correction.Record.DEAL]
    deal_names = (
        dict(Deal.objects.filter(pk__in=deal_ids).values_list("pk", "name")) if deal_ids else {}
    )
    for correction in corrections:
        record = correction.get_record_display()
        is_deal = correction.record == Correction.Record.DEAL
        name = deal_names.get(correction.record_id) if is_deal else None
        if name:
            title = _("%(record)s “%(name)s” corrected") % {"record": record, "name": name}
        else:
            title = _("%(record)s #%(id)s corrected") % {
                "record": record,
                "id": correction.record_id,
            }
        changed = [
            f"{change.label}: {change.before} → {change.after}"
            for change in correction_changes(correction=correction)
        ]
        why = _("Why: %(reason)s") % {"reason": correction.reason}
        entries.append(
            TimelineEntry(
                at=correction.occurred_at,
                kind="correction",
                title=title,
                detail=" · ".join([*changed, why]),
                actor=person_name(correction.actor),
            )
        )
    for edit in lead.edits.select_related("actor"):
        changed = [
            f"{change.label}: {change.before} → {change.after}"
            for change in field_changes(model=Lead, changes=edit.changes)
        ]
        title = (
            _("Filled in from a merged duplicate")
            if edit.source == LeadEdit.Source.MERGE
            else _("Details edited")
        )
        entries.append(
            TimelineEntry(
                at=edit.occurred_at,
                kind="edit",
                title=title,
                detail=" · ".join(changed),
                actor=person_name(edit.actor) if edit.actor else str(edit.get_source_display()),
            )
        )
    for assignment in lead.assignments.select_related("from_owner", "to_owner", "actor"):
        entries.append(
            TimelineEntry(
                at=assignment.occurred_at,
                kind="assignment",
                title=_("Reassigned: %(before)s → %(after)s")
                % {
                    "before": person_name(assignment.from_owner),
                    "after": person_name(assignment.to_owner),
                },
                detail="",
                actor=person_name(assignment.actor) if assignment.actor else "",
            )
        )
    for merge in lead.merges.select_related("actor"):
        entries.append(
            TimelineEntry(
                at=merge.occurred_at,
                kind="merge",
                title=_("Merged with lead #%(id)s (%(email)s)")
                % {"id": merge.merged_lead_id, "email": merge.merged_email},
                detail=_("Why: %(reason)s") % {"reason": merge.reason},
                actor=person_name(merge.actor),
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


@dataclass(frozen=True)
class CorrectionChange:
    field: str
    label: str
    before: str
    after: str


_CORRECTED_MODELS: dict[str, type[models.Model]] = {
    Correction.Record.DEAL: Deal,
    Correction.Record.FOLLOW_UP: FollowUp,
    Correction.Record.SLA_BREACH: SlaBreach,
    Correction.Record.STAGE_EVENT: StageEvent,
}


def _corrected_value(field: models.Field | models.ForeignObjectRel | None, value: Any) -> str:
    """A value of a correction's JSON as the reader writes it (money, local time, yes/no)."""
    if value is None or value == "":
        return "—"
    if isinstance(field, models.DecimalField):
        return money_format(value)
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
    if isinstance(field, models.BooleanField):
        return _("yes") if value else _("no")
    return str(value)


def correction_changes(*, correction: Correction) -> list[CorrectionChange]:
    """What a correction changed, field by field, labelled and formatted for the reader."""
    return field_changes(model=_CORRECTED_MODELS.get(correction.record), changes=correction.changes)


def field_changes(
    *, model: type[models.Model] | None, changes: dict[str, list[Any]]
) -> list[CorrectionChange]:
    """A recorded {field: [before, after]} of `model`, labelled and formatted for the reader."""
    fields = {f.name: f for f in model._meta.get_fields()} if model else {}
    rows = []
    for name, (before, after) in changes.items():
        field = fields.get(name)
        label = str(getattr(field, "verbose_name", name))
        rows.append(
            CorrectionChange(
                field=name,
                label=label[:1].upper() + label[1:],
                before=_corrected_value(field, before),
                after=_corrected_value(field, after),
            )
        )
    return rows


# What a lead keeps it from being deleted, by related name: the records the metrics and
# the teams' shared record count. Touches are the lead's own inflow and go with it.
COUNTED_RELATIONS = ("follow_ups", "sla_breaches", "deals", "corrections", "disputes", "intel")


def leads_with_counted_history(*, lead_ids: Iterable[int]) -> set[int]:
    """Of `lead_ids`, the leads with history beyond their creation: a stage change, a
    follow-up, an SLA breach, a deal, a correction, a dispute or field intelligence.

    Such a lead is part of what the teams are measured by and is kept; a lead with none
    (spam, a test entry, a duplicate nobody acted on) counts only as an inflow.
    """
    ids = list(lead_ids)
    kept = set(
        StageEvent.objects.filter(lead_id__in=ids)
        .exclude(from_stage="")
        .values_list("lead_id", flat=True)
    )
    for relation in COUNTED_RELATIONS:
        rest = [pk for pk in ids if pk not in kept]
        if not rest:
            break
        kept.update(
            Lead.objects.filter(pk__in=rest, **{f"{relation}__isnull": False})
            .values_list("pk", flat=True)
            .distinct()
        )
    return kept


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


# Weeks are the deployment's (config.dates.week_start_of: Monday 00:00 in settings.TIME_ZONE,
# whatever zone the reader chose); `week_start_of` is imported from there.


LEDGER_METRICS = ("follow_ups_within_sla", "sla_breaches")


def sla_ledger(*, reps: Iterable[User], start: date, weeks: int = 1) -> list[LedgerRow]:
    """Per rep and ISO week from `start` (a Monday): credits and breaches.

    The SLA incentive and penalty the agreement promises, through the common metrics
    (`follow_ups_within_sla`: follow-ups that stopped a running clock by its deadline;
    `sla_breaches`: breaches whose deadline fell in the week, against the owner then),
    so the ledger, the scorecard and the dashboards agree. Two grouped queries per week,
    whatever the number of reps.
    """
    reps = list(reps)
    rows = []
    for offset in range(weeks):
        week = start + offset * WEEK
        grouped = metric_values_grouped(
            f=MetricFilter(start=week, end=week + WEEK),
            by="owner",
            names=LEDGER_METRICS,
        )
        for rep in reps:
            values = grouped.get(rep.pk, {})
            rows.append(
                LedgerRow(
                    rep_id=rep.pk,
                    rep_name=person_name(rep),
                    week_start=week,
                    credits=values.get("follow_ups_within_sla", 0),
                    breaches=values.get("sla_breaches", 0),
                )
            )
    return rows


@dataclass(frozen=True)
class AgendaDay:
    day: date
    leads: list[Lead]


def agenda_for(*, rep: User, days: int = 14, now: datetime | None = None) -> dict:
    """A rep's day planned: what is late, what is planned by day, what waits for a date.

    `overdue`: the rep's open leads whose SLA clock has run out (`sla_due_at` passed),
    most overdue first; `missed`: planned follow-ups whose time has passed without a newer
    one; `days`: the next `days` days from today, each with its leads in time order;
    `to_schedule`: open leads whose latest follow-up names a next step without a date.
    Four queries.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    horizon = today + timedelta(days=days)
    mine = Lead.objects.filter(owner=rep, stage__in=OPEN_STAGES)
    overdue = list(mine.filter(sla_due_at__lt=now).order_by("sla_due_at", "id"))
    planned = FollowUp.objects.filter(lead=OuterRef("pk"), next_follow_up_at__isnull=False)
    leads = list(
        mine.filter(
            next_follow_up_at__isnull=False,
            next_follow_up_at__lt=_day_start(horizon),
        )
        .annotate(
            next_step=Subquery(planned.order_by("-occurred_at", "-id").values("next_step")[:1]),
            planned_kind=Subquery(planned.order_by("-occurred_at", "-id").values("kind")[:1]),
        )
        .order_by("next_follow_up_at", "id")
    )
    missed: list[Lead] = []
    by_day: dict[date, list[Lead]] = {today + timedelta(days=i): [] for i in range(days)}
    for lead in leads:
        due = lead.next_follow_up_at
        assert due is not None  # filtered on next_follow_up_at__isnull=False
        if due < now:
            missed.append(lead)
        else:
            by_day.setdefault(timezone.localdate(due), []).append(lead)
    return {
        "overdue": overdue,
        "missed": missed,
        "days": [AgendaDay(day=day, leads=items) for day, items in sorted(by_day.items())],
        "to_schedule": _to_schedule(leads=mine),
        "today": today,
    }


def _to_schedule(*, leads: QuerySet[Lead]) -> list[Lead]:
    """Leads whose latest follow-up names a next step but no date for it (one query)."""
    latest = FollowUp.objects.filter(lead=OuterRef("pk")).order_by("-occurred_at", "-id")
    return list(
        leads.annotate(
            next_step=Subquery(latest.values("next_step")[:1]),
            planned_kind=Subquery(latest.values("kind")[:1]),
            next_step_at=Subquery(latest.values("next_follow_up_at")[:1]),
            next_step_logged_at=Subquery(latest.values("occurred_at")[:1]),
        )
        .filter(next_step_at__isnull=True)
        .exclude(next_step__isnull=True)
        .exclude(next_step="")
        .order_by("-next_step_logged_at", "-id")
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def team_reps(*, user: User) -> list[User]:
    """The reps a user sees in the team view and ledger.

    A sales manager: the reps of the territories they manage (every sales rep if they
    manage none); an executive or superuser: every sales rep; a rep: themself.
    """

    users = get_user_model().objects.filter(is_active=True)
    reps = users.filter(groups__name=Role.SALES_REP)
    if user.is_superuser or user_has_role(user, Role.EXECUTIVE):
        chosen = reps
    elif user_has_role(user, Role.SALES_MANAGER):
        managed = users.filter(
            territory_memberships__territory__manager=user,
            territory_memberships__is_active=True,
        )
        chosen = managed if managed.exists() else reps
    elif user_has_role(user, Role.SALES_REP):
        chosen = users.filter(pk=user.pk)
    else:
        chosen = users.none()
    return list(chosen.distinct().order_by("first_name", "last_name", "username"))


@dataclass(frozen=True)
class TeamRow:
    rep: User
    follow_ups: int
    calls: int
    meetings: int
    visits: int
    credits: int
    breaches: int
    open_leads: int
    overdue: int
    missed_follow_ups: int
    deals_won: int

    @property
    def behind(self) -> bool:
        return self.overdue > 0 or self.breaches > self.credits or self.missed_follow_ups > 0


# The team page's weekly counts, each a metric of metrics.definitions (REGISTRY or
# ACTIVITY) grouped by owner: the same records and week as the ledger and the scorecards.
TEAM_METRICS = (
    "follow_ups",
    "follow_ups[call]",
    "follow_ups[meeting]",
    "follow_ups[visit]",
    "follow_ups_within_sla",
    "sla_breaches",
    "deals_won",
)


def team_week(*, reps: list[User], week: date, now: datetime | None = None) -> list[TeamRow]:
    """What each rep did in the ISO week holding `week`, and who is behind now.

    The week is the deployment's (Monday 00:00 in settings.TIME_ZONE), whatever zone the
    manager reads in; each count is a common metric grouped by owner. Behind: leads past
    their SLA now, planned follow-ups missed, or more breaches than credits this week. A
    fixed number of grouped queries, whatever the team's size.
    """
    now = now or timezone.now()
    ids = [r.pk for r in reps]
    monday = week_start_of(week)
    counted = metric_values_grouped(
        f=MetricFilter(start=monday, end=monday + WEEK), by="owner", names=TEAM_METRICS
    )
    queue: dict[int, Mapping[str, Any]] = {
        row["owner_id"]: row
        for row in Lead.objects.filter(owner_id__in=ids, stage__in=OPEN_STAGES)
        .values("owner_id")
        .annotate(
            n=Count("id"),
            overdue=Count("id", filter=Q(sla_due_at__lt=now)),
            missed=Count("id", filter=Q(next_follow_up_at__lt=now)),
        )
        .order_by()
    }
    rows = []
    for rep in reps:
        did, mine = counted.get(rep.pk, {}), queue.get(rep.pk, {})
        rows.append(
            TeamRow(
                rep=rep,
                follow_ups=did.get("follow_ups", 0),
                calls=did.get("follow_ups[call]", 0),
                meetings=did.get("follow_ups[meeting]", 0),
                visits=did.get("follow_ups[visit]", 0),
                credits=did.get("follow_ups_within_sla", 0),
                breaches=did.get("sla_breaches", 0),
                open_leads=mine.get("n", 0),
                overdue=mine.get("overdue", 0),
                missed_follow_ups=mine.get("missed", 0),
                deals_won=did.get("deals_won", 0),
            )
        )
    rows.sort(key=lambda r: (not r.behind, -r.overdue, -r.breaches, r.rep.get_full_name()))
    return rows


def lead_import_visible(*, user: User) -> QuerySet[LeadImport]:
    """The import runs a user may see: their own; every run for a marketing manager or an
    executive (oversight); none without the role to see imports."""

    if not user.is_authenticated or not user.has_perm("leads.view_leadimport"):
        return LeadImport.objects.none()
    runs = LeadImport.objects.select_related("created_by")
    if user.is_superuser or user_has_role(user, Role.MARKETING_MANAGER, Role.EXECUTIVE):
        return runs
    return runs.filter(created_by=user)


def lead_earlier_rejection(*, lead: Lead) -> StageEvent | None:
    """The last time sales rejected this lead (mql → recycled), if it has come back since:
    the rep who gets it again sees why it was turned down before."""
    if lead.stage in (StageKey.INQUIRY, StageKey.RECYCLED) or not lead.pk:
        return None
    return (
        StageEvent.objects.filter(lead=lead, from_stage=StageKey.MQL, to_stage=StageKey.RECYCLED)
        .filter(reverted_by__isnull=True)  # a rejection a sales manager reverted is none
        .select_related("actor")
        .order_by("-occurred_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class LikelyDuplicate:
    lead: Lead
    reasons: list[str]


def lead_likely_duplicates(
    *,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[LikelyDuplicate]:
    """Leads that are probably the same person: the same e-mail (any case), or the same
    name at the same company (any case)."""
    email, company = email.strip(), company.strip()
    first_name, last_name = first_name.strip(), last_name.strip()
    same = Q(pk__in=[])
    if email:
        same |= Q(email__iexact=email)
    if company and (first_name or last_name):
        same |= Q(
            company__iexact=company, first_name__iexact=first_name, last_name__iexact=last_name
        )
    candidates = Lead.objects.filter(same).select_related("owner")
    if exclude_pk is not None:
        candidates = candidates.exclude(pk=exclude_pk)
    found = []
    for lead in candidates.order_by("-created_at", "-id")[: limit * 4]:
        reasons = []
        if email and lead.email.lower() == email.lower():
            reasons.append(_("same e-mail"))
        if (
            company
            and lead.company.lower() == company.lower()
            and lead.first_name.lower() == first_name.lower()
            and lead.last_name.lower() == last_name.lower()
        ):
            reasons.append(_("same name at the same company"))
        if reasons:
            found.append(LikelyDuplicate(lead=lead, reasons=reasons))
    return found[:limit]
