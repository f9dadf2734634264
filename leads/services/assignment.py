"""Who owns a lead: territories, round-robin routing of new MQLs, claiming, reassigning."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, lead_claim_refusal, lead_reassign_refusal
from config.dates import deployment_date
from config.events import publish
from config.formats import person_name
from leads.events import LeadReassigned, LeadsReassigned
from leads.models import Lead, LeadAssignment
from leads.selectors import OPEN_STAGES
from leads.services.errors import LeadConflict
from metrics.models import Territory, TerritoryCountry, TerritoryMember


def territory_for_country(country: str) -> Territory | None:
    mapping = (
        TerritoryCountry.objects.select_related("territory").filter(country=country.upper()).first()
        if country
        else None
    )
    if mapping:
        return mapping.territory
    return Territory.objects.filter(is_default=True).first()


def territory_for_lead(*, country: str, owner_id: int | None) -> Territory | None:
    """A new lead's territory: its country's, else its owner's (one active membership), else
    the default. An owned lead from an unmapped country belongs where its rep works."""
    if country:
        mapping = (
            TerritoryCountry.objects.select_related("territory")
            .filter(country=country.upper())
            .first()
        )
        if mapping is not None:
            return mapping.territory
    if owner_id:
        memberships = list(
            TerritoryMember.objects.select_related("territory").filter(
                user_id=owner_id, is_active=True
            )[:2]
        )
        if len(memberships) == 1:
            return memberships[0].territory
    return Territory.objects.filter(is_default=True).first()


def lead_assign_round_robin(*, lead: Lead, at: datetime | None = None) -> User | None:
    """Give an unowned lead to the next available rep of its territory, round-robin.

    The reps take turns in the territory's order (position, then user id: a sales manager
    sets it on the territory page) after the one who had the last lead; a rep away (on
    holiday, until their last day away has passed) or inactive is skipped. The territory
    row is locked, so concurrent assignments take turns; a lead that already has an owner
    keeps it. Returns the owner (None when no rep of the territory is available).
    """
    if lead.owner_id:
        return lead.owner
    territory = lead.territory or territory_for_country(lead.country)
    if territory is None:
        return None
    at = at or timezone.now()
    territory = Territory.objects.select_for_update().get(pk=territory.pk)
    members = TerritoryMember.objects.filter(territory=territory, is_active=True)
    turns = list(
        members.filter(user__is_active=True)
        .order_by("position", "user_id")
        .values_list("user_id", flat=True)
    )
    available = set(members.available_on(deployment_date(at)).values_list("user_id", flat=True))
    if not available:
        return None
    last = territory.last_assigned_rep_id
    if last in turns:  # the turn passes on from whoever had the last lead
        after = turns.index(last) + 1
        turns = turns[after:] + turns[:after]
    rep_id = next(pk for pk in turns if pk in available)
    Territory.objects.filter(pk=territory.pk).update(last_assigned_rep_id=rep_id)
    lead.owner_id = rep_id
    lead.territory = territory
    lead.assigned_at = at
    return lead.owner


def lead_claimable(*, lead: Lead) -> bool:
    """An unowned open lead may be claimed (lead_claim's conditional UPDATE says the same)."""
    return lead.owner_id is None and lead.stage in OPEN_STAGES


def lead_claim(*, lead_id: int, user: User, at: datetime | None = None) -> Lead:
    """Make `user` the owner of an unowned open lead (PermissionDenied for a rep who does
    not work the lead's territory; see lead_claim_refusal).

    One conditional UPDATE ... WHERE owner IS NULL: of any number of simultaneous
    claims the database lets exactly one change the row; every other one gets a
    LeadConflict naming the winner. Claiming twice is a conflict too (nothing changes).
    """
    refusal = lead_claim_refusal(user=user)
    if refusal:
        raise PermissionDenied(refusal)
    current = Lead.objects.select_related("territory").filter(pk=lead_id).first()
    if current is not None and lead_claimable(lead=current):
        # A rep claims only in a territory they work (a taken lead says who took it).
        refusal = lead_claim_refusal(user=user, lead=current)
        if refusal:
            raise PermissionDenied(refusal)
    at = at or timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(pk=lead_id, owner__isnull=True, stage__in=OPEN_STAGES).update(
            owner=user, assigned_at=at, updated_at=at
        )
        lead = Lead.objects.select_related("owner", "territory").get(pk=lead_id)
    if won:
        return lead
    if lead.owner_id == user.pk:
        raise LeadConflict(_("This lead is already yours."), lead_id=lead.pk)
    if lead.owner is not None:
        raise LeadConflict(
            _("%(owner)s claimed this lead first.") % {"owner": person_name(lead.owner)},
            lead_id=lead.pk,
        )
    raise ValidationError(
        {
            "lead": [
                _("Only an open lead can be claimed; this one is %(stage)s.")
                % {"stage": lead.get_stage_display()}
            ]
        }
    )


def assignable_users() -> Any:
    """Active users who may own leads: sales reps and sales managers."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.SALES_REP, Role.SALES_MANAGER])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


@transaction.atomic
def lead_reassign(*, lead: Lead, to_user: User, actor: User, at: datetime | None = None) -> Lead:
    """A manager gives a lead to another rep (LeadReassigned: the new owner is told).

    The SLA deadline is kept: handing a lead over does not reset a running clock.
    """
    refusal = lead_reassign_refusal(user=actor)
    if refusal:
        raise PermissionDenied(refusal)
    if not assignable_users().filter(pk=to_user.pk).exists():
        raise ValidationError(
            {"owner": [_("Leads can only go to an active sales rep or manager.")]}
        )
    at = at or timezone.now()
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.owner_id == to_user.pk:
        return locked
    LeadAssignment.objects.create(
        lead=locked, from_owner_id=locked.owner_id, to_owner=to_user, actor=actor, occurred_at=at
    )
    locked.owner = to_user
    locked.assigned_at = at
    locked.save(update_fields=["owner", "assigned_at", "updated_at"])
    lead.owner, lead.assigned_at = to_user, at
    publish(LeadReassigned(lead_id=locked.pk, owner_id=to_user.pk, actor_id=actor.pk, at=at))
    return locked


# A bulk action's reach: what one request may select on a page.
BULK_LIMIT = 500


@transaction.atomic
def leads_reassign(
    *, lead_ids: list[int], to_user: User, actor: User, at: datetime | None = None
) -> list[int]:
    """Give many leads to one owner at once (a manager's bulk action on the lead list).

    Each lead that changes hands gets its own LeadAssignment (who had it, who decided);
    the new owner is told once for all of them (LeadsReassigned). A fixed number of
    queries, whatever the number of leads: one lock, one update, one insert. Leads the
    owner already has are left alone. Returns the ids that changed hands.
    """
    refusal = lead_reassign_refusal(user=actor)
    if refusal:
        raise PermissionDenied(refusal)
    if not assignable_users().filter(pk=to_user.pk).exists():
        raise ValidationError(
            {"owner": [_("Leads can only go to an active sales rep or manager.")]}
        )
    if len(lead_ids) > BULK_LIMIT:
        raise ValidationError(
            {"lead": [_("Choose at most %(n)s leads at once.") % {"n": BULK_LIMIT}]}
        )
    at = at or timezone.now()
    owners = dict(
        Lead.objects.select_for_update()
        .filter(pk__in=lead_ids)
        .exclude(owner=to_user)
        .values_list("pk", "owner_id")
    )
    if not owners:
        return []
    Lead.objects.filter(pk__in=owners).update(owner=to_user, assigned_at=at, updated_at=at)
    LeadAssignment.objects.bulk_create(
        LeadAssignment(
            lead_id=pk, from_owner_id=before, to_owner=to_user, actor=actor, occurred_at=at
        )
        for pk, before in owners.items()
    )
    changed = sorted(owners)
    publish(LeadsReassigned(lead_ids=tuple(changed), owner_id=to_user.pk, actor_id=actor.pk, at=at))
    return changed
