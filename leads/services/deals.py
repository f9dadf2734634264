"""Deals: opening one on a sales-qualified lead, changing it while open, closing it.

The lead's stage follows its deals through the one stage service (opportunity while a
deal is open, won with a won deal, lost once none is open).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import lead_work_refusal
from alignment.agreement.selectors import Funnel, funnel_active
from alignment.models import ReasonKind, StageKey
from config.dates import dates_collect, history_moment_check, planned_date_check
from config.events import publish
from config.stored_text import DEAL_CLOSED, DEAL_OPENED, stored_text
from leads.events import DealClosed
from leads.models import Deal, DealOutcome, Lead, StageEvent
from leads.services.follow_ups import FUTURE_TOLERANCE
from leads.services.lifecycle import lead_transition


def money_parse(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    """An amount of money from a form, the API or a correction (None when empty); a value
    that is not a realistic amount goes into `errors` under `field`."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (ArithmeticError, ValueError):
        errors[field] = [_("Enter a number.")]
        return None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        errors[field] = [_("Enter a realistic amount.")]
        return None
    return amount.quantize(Decimal("0.01"))


# A deal is opened on a sales-qualified lead (an SQL moves to opportunity with it).
DEAL_OPENS_IN = (StageKey.SQL, StageKey.OPPORTUNITY)


def deal_can_open(*, lead: Lead) -> bool:
    return lead.stage in DEAL_OPENS_IN


@transaction.atomic
def deal_create(
    *,
    lead: Lead,
    actor: User,
    amount: Any,
    expected_close: date | None = None,
    name: str = "",
    gross_margin: Any = None,
    funnel: Funnel | None = None,
    at: datetime | None = None,
) -> Deal:
    """Open a deal on a lead in SQL or opportunity; an SQL lead moves to opportunity.

    The stage moves through the one stage service, so the agreed funnel decides.
    """
    refusal = lead_work_refusal(user=actor, lead=lead)
    if refusal:
        raise PermissionDenied(refusal)
    errors: dict[str, list[str]] = {}
    value = money_parse(amount, "amount", errors)
    if value is None and "amount" not in errors:
        errors["amount"] = [_("A deal needs an amount.")]
    elif value is not None and value < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    margin = money_parse(gross_margin, "gross_margin", errors)
    if margin is not None and value is not None and margin > value:
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]
    dates_collect(errors, planned_date_check, expected_close, "expected_close")
    if not deal_can_open(lead=lead):
        errors["lead"] = [
            _("A deal needs a sales-qualified lead; this one is %(stage)s.")
            % {"stage": lead.get_stage_display()}
        ]
    if errors:
        raise ValidationError(errors)
    assert value is not None  # else an amount error was raised above
    at = at or timezone.now()
    deal = Deal.objects.create(
        lead=lead,
        owner_id=lead.owner_id or actor.pk,
        name=name or f"{lead.company or lead.full_name}",
        amount=value,
        gross_margin=margin,
        expected_close=expected_close,
        created_at=at,
    )
    if lead.stage != StageKey.OPPORTUNITY:
        lead_transition(
            lead=lead,
            to_stage=StageKey.OPPORTUNITY,
            actor=actor,
            reason=stored_text(sentence=DEAL_OPENED),
            funnel=funnel,
            at=at,
        )
    return deal


@transaction.atomic
def deal_update(
    *,
    deal: Deal,
    actor: User,
    amount: Any = None,
    expected_close: date | None = None,
    name: str | None = None,
    gross_margin: Any = None,
    outcome: str | None = None,
    lost_reason: str = "",
    closed_at: datetime | None = None,
    source: str = StageEvent.Source.MANUAL,
) -> Deal:
    """Change a deal: an open deal's amount, expected close, name or gross margin, and/or
    its outcome (won, or lost with an agreed reason: `deal_close`, whose stage move
    follows). A closed deal neither changes nor reopens. The API's PATCH is this call.
    """
    refusal = lead_work_refusal(user=actor, lead=deal.lead)
    if refusal:
        raise PermissionDenied(refusal)
    if outcome == DealOutcome.OPEN and deal.outcome != DealOutcome.OPEN:
        raise ValidationError({"outcome": [_("A closed deal cannot be reopened.")]})
    closing = outcome in (DealOutcome.WON, DealOutcome.LOST)
    fields = {"amount": amount, "expected_close": expected_close, "name": name}
    if not closing:
        fields["gross_margin"] = gross_margin  # when closing, the margin is the close's
    if any(value is not None for value in fields.values()):
        deal = _deal_fields_set(deal=deal, **fields)
    if closing:
        assert outcome is not None  # closing: won or lost
        deal = deal_close(
            deal=deal,
            actor=actor,
            outcome=outcome,
            lost_reason=lost_reason,
            gross_margin=gross_margin,
            closed_at=closed_at,
            source=source,
        )
    return deal


