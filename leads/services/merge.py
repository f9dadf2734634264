"""Merging two records of one person: the duplicate's history moves to the survivor.

Nothing either lead went through is lost: every row that points at the duplicate (stage
events, follow-ups, SLA breaches, corrections, deals, touches, intel, disputes, edits and
earlier merges) is moved to the survivor, found through the model graph so a relation
added later moves too. The duplicate's own fields are kept in the merge record, its old
id and keys forward to the survivor (pages and the API redirect, an import or upsert that
still names them updates the survivor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import ForeignKey
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import lead_merge_refusal
from leads.integrity import lead_invariant_problems
from leads.models import STAGE_MOMENTS, Lead, LeadEdit, LeadMerge
from leads.services.lifecycle import lead_score_refresh, value_as_recorded

# Contact and company fields: the survivor's value stays, the duplicate's fills a blank.
_FILLED = [
    "external_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "industry",
    "company_size",
    "campaign",
    "territory",
]
# Where the person stands in the funnel: taken together from whichever lead moved last.
_STAGE_CLOCK = [
    "stage",
    "stage_entered_at",
    "sla_due_at",
    "rest_until",
    "qualified_under",
    "assigned_at",
    "first_follow_up_at",
    "owner",
]


@dataclass(frozen=True)
class MergeResult:
    survivor: Lead
    merge: LeadMerge


def lead_forwarded_to(*, lead_id: int) -> int | None:
    """The survivor a merged lead's id now answers with (None: it was never merged)."""
    return (
        LeadMerge.objects.filter(merged_lead_id=lead_id)
        .values_list("survivor_id", flat=True)
        .first()
    )


def _latest_event_key(lead: Lead) -> tuple[datetime, int] | None:
    event = lead.stage_events.order_by("-occurred_at", "-id").values("occurred_at", "id").first()
    return (event["occurred_at"], event["id"]) if event else None


def _relations() -> list[tuple[Any, str]]:
    """Every model with a foreign key to Lead, and the key's name."""
    return [
        (relation.related_model, relation.field.name)
        for relation in Lead._meta.related_objects
        if isinstance(relation.field, ForeignKey)
    ]


def _snapshot(lead: Lead) -> dict[str, Any]:
    fields = model_to_dict(lead)
    fields["created_at"] = lead.created_at
    return json.loads(json.dumps(fields, cls=DjangoJSONEncoder))


def lead_merge_preview(*, survivor: Lead, duplicate: Lead) -> dict[str, int]:
    """How many rows of each kind the duplicate would bring (label → count), for the page."""
    counts: dict[str, int] = {}
    for model, field in _relations():
        count = model._default_manager.filter(**{field: duplicate}).count()
        if count:
            counts[str(model._meta.verbose_name_plural)] = count
    return counts


@transaction.atomic
def lead_merge(
    *,
    survivor: Lead,
    duplicate: Lead,
    actor: User,
    reason: str,
    at: datetime | None = None,
) -> MergeResult:
    """Merge `duplicate` into `survivor`, keeping every record of both.

    Only a sales or marketing manager merges, with a written reason. The survivor keeps
    its own contact fields and takes the duplicate's where its own are blank (each fill
    recorded as an edit); the funnel position (stage, its clock, owner) is that of the
    lead that moved last, so the newest stage event still names the lead's stage; each
    stage's entry moment is the later of the two. Both rows are locked; a merge that
    would leave the funnel's invariants broken (a won deal on a lead that is not won, an
    open deal on a lost lead…) is refused and changes nothing. The survivor is rescored
    over both leads' touches.
    """
    refusal = lead_merge_refusal(user=actor)
    if refusal:
        raise PermissionDenied(refusal)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why these are the same person.")]
    if survivor.pk == duplicate.pk:
        errors["duplicate"] = [_("A lead cannot be merged into itself.")]
    if errors:
        raise ValidationError(errors)
    at = at or timezone.now()
    locked = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
    }
    if duplicate.pk not in locked or survivor.pk not in locked:
        raise ValidationError({"duplicate": [_("One of the leads no longer exists.")]})
    keep, gone = locked[survivor.pk], locked[duplicate.pk]

    filled: dict[str, list[Any]] = {}
    for name in _FILLED:
        mine, theirs = getattr(keep, name), getattr(gone, name)
        if mine in (None, "") and theirs not in (None, ""):
            filled[name] = [value_as_recorded(mine), value_as_recorded(theirs)]
    if keep.source == "unknown" and gone.source != "unknown":
        filled["source"] = [keep.source, gone.source]
    keep.custom_fields = {**(gone.custom_fields or {}), **(keep.custom_fields or {})}

    mine_last, theirs_last = _latest_event_key(keep), _latest_event_key(gone)
    take_theirs = theirs_last is not None and (mine_last is None or theirs_last > mine_last)
    for name in _STAGE_CLOCK if take_theirs else []:
        setattr(keep, name, getattr(gone, name))
    if keep.owner_id is None and gone.owner_id is not None:
        keep.owner, keep.assigned_at = gone.owner, gone.assigned_at
    for moment in STAGE_MOMENTS:
        moments = [m for m in (getattr(keep, moment), getattr(gone, moment)) if m]
        setattr(keep, moment, max(moments) if moments else None)
    for name, pick in (("last_activity_at", max), ("next_follow_up_at", min)):
        moments = [m for m in (getattr(keep, name), getattr(gone, name)) if m]
        setattr(keep, name, pick(moments) if moments else None)
    keep.created_at = min(keep.created_at, gone.created_at)

    moved: dict[str, int] = {}
    try:
        with transaction.atomic():
            for model, field in _relations():
                count = model._default_manager.filter(**{field: gone}).update(**{field: keep})
                if count:
                    moved[model._meta.label_lower] = count
    except IntegrityError:
        raise ValidationError(
            {"duplicate": [_("Both leads hold the same SLA breach; they cannot be merged.")]}
        ) from None
    snapshot = _snapshot(gone)
    merge = LeadMerge.objects.create(
        survivor=keep,
        merged_lead_id=gone.pk,
        merged_email=gone.email,
        merged_external_id=gone.external_id or "",
        snapshot=snapshot,
        moved=moved,
        reason=reason,
        actor=actor,
        occurred_at=at,
    )
    Lead.objects.filter(pk=gone.pk).delete()  # its rows have all moved: nothing cascades
    for name in filled:
        setattr(keep, name, getattr(gone, name))
    keep.save()
    if filled:
        LeadEdit.objects.create(
            lead=keep, changes=filled, actor=actor, source=LeadEdit.Source.MERGE, occurred_at=at
        )
    problems = lead_invariant_problems(lead_id=keep.pk)
    if problems:
        raise ValidationError(
            {
                "duplicate": [
                    _("Merged, these leads would break the funnel's rules: %(problems)s")
                    % {"problems": " ".join(problems)}
                ]
            }
        )
    lead_score_refresh(lead=keep)
    survivor.refresh_from_db()
    return MergeResult(survivor=keep, merge=merge)
