"""A person moving a lead: the one entry the lead page and the API both call.

`lead_move` takes the move as people give it (a reason code, or a code typed as the
reason; a note; for won or lost, the deal that decides it) and hands it to the stage
service (`lead_transition`) or, when a deal decides the outcome, to `deal_close`, whose
stage follows. Everything the agreement requires is checked there, once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import actor_team, dispute_overturn_refusal, stage_revert_refusal
from alignment.agreement.selectors import Funnel, NoActiveAgreement, funnel_active, reason_kind_for
from alignment.models import Dispute, ReasonKind, StageKey
from config.errors import NotConfigured
from config.events import publish
from leads.events import LeadTransitioned
from leads.integrity import lead_invariant_problems
from leads.models import Deal, DealOutcome, Lead, StageEvent
from leads.services.deals import deal_close
from leads.services.lifecycle import TransitionResult, lead_transition
from leads.services.sla import sla_due_compute


def funnel_for_moves() -> Funnel:
    """The agreed funnel, or NotConfigured (API: 409; page: a form error) when none is."""
    try:
        return funnel_active()
    except NoActiveAgreement:
        raise NotConfigured(_("No agreement is active, so no lead can move.")) from None


def lead_move(
    *,
    lead: Lead,
    to_stage: str,
    actor: User,
    reason_code: str = "",
    reason: str = "",
    note: str = "",
    override_reason: str = "",
    deal: int | None = None,
    amount: Decimal | Any = None,
    source: str = StageEvent.Source.MANUAL,
    funnel: Funnel | None = None,
) -> TransitionResult:
    """Move `lead` to `to_stage` as `actor` asks, or refuse (ValidationError with field
    errors, PermissionDenied for a role that may not, NotConfigured with no agreement).

    - A move that takes a reason (rejecting an MQL, lost, disqualified) needs one of the
      agreed codes, given as `reason_code` or typed as `reason`.
    - `deal` (with an optional final `amount`) wins or loses the lead by closing that
      open deal of the lead: only with a move to won or lost.
    """
    funnel = funnel or funnel_for_moves()
    reason_code, reason, note = (reason_code or "").strip(), (reason or "").strip(), note.strip()
    kind = reason_kind_for(from_stage=lead.stage, to_stage=to_stage)
    if kind and not reason_code and reason:
        # A code typed as the reason is the code; anything else is refused below with
        # the list of agreed codes.
        reason_code, reason = reason, ""
    if deal is not None:
        if to_stage not in (StageKey.WON, StageKey.LOST):
            raise ValidationError({"deal": [_("A deal is closed only by a move to won or lost.")]})
        found = Deal.objects.filter(pk=deal, lead=lead).first()
        if found is None:
            raise ValidationError({"deal": [_("This lead has no deal %(id)s.") % {"id": deal}]})
        deal_close(
            deal=found,
            actor=actor,
            outcome=DealOutcome.WON if to_stage == StageKey.WON else DealOutcome.LOST,
            lost_reason=reason_code,
            amount=amount,
            funnel=funnel,
            source=source,
        )
        lead.refresh_from_db()
        event = lead.stage_events.order_by("-occurred_at", "-id").first()
        return TransitionResult(lead=lead, event=event)  # type: ignore[arg-type]
    return lead_transition(
        lead=lead,
        to_stage=to_stage,
        actor=actor,
        reason_code=reason_code if kind else "",
        reason="\n".join(part for part in (reason, note) if part),
        source=source,
        funnel=funnel,
        override_reason=override_reason,
    )


def deal_deciding(*, lead: Lead, to_stage: str) -> Deal | None:
    """The open deal that decides a move to won or lost (the stage follows the deal): the
    page asks for its close instead of moving the stage."""
    if to_stage not in (StageKey.WON, StageKey.LOST):
        return None
    return lead.deals.filter(outcome=DealOutcome.OPEN).order_by("pk").first()


# --- reverting a move ----------------------------------------------------------------------


def _latest_event(lead: Lead) -> StageEvent | None:
    return lead.stage_events.order_by("-occurred_at", "-id").first()


def _revert_problem(*, lead: Lead, event: StageEvent, latest: StageEvent | None) -> str | None:
    """Why `event` may not be reverted (None: it may)."""
    if event.lead_id != lead.pk:
        return _("This move is not one of this lead's.")
    if not event.from_stage:
        return _("A lead's creation cannot be reverted.")
    if event.source == StageEvent.Source.REVERT:
        return _("A revert cannot itself be reverted: move the lead instead.")
    if StageEvent.objects.filter(reverts=event).exists():
        return _("This move has already been reverted.")
    if latest is None or latest.pk != event.pk:
        return _("Only the lead's latest move can be reverted.")
    if lead.stage != event.to_stage:
        return _("The lead is no longer in the stage this move took it to.")
    return None


def stage_move_revertable(*, lead: Lead) -> StageEvent | None:
    """The move of `lead` that may be reverted, if any: its latest stage event, unless that
    is its creation, a revert itself, or already reverted (the page offers it)."""
    latest = _latest_event(lead)
    if latest is None or _revert_problem(lead=lead, event=latest, latest=latest):
        return None
    return latest


@transaction.atomic
def stage_move_revert(
    *,
    lead: Lead,
    event: StageEvent,
    actor: User,
    reason: str,
    at: datetime | None = None,
    dispute: Dispute | None = None,
) -> TransitionResult:
    """A sales manager takes `lead` back to the stage its latest move (`event`) left, with
    a written reason; PermissionDenied for anyone else, ValidationError (field errors
    "reason" or "event") when it may not be reverted.

    Writes a new stage event (source "revert", linked to the move it reverts) and deletes
    nothing: the metrics count neither the revert nor the reverted move. The lead's stage,
    stage entry and SLA clock follow, as on a move; the reverted stage's entry time goes
    back to its entry before the move. A revert that would leave the lead breaking the
    funnel's invariants (a won lead with a won deal, an opportunity without an open deal)
    is refused and rolled back: the deal decides those stages, so it is the deal to close
    or correct. The lead row is locked: of two reverts of one move, the second is refused.

    With `dispute` (a dispute decided in marketing's favour), `actor` is its arbiter
    overturning the rejection it contested (`dispute_overturn_refusal`): the same rules,
    for that one move.
    """
    if dispute is None:
        refusal = stage_revert_refusal(user=actor)
    else:
        refusal = dispute_overturn_refusal(
            user=actor,
            dispute=dispute,
            lead=lead,
            from_stage=event.to_stage,
            to_stage=event.from_stage,
        )
    if refusal:
        raise PermissionDenied(refusal)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why this move is reverted.")]})
    funnel = funnel_for_moves()
    at = at or timezone.now()
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    event = StageEvent.objects.get(pk=event.pk)
    problem = _revert_problem(lead=locked, event=event, latest=_latest_event(locked))
    if problem is None and at < event.occurred_at:
        problem = _("A revert cannot come before the move it reverts.")
    if problem is None and dispute is not None and dispute.rejection_id != event.pk:
        problem = _("This move is not the rejection the dispute contested.")
    if problem:
        raise ValidationError({"event": [problem]})
    from_stage, to_stage = locked.stage, event.from_stage
    revert = StageEvent.objects.create(
        lead=locked,
        from_stage=from_stage,
        to_stage=to_stage,
        occurred_at=at,
        actor=actor,
        actor_team=actor_team(actor),
        reason=reason,
        agreement=event.agreement,
        source=StageEvent.Source.REVERT,
        reverts=event,
        score=locked.score,
    )
    # No SLA breach is booked for the stage left: the move into it is undone.
    earlier = (
        StageEvent.objects.filter(lead=locked, to_stage=from_stage, reverted_by__isnull=True)
        .order_by("-occurred_at", "-id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    setattr(locked, f"{from_stage}_at", earlier)
    locked.stage = to_stage
    locked.stage_entered_at = at
    setattr(locked, f"{to_stage}_at", at)
    locked.sla_due_at = sla_due_compute(
        agreement=funnel.agreement, hours=funnel.sla_hours(to_stage), start=at
    )
    if reason_kind_for(from_stage=event.from_stage, to_stage=event.to_stage) == (
        ReasonKind.REJECTION
    ):
        locked.rest_until = None  # the rejection that set the rest is undone
    locked.save()
    problems = lead_invariant_problems(lead_id=locked.pk)
    if problems:
        message = _("This move cannot be reverted: %(problems)s") % {"problems": " ".join(problems)}
        if locked.deals.exists():
            message = f"{message} {_('Close or correct the deal instead.')}"
        raise ValidationError({"event": [message]})
    synced = ["stage", "stage_entered_at", f"{from_stage}_at", f"{to_stage}_at", "sla_due_at",
              "rest_until"]  # fmt: skip
    for name in synced:
        setattr(lead, name, getattr(locked, name))
    publish(
        LeadTransitioned(
            lead_id=locked.pk,
            stage_event_id=revert.pk,
            from_stage=from_stage,
            to_stage=to_stage,
            actor_id=actor.pk,
        )
    )
    return TransitionResult(lead=locked, event=revert)