def _deal_fields_set(
    *,
    deal: Deal,
    amount: Any = None,
    expected_close: date | None = None,
    name: str | None = None,
    gross_margin: Any = None,
) -> Deal:
    errors: dict[str, list[str]] = {}
    if deal.outcome != DealOutcome.OPEN:
        errors["outcome"] = [_("A closed deal cannot change.")]
    value = money_parse(amount, "amount", errors)
    if value is not None and value < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    margin = money_parse(gross_margin, "gross_margin", errors)
    if margin is not None and margin > (value if value is not None else deal.amount):
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]
    dates_collect(errors, planned_date_check, expected_close, "expected_close")
    if errors:
        raise ValidationError(errors)
    if value is not None:
        deal.amount = value
    if margin is not None:
        deal.gross_margin = margin
    if expected_close is not None:
        deal.expected_close = expected_close
    if name is not None:
        deal.name = name
    deal.save()
    return deal


@transaction.atomic
def deal_close(
    *,
    deal: Deal,
    actor: User,
    outcome: str,
    lost_reason: str = "",
    gross_margin: Any = None,
    closed_at: datetime | None = None,
    funnel: Funnel | None = None,
    amount: Any = None,
    source: str = StageEvent.Source.MANUAL,
) -> Deal:
    """Close an open deal as won or lost (lost: an agreed lost reason code).

    A win moves the lead to `won`; a loss moves it to `lost` once no other deal of the
    lead is open. Both go through the stage service; DealClosed is announced once per
    deal (the deal.won/deal.lost webhook).
    """
    locked = Deal.objects.select_for_update().select_related("lead").get(pk=deal.pk)
    lead = locked.lead
    refusal = lead_work_refusal(user=actor, lead=lead)
    if refusal:
        raise PermissionDenied(refusal)
    funnel = funnel or funnel_active()
    errors: dict[str, list[str]] = {}
    if locked.outcome != DealOutcome.OPEN:
        errors["outcome"] = [
            _("This deal is already closed (%(outcome)s).")
            % {"outcome": locked.get_outcome_display()}
        ]
    elif outcome not in (DealOutcome.WON, DealOutcome.LOST):
        errors["outcome"] = [_("Close a deal as won or lost.")]
    codes = funnel.reason_codes.get(ReasonKind.LOST, {})
    lost_reason = (lost_reason or "").strip()
    if outcome == DealOutcome.LOST and lost_reason not in codes:
        errors["lost_reason"] = [
            _("A lost deal needs one of the agreed reasons: %(codes)s.")
            % {"codes": ", ".join(codes)}
        ]
    final = money_parse(amount, "amount", errors)
    if final is not None and final < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    margin = money_parse(gross_margin, "gross_margin", errors)
    if margin is not None and margin > (final if final is not None else locked.amount):
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]
    closed_at = closed_at or timezone.now()
    if closed_at > timezone.now() + FUTURE_TOLERANCE:
        errors["closed_at"] = [_("A deal cannot close in the future.")]
    else:
        dates_collect(errors, history_moment_check, closed_at, "closed_at")
    if (
        outcome == DealOutcome.WON
        and lead.stage != StageKey.WON
        and not funnel.allows(lead.stage, StageKey.WON)
    ):
        errors["outcome"] = [
            _("The agreed funnel does not let a lead in %(stage)s be won.")
            % {"stage": lead.get_stage_display()}
        ]
    if errors:
        raise ValidationError(errors)
    locked.outcome = outcome
    locked.closed_at = closed_at
    locked.lost_reason = lost_reason if outcome == DealOutcome.LOST else ""
    if final is not None:
        locked.amount = final
    if margin is not None:
        locked.gross_margin = margin
    locked.save()
    target = StageKey.WON if outcome == DealOutcome.WON else StageKey.LOST
    others_open = lead.deals.filter(outcome=DealOutcome.OPEN).exclude(pk=locked.pk).exists()
    moves = lead.stage != target and funnel.allows(lead.stage, target)
    if moves and (target == StageKey.WON or not others_open):
        lead_transition(
            lead=lead,
            to_stage=target,
            actor=actor,
            reason_code=lost_reason if target == StageKey.LOST else "",
            reason=stored_text(sentence=DEAL_CLOSED, deal=locked.name or f"#{locked.pk}"),
            at=closed_at,
            funnel=funnel,
            source=source,
        )
    publish(DealClosed(deal_id=locked.pk, lead_id=lead.pk, outcome=outcome))
    deal.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked
