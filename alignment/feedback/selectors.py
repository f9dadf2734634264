"""Reads of the feedback loop: marketing's intel inbox, battlecards, disputes, notifications."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from alignment.models import (
    Battlecard,
    BattlecardObjection,
    Dispute,
    DisputeStatus,
    FieldIntel,
    IntelStatus,
    Notification,
)

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
            "lead__owner", "lead__campaign__owner", "deal__owner", "raised_by", "resolved_by"
        )
        .filter(pk=pk)
        .first()
    )


def notification_list(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")
