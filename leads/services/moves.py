"""A person moving a lead: the one entry the lead page and the API both call.

`lead_move` takes the move as people give it (a reason code, or a code typed as the
reason; a note; for won or lost, the deal that decides it) and hands it to the stage
service (`lead_transition`) or, when a deal decides the outcome, to `deal_close`, whose
stage follows. Everything the agreement requires is checked there, once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from alignment.agreement.selectors import Funnel, NoActiveAgreement, funnel_active, reason_kind_for
from alignment.models import StageKey
from config.errors import NotConfigured
from leads.models import Deal, DealOutcome, Lead, StageEvent
from leads.services.deals import deal_close
from leads.services.lifecycle import TransitionResult, lead_transition


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
