"""Territories as a sales manager keeps them: the name, the countries whose leads go there,
the reps who work it, their round-robin order and who is away (holidays). Every change is
recorded (TerritoryChange), so the territory's page shows who changed what, and when.

Who gets the next lead in that order is leads.services.assignment's
`lead_assign_round_robin`; who may claim a territory's lead is `lead_claim_refusal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, territory_change_refusal
from config.countries import country_code_clean
from config.dates import deployment_date
from config.formats import person_name
from metrics.models import Territory, TerritoryChange, TerritoryCountry, TerritoryMember

# A member's availability as a change record keeps it: one of these, or the ISO date of
# their last day away.
AVAILABLE = "available"
AWAY = "away"


@dataclass(frozen=True)
class MemberPlan:
    """One rep of the territory as the manager wants them: their place in the round-robin
    order (ties keep the current order), and whether they are away, until when (the last
    day away; None: until further notice)."""

    user_id: int
    position: int
    is_away: bool = False
    away_until: date | None = None


def territory_reps_addable() -> Any:
    """Who may join a territory: active sales reps."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.SALES_REP)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def _availability(member: TerritoryMember, today: date) -> str:
    if not member.is_away_on(today):
        return AVAILABLE
    return member.away_until.isoformat() if member.away_until else AWAY


def _snapshot(territory: Territory, today: date) -> dict[str, Any]:
    """The parts of a territory a change record compares, as JSON keeps them."""
    members = list(
        TerritoryMember.objects.filter(territory=territory, is_active=True)
        .select_related("user")
        .order_by("position", "user_id")
    )
    return {
        "name": territory.name,
        "countries": sorted(
            TerritoryCountry.objects.filter(territory=territory).values_list("country", flat=True)
        ),
        "members": [person_name(m.user) for m in members],
        "availability": {person_name(m.user): _availability(m, today) for m in members},
    }


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {
        part: [before[part], after[part]]
        for part in ("name", "countries", "members")
        if before[part] != after[part]
    }
    # Availability of the reps who were members before and after (a new rep is available,
    # a removed one gone: the member list says so).
    was, now = before["availability"], after["availability"]
    moved = {name for name in was.keys() & now.keys() if was[name] != now[name]}
    if moved:
        changes["availability"] = [
            {name: was[name] for name in sorted(moved)},
            {name: now[name] for name in sorted(moved)},
        ]
    return changes


def _countries_checked(
    countries: Iterable[str], territory: Territory, errors: dict[str, list[str]]
) -> list[str]:
    codes: set[str] = set()
    for value in countries:
        if not value.strip():
            continue
        try:
            codes.add(country_code_clean(value, field="countries"))
        except ValidationError as exc:
            errors.setdefault("countries", []).extend(exc.message_dict["countries"])
    taken = (
        TerritoryCountry.objects.filter(country__in=codes)
        .exclude(territory=territory)
        .select_related("territory")
        .order_by("country")
    )
    for mapping in taken:
        errors.setdefault("countries", []).append(
            _("%(country)s belongs to %(territory)s: remove it there first.")
            % {"country": mapping.country, "territory": mapping.territory.name}
        )
    return sorted(codes)


def _members_checked(
    members: Sequence[MemberPlan],
    current: dict[int, TerritoryMember],
    today: date,
    errors: dict[str, list[str]],
) -> list[MemberPlan]:
    """The plans in round-robin order (position, then the current order, then user id)."""
    ids = [plan.user_id for plan in members]
    if len(ids) != len(set(ids)):
        errors.setdefault("members", []).append(_("A rep is listed twice."))
    joining = set(ids) - current.keys()
    if joining - set(territory_reps_addable().filter(pk__in=joining).values_list("pk", flat=True)):
        errors.setdefault("members", []).append(_("Only active sales reps may join a territory."))
    for plan in members:
        if plan.is_away and plan.away_until is not None and plan.away_until < today:
            errors.setdefault("members", []).append(
                _("The last day away has passed: choose a later day, or mark the rep available.")
            )
            break
    order = {
        user_id: index
        for index, user_id in enumerate(sorted(current, key=lambda pk: (current[pk].position, pk)))
    }
    return sorted(members, key=lambda p: (p.position, order.get(p.user_id, len(order)), p.user_id))


@transaction.atomic
def territory_update(
    *,
    territory: Territory,
    actor: User,
    name: str,
    countries: Iterable[str],
    members: Sequence[MemberPlan],
    at: datetime | None = None,
) -> TerritoryChange | None:
    """Set a territory's name, countries (ISO 3166 codes, each in one territory only) and
    members: `members` lists every rep who works it (one left out leaves the territory,
    one new joins), in round-robin order, with their availability.

    PermissionDenied unless `actor` is a sales manager; ValidationError per field ("name",
    "countries", "members"), nothing changed. A new order starts the round-robin at its
    first available rep. Records one TerritoryChange of what changed and returns it (None,
    and nothing written, when nothing changed: saving twice records once).
    """
    refusal = territory_change_refusal(user=actor)
    if refusal:
        raise PermissionDenied(refusal)
    at = at or timezone.now()
    today = deployment_date(at)
    locked = Territory.objects.select_for_update().get(pk=territory.pk)
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = [_("A territory needs a name.")]
    elif Territory.objects.exclude(pk=locked.pk).filter(name__iexact=name).exists():
        errors["name"] = [_("Another territory has this name.")]
    codes = _countries_checked(countries, locked, errors)
    current = {
        m.user_id: m for m in TerritoryMember.objects.filter(territory=locked, is_active=True)
    }
    ordered = _members_checked(members, current, today, errors)
    if errors:
        raise ValidationError(errors)

    before = _snapshot(locked, today)
    locked.name = name
    locked.save(update_fields=["name"])
    TerritoryCountry.objects.filter(territory=locked).exclude(country__in=codes).delete()
    have = set(TerritoryCountry.objects.filter(territory=locked).values_list("country", flat=True))
    TerritoryCountry.objects.bulk_create(
        TerritoryCountry(territory=locked, country=code) for code in codes if code not in have
    )
    staying = {plan.user_id for plan in ordered}
    TerritoryMember.objects.filter(territory=locked, is_active=True).exclude(
        user_id__in=staying
    ).update(is_active=False)
    for position, plan in enumerate(ordered, 1):
        TerritoryMember.objects.update_or_create(
            territory=locked,
            user_id=plan.user_id,
            defaults={
                "is_active": True,
                "position": position,
                "is_away": plan.is_away,
                "away_until": plan.away_until if plan.is_away else None,
            },
        )
    after = _snapshot(locked, today)
    changes = _changes(before, after)
    if not changes:
        return None
    if "members" in changes:  # the new order begins at its top
        Territory.objects.filter(pk=locked.pk).update(last_assigned_rep=None)
    territory.name = locked.name
    return TerritoryChange.objects.create(
        territory=locked, actor=actor, occurred_at=at, changes=changes
    )
