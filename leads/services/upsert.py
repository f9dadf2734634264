"""Create-or-update of a lead by its natural keys (the API's ?upsert=true, the importer)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from leads.models import Lead, LeadEdit, StageEvent
from leads.selectors import leads_by_keys, leads_with_counted_history, leads_with_email
from leads.services.errors import LeadConflict
from leads.services.lifecycle import EDITABLE_FIELDS, lead_create, lead_update


def lead_match(*, external_id: str | None, email: str) -> Lead | None:
    """The lead these keys name: by external id when given and known, else by email (any
    case); a merged duplicate's keys name its survivor (leads_by_keys)."""
    by_external, by_email = leads_by_keys(external_ids=[external_id], emails=[email])
    return (by_external.get(external_id) if external_id else None) or by_email.get(
        (email or "").strip().lower()
    )


def lead_changes(*, lead: Lead, data: dict[str, Any]) -> dict[str, Any]:
    """The editable fields of `data` whose value differs from the lead's. A merged
    duplicate's old e-mail or external id that found this lead (leads_by_keys) is not a
    change: the survivor keeps its own."""
    changes: dict[str, Any] = {}
    merged_keys: set[str] = getattr(lead, "merged_keys", set())
    for name, value in data.items():
        if name not in EDITABLE_FIELDS:
            continue
        if name in ("email", "external_id") and (value or "").strip().lower() in {
            key.lower() for key in merged_keys
        }:
            continue
        current = getattr(lead, name)
        if name == "email":
            if (value or "").strip().lower() == lead.email.lower():
                continue
        elif name == "country" and isinstance(value, str):
            value = value.upper()
        elif name == "campaign":
            current = lead.campaign_id
            value = getattr(value, "pk", value)
        if current != value:
            changes[name] = data[name]
    return changes


@transaction.atomic
def lead_upsert(
    *,
    data: dict[str, Any],
    actor: User | None,
    source: str = StageEvent.Source.API,
    score: bool = True,
) -> tuple[Lead, str]:
    """Create the lead, or update the one matching its external id / email.

    Returns the lead and what happened: "created", "updated" or "unchanged"; running it
    twice with the same data changes nothing the second time. Raises LeadConflict when
    the external id names one lead and the email another.
    """
    existing = lead_match(external_id=data.get("external_id"), email=data.get("email") or "")
    if existing is None:
        return lead_create(data=data, actor=actor, source=source, score=score), "created"
    email = (data.get("email") or "").strip()
    if email and email.lower() != existing.email.lower():
        other = leads_with_email(email=email).exclude(pk=existing.pk).first()
        if other is not None:
            raise LeadConflict(
                _("The external id belongs to one lead and the email to another."),
                lead_id=other.pk,
            )
    changes = lead_changes(lead=existing, data=data)
    if not changes:
        return existing, "unchanged"
    edit_source = (
        LeadEdit.Source.IMPORT if source == StageEvent.Source.IMPORT else LeadEdit.Source.API
    )
    updated = lead_update(lead=existing, data=changes, actor=actor, score=score, source=edit_source)
    return updated, "updated"


def lead_delete(*, lead: Lead) -> None:
    """Delete a lead nobody has acted on (spam, a test entry, an untouched duplicate).

    Refused (LeadConflict) once it has history beyond its creation, a stage change, a
    follow-up, a breach, a deal, a correction, a dispute or intel: the records the
    metrics count are append-only, on every path (the API and the admin alike).
    """

    if leads_with_counted_history(lead_ids=[lead.pk]):
        raise LeadConflict(
            _(
                "This lead has a history both teams are measured by (stage changes, "
                "follow-ups, deals…); it cannot be deleted. Disqualify it instead."
            ),
            lead_id=lead.pk,
        )
    try:
        lead.delete()
    except ProtectedError:
        raise LeadConflict(
            _("This lead has deals; close or remove them before deleting it."), lead_id=lead.pk
        ) from None
