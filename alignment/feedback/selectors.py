"""Reads of the feedback loop: marketing's intel inbox, battlecards, disputes, notifications."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.agreement.scoring import score_compute
from alignment.agreement.selectors import agreement_active, agreement_in_force, localized
from alignment.models import (
    Battlecard,
    BattlecardObjection,
    Dispute,
    DisputeDecision,
    DisputeEffect,
    DisputeKind,
    DisputeStatus,
    FieldIntel,
    IntelStatus,
    Notification,
    ReasonKind,
    StageKey,
    Team,
)
from campaigns.models import Campaign
from config.dates import EARLIEST_DAY, deployment_date
from config.formats import lead_label, person_name
from leads.models import Lead, StageEvent
from leads.selectors import TimelineEntry, lead_timeline
from metrics.definitions import REJECTED_STAGES, MetricFilter, metric_value, rejections_upheld

OPEN_INTEL = "open"  # a status filter: new or acknowledged, not yet actioned


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def intel_list(*, filters: dict[str, Any] | None = None) -> QuerySet[FieldIntel]:
    """Field intelligence, new items first, then newest; filters are already validated.

    filters: status (a status or "open"), kind, competitor (id), author (id), lead (id),
    deal (id), created_after / created_before (dates, inclusive), search (text).
    """
    filters = filters or {}
    qs = FieldIntel.objects.select_related(
        "author", "competitor", "lead", "deal", "campaign", "acknowledged_by"
    )
    status = filters.get("status")
    if status == OPEN_INTEL:
        qs = qs.exclude(status=IntelStatus.ACTIONED)
    elif status:
        qs = qs.filter(status=status)
    for key in ("kind",):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    for key in ("competitor", "author", "lead", "deal"):
        value = filters.get(key)
        if value:
            qs = qs.filter(**{f"{key}_id": getattr(value, "pk", value)})
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=_day_start(filters["created_after"]))
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=_day_start(filters["created_before"]) + timedelta(days=1))
    if filters.get("search"):
        term = filters["search"]
        qs = qs.filter(
            Q(text__icontains=term)
            | Q(response__icontains=term)
            | Q(competitor__name__icontains=term)
        )
    return qs


def intel_inbox(*, filters: dict[str, Any] | None = None) -> QuerySet[FieldIntel]:
    """Marketing's inbox: what waits for an answer first (new, then acknowledged), newest first."""
    order = Case(
        When(status=IntelStatus.NEW, then=Value(0)),
        When(status=IntelStatus.ACKNOWLEDGED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return intel_list(filters=filters).order_by(order, "-created_at", "-id")


def intel_detail(*, pk: int) -> FieldIntel | None:
    return intel_list().filter(pk=pk).first()


def intel_for_lead(*, lead) -> QuerySet[FieldIntel]:
    """A lead's intelligence, including what was sent from its deals, newest first."""
    return (
        FieldIntel.objects.filter(Q(lead=lead) | Q(deal__lead=lead))
        .select_related("author", "competitor", "deal")
        .order_by("-created_at", "-id")
    )


def disputes_for_lead(*, lead) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(lead=lead)
        .select_related("raised_by", "resolved_by", "deal")
        .order_by("-created_at", "-id")
    )


def _battlecards() -> QuerySet[Battlecard]:
    return Battlecard.objects.select_related("competitor", "updated_by").prefetch_related(
        Prefetch("objections", queryset=BattlecardObjection.objects.order_by("id"))
    )


def battlecard_list() -> QuerySet[Battlecard]:
    return _battlecards().order_by("competitor__name")


def battlecards_for_lead(*, lead) -> list[Battlecard]:
    """The cards of every competitor recorded on the lead's (or its deals') intelligence."""
    competitor_ids = (
        FieldIntel.objects.filter(Q(lead=lead) | Q(deal__lead=lead), competitor__isnull=False)
        .values("competitor_id")
        .distinct()
    )
    return list(
        _battlecards().filter(competitor_id__in=competitor_ids).order_by("competitor__name")
    )


def battlecards_for_deal(*, deal) -> list[Battlecard]:
    """The cards of competitors recorded on the deal or on its lead."""
    return battlecards_for_lead(lead=deal.lead)


def battlecard_linked_intel(*, battlecard: Battlecard, limit: int = 50) -> list[FieldIntel]:
    return list(
        FieldIntel.objects.filter(competitor_id=battlecard.competitor_id)
        .select_related("author", "lead")
        .order_by("-created_at", "-id")[:limit]
    )


def battlecard_linkable_intel(*, limit: int = 50) -> list[FieldIntel]:
    """Competitor intelligence nobody has tied to a competitor yet, for marketing to link."""
    return list(
        FieldIntel.objects.filter(competitor__isnull=True)
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    )


def dispute_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Dispute]:
    """Open disputes first (oldest waiting first), then resolved ones, newest first."""
    filters = filters or {}
    qs = Dispute.objects.select_related("lead", "deal", "raised_by", "resolved_by")
    for key in ("status", "kind", "raised_by_team", "decision"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("lead"):
        qs = qs.filter(lead_id=getattr(filters["lead"], "pk", filters["lead"]))
    order = Case(
        When(status=DisputeStatus.OPEN, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return qs.order_by(order, "-created_at", "-id")


def dispute_detail(*, pk: int) -> Dispute | None:
    return (
        Dispute.objects.select_related(
            "lead__owner",
            "lead__campaign__owner",
            "deal__owner",
            "raised_by",
            "resolved_by",
            "rejection__actor",
        )
        .filter(pk=pk)
        .first()
    )


# --- a dispute's evidence ------------------------------------------------------------------

# The kinds of dispute that contest a rejection: marketing's "rejection contested" and
# sales' "lead quality" (the lead it rejected should not have been an MQL).
REJECTION_DISPUTES = (DisputeKind.REJECTION, DisputeKind.LEAD_QUALITY)
TIMELINE_EXCERPT = 8


def dispute_rejection_find(*, lead: Lead, at: datetime) -> StageEvent | None:
    """The rejection standing on `lead` at `at`: its latest sales move out of MQL into
    recycled or disqualified, not reverted (the decisions `mql_decisions` counts)."""
    return (
        StageEvent.objects.filter(
            lead=lead,
            from_stage=StageKey.MQL,
            to_stage__in=REJECTED_STAGES,
            occurred_at__lte=at,
            reverted_by__isnull=True,
        )
        .exclude(source=StageEvent.Source.REVERT)
        .exclude(actor_team=Team.MARKETING)
        .order_by("-occurred_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class ExcerptEntry:
    entry: TimelineEntry
    is_rejection: bool


@dataclass(frozen=True)
class DisputeEvidence:
    """What the arbiter weighs: the rejection, the score then and now, the lead's
    timeline around the rejection, its campaign and how sales accepts that campaign's
    MQLs (the common acceptance rate, to date)."""

    rejection: StageEvent | None
    rejection_label: str
    score_then: int | None
    breakdown_then: list[dict[str, Any]] | None
    breakdown_then_missing: str
    score_now: int
    breakdown_now: list[dict[str, Any]]
    timeline: list[ExcerptEntry]
    campaign: Campaign | None
    campaign_acceptance_rate: float | None
    campaign_rejections_upheld: int | None


def _reason_label(event: StageEvent) -> str:
    agreement = event.agreement or agreement_in_force(at=event.occurred_at)
    code = None
    if agreement is not None and event.reason_code:
        code = agreement.reason_codes.filter(
            kind=ReasonKind.REJECTION, code=event.reason_code
        ).first()
    return (localized(code, "label") if code else "") or event.reason_code or "—"


def _breakdown_then(*, lead: Lead, event: StageEvent) -> tuple[list[dict[str, Any]] | None, str]:
    """The score's breakdown at the rejection, rebuilt with the rules of the agreement in
    force then over the touches up to then, or None and why not: only the score was
    recorded, so a rebuild is shown only when nothing it reads has changed since (no
    edit or merge of the lead) and it gives the very score recorded."""
    if event.score is None:
        return None, _("No score was recorded with the rejection.")
    at = event.occurred_at
    changed = (
        lead.edits.filter(occurred_at__gt=at).exists()
        or lead.merges.filter(occurred_at__gt=at).exists()
    )
    agreement = event.agreement or agreement_in_force(at=at)
    if changed or agreement is None:
        return None, _(
            "Only the score was recorded: the lead's details have changed since, so its "
            "breakdown then cannot be rebuilt."
        )
    result = score_compute(
        lead=lead,
        rules=agreement.rules.all(),
        touches=lead.touches.filter(occurred_at__lte=at).values_list("kind", "occurred_at"),
        now=at,
    )
    if result.score != event.score:
        return None, _(
            "Only the score was recorded: rescoring the lead as it was then gives another "
            "score, so its breakdown then cannot be rebuilt."
        )
    return result.breakdown, ""


def _excerpt(*, lead: Lead, event: StageEvent | None) -> list[ExcerptEntry]:
    """The lead's last entries up to a little after the rejection (newest first)."""
    entries = lead_timeline(lead=lead)
    if event is None:
        return [ExcerptEntry(entry=e, is_rejection=False) for e in entries[:TIMELINE_EXCERPT]]
    hit = next(
        (i for i, e in enumerate(entries) if e.kind == "stage" and e.at == event.occurred_at),
        0,
    )
    start = max(0, min(hit - 2, len(entries) - TIMELINE_EXCERPT))
    return [
        ExcerptEntry(entry=e, is_rejection=(start + i == hit and e.at == event.occurred_at))
        for i, e in enumerate(entries[start : start + TIMELINE_EXCERPT])
    ]


def dispute_rejection(*, dispute: Dispute) -> StageEvent | None:
    """The rejection a dispute contests: the one recorded when it was raised."""
    if dispute.kind not in REJECTION_DISPUTES or dispute.rejection_id is None:
        return None
    return (
        StageEvent.objects.select_related("actor", "agreement", "reverted_by")
        .filter(pk=dispute.rejection_id)
        .first()
    )


def dispute_evidence(*, dispute: Dispute, today: date | None = None) -> DisputeEvidence:
    lead = dispute.lead
    rejection = dispute_rejection(dispute=dispute)
    breakdown_then, missing = (
        _breakdown_then(lead=lead, event=rejection) if rejection else (None, "")
    )
    campaign = lead.campaign
    rate, upheld = None, None
    if campaign is not None:
        today = today or deployment_date()
        f = MetricFilter(start=EARLIEST_DAY, end=today + timedelta(days=1), campaign=campaign.pk)
        rate = metric_value(name="acceptance_rate", f=f)
        upheld = rejections_upheld(f).count()
    return DisputeEvidence(
        rejection=rejection,
        rejection_label=_reason_label(rejection) if rejection else "",
        score_then=rejection.score if rejection else None,
        breakdown_then=breakdown_then,
        breakdown_then_missing=missing,
        score_now=lead.score,
        breakdown_now=list(lead.score_breakdown or []),
        timeline=_excerpt(lead=lead, event=rejection),
        campaign=campaign,
        campaign_acceptance_rate=rate,
        campaign_rejections_upheld=upheld,
    )


def dispute_effect_summary(*, dispute: Dispute) -> str:
    """What the decision did to the lead, in a sentence of the active language ('' while
    the dispute is open)."""
    lead = lead_label(dispute.lead)
    if dispute.effect == DisputeEffect.OVERTURNED:
        return _(
            "The rejection of %(lead)s is overturned: the lead is back with %(rep)s as an "
            "accepted MQL."
        ) % {"lead": lead, "rep": person_name(dispute.lead.owner)}
    if dispute.effect == DisputeEffect.UPHELD:
        return _(
            "The rejection of %(lead)s is upheld: the lead stays rejected, and its campaign's "
            "quality counts the rejection as upheld."
        ) % {"lead": lead}
    if dispute.effect == DisputeEffect.NONE:
        return _("The decision leaves %(lead)s as it is.") % {"lead": lead}
    return ""


def dispute_decision_preview(*, dispute: Dispute, decision: str) -> str:
    """What deciding `dispute` with `decision` would do to the lead, for the question the
    arbiter confirms (dispute_resolve decides; this only says it beforehand)."""
    rejection = dispute_rejection(dispute=dispute)
    if rejection is not None and decision == DisputeDecision.FOR_MARKETING:
        return _(
            "The rejection is overturned: the lead goes back to %(rep)s as an accepted MQL."
        ) % {"rep": person_name(dispute.lead.owner)}
    if rejection is not None and decision == DisputeDecision.FOR_SALES:
        return _("The lead stays rejected, and the rejection counts as upheld for its campaign.")
    return _("The lead stays as it is.")


def notification_list(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def due_times_mark(items: Iterable[FieldIntel | Dispute], *, now: datetime | None = None) -> None:
    """Set `due_at` and `is_overdue` on each waiting item (new intelligence, open disputes),
    by the agreement in force (alignment.handoffs reminds and escalates by the same times);
    items no longer waiting get None and False."""
    agreement = agreement_active()
    now = now or timezone.now()
    for item in items:
        due = None
        if agreement is not None:
            if isinstance(item, FieldIntel) and item.status == IntelStatus.NEW:
                due = agreement.intel_ack_due(item.created_at)
            elif isinstance(item, Dispute) and item.status == DisputeStatus.OPEN:
                due = agreement.dispute_due(item.created_at)
        item.due_at = due  # type: ignore[union-attr]
        item.is_overdue = due is not None and now >= due  # type: ignore[union-attr]
