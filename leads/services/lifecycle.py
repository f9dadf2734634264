"""A lead's life: creating it, editing it, scoring it and moving it along the agreed funnel.

`lead_transition` is the one door every stage move goes through (pages, the API, the
importer, the admin, tasks), and so the place the agreement is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import (
    actor_team,
    dispute_overturn_refusal,
    lead_can_edit,
    lead_claim_refusal,
    may_override,
    move_refusal,
)
from alignment.agreement.scoring import score_compute
from alignment.agreement.selectors import Funnel, funnel_active, reason_kind_for
from alignment.models import Dispute, ReasonKind, StageKey
from campaigns.models import Campaign
from config.countries import country_code_clean
from config.events import publish
from config.stored_text import SCORE_REACHED, SCORE_REACHED_UNDER, stored_text
from leads.events import LeadCreated, LeadTransitioned
from leads.models import Lead, LeadEdit, StageEvent
from leads.selectors import leads_with_email
from leads.services.assignment import (
    lead_assign_round_robin,
    lead_claim,
    territory_for_country,
    territory_for_lead,
)
from leads.services.criteria import deal_entry_refusal, mql_entry_check
from leads.services.errors import LeadConflict
from leads.services.sla import sla_breach_record, sla_due_compute

# Fields a lead's creator may set; stage, score, owner and history go through services.
EDITABLE_FIELDS = [
    "email",
    "external_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "industry",
    "company_size",
    "source",
    "campaign",
    "custom_fields",
]


# --- the stage service -------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionResult:
    lead: Lead
    event: StageEvent


@transaction.atomic
def lead_transition(
    *,
    lead: Lead,
    to_stage: str,
    actor: User | None,
    reason_code: str = "",
    reason: str = "",
    source: str = StageEvent.Source.MANUAL,
    at: datetime | None = None,
    funnel: Funnel | None = None,
    override_reason: str = "",
    dispute: Dispute | None = None,
) -> TransitionResult:
    """Move a lead along the agreed funnel, or refuse with a ValidationError (or
    PermissionDenied when `actor`'s role may not make this move).

    The one door every path goes through, and so the place the agreement is enforced:
    the agreed transitions; who decides (only sales accepts or rejects an MQL); each
    stage's entry criterion (MQL: the score and must rules, a rejected lead's rest
    period; opportunity/won/lost: the lead's deals); reason codes for rejections,
    losses and disqualifications. A marketing manager may move a lead into `mql` past
    its criterion with a written `override_reason`, recorded on the event. With `dispute`
    (decided in marketing's favour), `actor` is its arbiter accepting the MQL whose
    rejection the decision overturned (`dispute_overturn_refusal`), and no other move.

    Records the stage event, stamps the stage's entry time, sets or clears the SLA
    clock, and routes a new MQL to a rep. The lead row is locked, so two moves of one
    lead queue up; a refused move changes nothing.
    """
    funnel = funnel or funnel_active()
    at = at or timezone.now()
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    from_stage = locked.stage
    if to_stage not in StageKey.values:
        raise ValidationError(
            {"to": [_("“%(stage)s” is not a funnel stage.") % {"stage": to_stage}]}
        )
    if not funnel.allows(from_stage, to_stage):
        allowed = ", ".join(sorted(funnel.transitions.get(from_stage, []))) or _("none")
        raise ValidationError(
            {
                "to": [
                    _(
                        "The agreed funnel does not allow %(from)s → %(to)s. "
                        "From %(from)s a lead may move to: %(allowed)s."
                    )
                    % {"from": from_stage, "to": to_stage, "allowed": allowed}
                ]
            }
        )
    if dispute is None:
        refusal = move_refusal(user=actor, lead=locked, from_stage=from_stage, to_stage=to_stage)
    else:
        refusal = dispute_overturn_refusal(
            user=actor, dispute=dispute, lead=locked, from_stage=from_stage, to_stage=to_stage
        )
    if refusal:
        raise PermissionDenied(refusal)
    kind = reason_kind_for(from_stage=from_stage, to_stage=to_stage)
    codes = funnel.reason_codes.get(kind, {}) if kind else {}
    if kind and reason_code not in codes:
        message = (
            _("A reason is required; choose one of: %(codes)s.")
            if not reason_code
            else _("“%(code)s” is not an agreed reason; choose one of: %(codes)s.")
        )
        raise ValidationError(
            {"reason": [message % {"code": reason_code, "codes": ", ".join(codes)}]}
        )
    refusal = deal_entry_refusal(lead=locked, to_stage=to_stage)
    if refusal:
        raise ValidationError({"to": [refusal]})
    override_reason = (override_reason or "").strip()
    override = False
    if to_stage == StageKey.MQL:
        check = mql_entry_check(lead=locked, funnel=funnel, at=at)
        if not check.passes:
            if not override_reason:
                hint = (
                    _("A marketing manager may override it with a written reason.")
                    if source != StageEvent.Source.AUTOMATIC
                    else ""
                )
                raise ValidationError(
                    {"to": [" ".join([_("Not an MQL yet:"), *check.problems, hint]).strip()]}
                )
            if not may_override(actor):
                raise PermissionDenied(_("Only a marketing manager may override the MQL criteria."))
            override = True
    elif override_reason:
        raise ValidationError({"override_reason": [_("Only a move into MQL can be an override.")]})
    event = StageEvent.objects.create(
        lead=locked,
        from_stage=from_stage,
        to_stage=to_stage,
        occurred_at=at,
        actor=actor,
        actor_team=actor_team(actor) if source != StageEvent.Source.IMPORT else "",
        reason_code=reason_code if kind else "",
        reason="\n".join(part for part in (override_reason, reason) if part),
        agreement=funnel.agreement,
        source=source,
        override=override,
        score=locked.score,
    )
    if locked.sla_due_at is not None and locked.sla_due_at < at:
        # Left the stage after its deadline: the breach counts even if no check ran since.
        sla_breach_record(lead=locked, stage=from_stage, due_at=locked.sla_due_at, detected_at=at)
    locked.stage = to_stage
    locked.stage_entered_at = at
    setattr(locked, f"{to_stage}_at", at)
    locked.sla_due_at = sla_due_compute(
        agreement=funnel.agreement, hours=funnel.sla_hours(to_stage), start=at
    )
    if kind == ReasonKind.REJECTION:
        rest_days = (
            funnel.agreement.reason_codes.filter(kind=kind, code=reason_code)
            .values_list("rest_days", flat=True)
            .first()
        )
        locked.rest_until = at + timedelta(days=rest_days or 0) if rest_days else None
    if to_stage == StageKey.MQL:
        locked.rest_until = None
        locked.qualified_under = funnel.agreement
        locked.first_follow_up_at = None
        if locked.owner_id is None:
            lead_assign_round_robin(lead=locked, at=at)
        else:
            locked.assigned_at = at
    locked.save()
    # Keep the caller's instance in step with the database.
    synced = [
        "stage", "stage_entered_at", f"{to_stage}_at", "sla_due_at", "owner_id",
        "territory_id", "assigned_at", "qualified_under_id", "first_follow_up_at",
        "rest_until",
    ]  # fmt: skip
    for name in synced:
        setattr(lead, name, getattr(locked, name))
    publish(
        LeadTransitioned(
            lead_id=locked.pk,
            stage_event_id=event.pk,
            from_stage=from_stage,
            to_stage=to_stage,
            actor_id=actor.pk if actor is not None else None,
        )
    )
    return TransitionResult(lead=locked, event=event)


# --- scoring -----------------------------------------------------------------------------


def lead_score_refresh(
    *, lead: Lead, funnel: Funnel | None = None, now: datetime | None = None
) -> Lead:
    """Rescore one lead and, if it now qualifies, make it an MQL through the stage service."""
    funnel = funnel or funnel_active()
    touches = lead.touches.values_list("kind", "occurred_at") if lead.pk else []
    qualifies = _score_set(lead=lead, funnel=funnel, touches=touches, now=now)
    Lead.objects.filter(pk=lead.pk).update(
        score=lead.score, score_breakdown=lead.score_breakdown, scored_at=lead.scored_at
    )
    if qualifies:
        lead_promote_if_qualified(lead=lead, funnel=funnel, at=now)
    return lead


def _score_set(*, lead: Lead, funnel: Funnel, touches: Any, now: datetime | None = None) -> bool:
    """Score `lead` on the instance (not saved); whether the score and must rules pass."""
    result = score_compute(lead=lead, rules=funnel.rules, touches=touches, now=now)
    lead.score, lead.score_breakdown, lead.scored_at = (
        result.score,
        result.breakdown,
        timezone.now(),
    )
    return result.score >= funnel.agreement.mql_threshold and result.passes_must_rules


def lead_promote_if_qualified(
    *, lead: Lead, funnel: Funnel, at: datetime | None = None, name_version: bool = False
) -> bool:
    """Make a lead an MQL automatically when it meets the agreed criterion at `at`.

    The one automatic path into `mql` (scoring, the nightly rescore, the importer, the
    demo): a lead in inquiry or recycled whose stored score and must rules pass, and, if
    it was recycled, whose rest is over with engagement since. Returns whether it moved;
    a lead that does not qualify (or moved meanwhile) is left as it is, no error. Running
    it twice moves the lead once.
    """
    at = at or timezone.now()
    if lead.stage not in (StageKey.INQUIRY, StageKey.RECYCLED):
        return False
    if not funnel.allows(lead.stage, StageKey.MQL):
        return False
    if not mql_entry_check(lead=lead, funnel=funnel, at=at).passes:
        return False  # e.g. a rejected lead still resting
    agreement = funnel.agreement
    sentence, extra = (
        (SCORE_REACHED_UNDER, {"v": agreement.version}) if name_version else (SCORE_REACHED, {})
    )
    try:
        lead_transition(
            lead=lead,
            to_stage=StageKey.MQL,
            actor=None,
            source=StageEvent.Source.AUTOMATIC,
            reason=stored_text(
                sentence=sentence, score=lead.score, threshold=agreement.mql_threshold, **extra
            ),
            funnel=funnel,
            at=at,
        )
    except ValidationError:
        return False  # someone moved it in the meantime: the stage service refused
    return True


# --- create and update -------------------------------------------------------------------


def lead_find_by_email(email: str) -> Lead | None:
    return leads_with_email(email=email.strip()).first()


@transaction.atomic
def lead_create(
    *,
    data: dict[str, Any],
    actor: User | None,
    source: str = StageEvent.Source.MANUAL,
    created_at: datetime | None = None,
    score: bool = True,
    claim: bool = False,
) -> Lead:
    """Create a lead in `inquiry` (or raise LeadConflict if its email exists, any case, or
    its external id does).

    `data` holds EDITABLE_FIELDS plus optional utm_source/utm_medium/utm_campaign, which
    set the first-touch campaign when none is given. With `claim`, the actor (a rep who
    met the person) owns the new lead at once, as a claim would make them.
    """
    email = (data.get("email") or "").strip()
    existing = lead_find_by_email(email)
    if existing:
        raise LeadConflict(_("A lead with this email already exists."), lead_id=existing.pk)
    external_id = data.get("external_id")
    existing = Lead.objects.filter(external_id=external_id).first() if external_id else None
    if existing:
        raise LeadConflict(_("A lead with this external id already exists."), lead_id=existing.pk)
    fields = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    fields["email"] = email
    if "external_id" in fields:
        fields["external_id"] = external_id or None  # blank is no id (the index is unique)
    if fields.get("country"):
        fields["country"] = country_code_clean(fields["country"])
    if not fields.get("campaign"):
        fields["campaign"] = Campaign.objects.for_utm(  # the one UTM → campaign rule
            **{k: data.get(k) or "" for k in ("utm_source", "utm_medium", "utm_campaign")}
        )
    at = created_at or timezone.now()
    lead = Lead(**fields, created_by=actor, created_at=at, inquiry_at=at, stage_entered_at=at)
    claimer = actor if claim else None
    # A rep's own lead from a country no territory maps belongs where the rep works.
    lead.territory = territory_for_lead(
        country=lead.country, owner_id=claimer.pk if claimer is not None else None
    )
    # The e-mail and external id were looked up above (and the database's unique indexes
    # stand behind them); the related rows come from objects already in hand.
    lead.full_clean(
        exclude=["owner", "territory", "campaign", "qualified_under", "created_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    if claimer is not None and lead_claim_refusal(user=claimer) is None:
        # A rep may claim it only in a territory they work: said before anything is
        # written, on the claim (without it, the lead waits for its territory's reps).
        refusal = lead_claim_refusal(user=claimer, lead=lead)
        if refusal:
            raise ValidationError({"claim": [refusal]})
    # A new lead has no touches yet: scored before it is written, in the same INSERT.
    funnel = funnel_active() if score else None
    qualifies = funnel is not None and _score_set(lead=lead, funnel=funnel, touches=[])
    lead.save()
    StageEvent.objects.create(
        lead=lead, to_stage=StageKey.INQUIRY, occurred_at=at, actor=actor, source=source
    )
    publish(LeadCreated(lead_id=lead.pk))
    if claimer is not None:
        claimed = lead_claim(lead_id=lead.pk, user=claimer, at=at)
        lead.owner, lead.assigned_at = claimed.owner, claimed.assigned_at
    if qualifies and funnel is not None:
        lead_promote_if_qualified(lead=lead, funnel=funnel)
    return lead


def value_as_recorded(value: Any) -> Any:
    """A field's value as an edit record keeps it: a related row by name, JSON otherwise."""
    if isinstance(value, models.Model):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)


@transaction.atomic
def lead_update(
    *,
    lead: Lead,
    data: dict[str, Any],
    actor: User | None,
    score: bool = True,
    source: str = LeadEdit.Source.PAGE,
) -> Lead:
    """Change a lead's own fields (never stage, score or owner) and rescore it.

    Every change is recorded (a LeadEdit: each field's value before and after, who, by
    which path), so the lead's timeline shows it. PermissionDenied when `actor` may not
    edit this lead (see lead_can_edit).
    """
    if not lead_can_edit(user=actor, lead=lead):
        raise PermissionDenied(
            _("Only the lead's owner, a sales manager or marketing may edit it.")
        )
    changes: dict[str, list[Any]] = {}
    for name, value in data.items():
        if name not in EDITABLE_FIELDS:
            continue
        if name == "country" and value:
            value = country_code_clean(value)
        before = getattr(lead, name)
        if before != value:
            changes[name] = [value_as_recorded(before), value_as_recorded(value)]
            setattr(lead, name, value)
    changed = bool(changes)
    if "email" in data:
        other = leads_with_email(email=lead.email.strip()).exclude(pk=lead.pk).first()
        if other:
            raise LeadConflict(_("Another lead already has this email."), lead_id=other.pk)
    if "country" in data and lead.owner_id is None:
        lead.territory = territory_for_country(lead.country)
    if changed:
        lead.full_clean(exclude=["owner", "territory", "campaign", "qualified_under"])
        lead.save()
        LeadEdit.objects.create(lead=lead, changes=changes, actor=actor, source=source)
        if score:
            lead_score_refresh(lead=lead)
    return lead
