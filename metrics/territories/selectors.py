"""Reading territories: the list, one territory's reps in round-robin order with their
availability, and its change history in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from config.countries import country_name
from config.formats import date_text
from leads.selectors import OPEN_STAGES
from metrics.models import Territory, TerritoryChange, TerritoryCountry, TerritoryMember
from metrics.territories.services import AVAILABLE, AWAY


def territory_list() -> QuerySet[Territory]:
    """Every territory with its countries, active members and `waiting` (its open leads
    nobody owns yet), in a fixed number of queries."""
    return (
        Territory.objects.select_related("manager")
        .prefetch_related(
            Prefetch("countries", queryset=TerritoryCountry.objects.order_by("country")),
            Prefetch(
                "members",
                queryset=TerritoryMember.objects.filter(is_active=True)
                .select_related("user")
                .order_by("position", "user_id"),
                to_attr="active_members",
            ),
        )
        .annotate(
            waiting=Count(
                "leads",
                filter=Q(leads__owner__isnull=True, leads__stage__in=OPEN_STAGES),
                distinct=True,
            )
        )
        .order_by("name")
    )


def territory_members(*, territory: Territory) -> list[TerritoryMember]:
    """The territory's reps in round-robin order."""
    return list(
        TerritoryMember.objects.filter(territory=territory, is_active=True)
        .select_related("user")
        .order_by("position", "user_id")
    )


def territory_countries(*, territory: Territory) -> list[tuple[str, str]]:
    """(code, name in the reader's language), by name."""
    codes = TerritoryCountry.objects.filter(territory=territory).values_list("country", flat=True)
    return sorted(((code, country_name(code)) for code in codes), key=lambda pair: pair[1])


def member_availability(member: TerritoryMember, *, today: date) -> str:
    """How the territory page says whether a rep takes new leads today."""
    if not member.is_away_on(today):
        return _("Available")
    if member.away_until is None:
        return _("Away")
    return _("Away until %(day)s") % {"day": date_text(member.away_until)}


def _availability_text(value: str) -> str:
    if value == AVAILABLE:
        return _("available")
    if value == AWAY:
        return _("away")
    try:
        return _("away until %(day)s") % {"day": date_text(date.fromisoformat(value))}
    except ValueError:
        return value


@dataclass(frozen=True)
class HistoryLine:
    part: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    change: TerritoryChange
    lines: list[HistoryLine]


def _countries_text(codes: Any) -> str:
    return ", ".join(f"{country_name(code)} ({code})" for code in codes) or "—"


def territory_history(*, territory: Territory, limit: int = 50) -> list[HistoryEntry]:
    """The territory's latest changes, newest first, each part's value before and after
    in the reader's language."""
    entries = []
    changes = TerritoryChange.objects.filter(territory=territory).select_related("actor")
    for change in changes.order_by("-occurred_at", "-id")[:limit]:
        lines = []
        recorded = change.changes or {}
        if "name" in recorded:
            before, after = recorded["name"]
            lines.append(HistoryLine(_("Name"), str(before), str(after)))
        if "countries" in recorded:
            before, after = recorded["countries"]
            lines.append(
                HistoryLine(_("Countries"), _countries_text(before), _countries_text(after))
            )
        if "members" in recorded:
            before, after = recorded["members"]
            lines.append(
                HistoryLine(
                    _("Reps, in round-robin order"),
                    ", ".join(before) or "—",
                    ", ".join(after) or "—",
                )
            )
        if "availability" in recorded:
            before, after = recorded["availability"]
            for name in sorted(after):
                lines.append(
                    HistoryLine(
                        name,
                        _availability_text(before.get(name, "")),
                        _availability_text(after[name]),
                    )
                )
        entries.append(HistoryEntry(change=change, lines=lines))
    return entries
