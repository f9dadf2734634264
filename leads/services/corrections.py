"""Corrections of the records the metrics count: the change and its audit row together.

A closed deal's figures (amount, close date, gross margin, lost reason) are what the
revenue, win rate, deal size and sales cycle read. They are never edited in place: a
sales manager corrects them here with a written reason, and a `Correction` row (who,
when, why, each field's value before and after) is written in the same transaction, so
the lead's timeline shows every correction beside the history it corrects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import user_is_sales_manager
from alignment.agreement.selectors import Funnel, funnel_active
from alignment.models import ReasonKind
from config.dates import dates_collect, history_moment_check
from leads.models import Correction, Deal, DealOutcome
from leads.services.deals import money_parse


def user_may_correct(*, user: User) -> bool:
    """Whether `user` may correct a counted record: a sales manager or a superuser."""
    return bool(user.is_authenticated and user_is_sales_manager(user))


def _stored(value: Any) -> Any:
    """A value as the correction's JSON keeps it: amounts as exact strings, moments in UTC."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


@transaction.atomic
def deal_correct(
    *,
    deal: Deal,
    actor: User,
    reason: str,
    amount: Any = None,
    closed_at: datetime | None = None,
    gross_margin: Any = None,
    lost_reason: str | None = None,
    funnel: Funnel | None = None,
) -> Correction:
    """Correct a closed deal's figures and record the correction (who, when, why, what).

    Only a sales manager or a superuser corrects; a reason is required. An argument left
    None keeps that figure; a value equal to the current one is no change, and a
    correction that changes nothing is refused. The deal row is locked, so two
    corrections at once apply one after the other, each recorded against the figures it
    found. The stage history is not rewritten: a corrected close date moves the deal in
    the metrics (revenue, win rate, sales cycle), the stage events stay as recorded.
    """
    if not user_may_correct(user=actor):
        raise PermissionDenied(_("Only a sales manager may correct a closed deal."))
    locked = Deal.objects.select_for_update().select_related("lead").get(pk=deal.pk)
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why the figures are corrected.")]
    if locked.outcome == DealOutcome.OPEN:
        errors[NON_FIELD_ERRORS] = [
            _("Only a closed deal is corrected; an open deal's figures are simply changed.")
        ]

    new_amount = money_parse(amount, "amount", errors)
    if new_amount is not None and new_amount < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    new_margin = money_parse(gross_margin, "gross_margin", errors)
    amount_after = new_amount if new_amount is not None else locked.amount
    margin_after = new_margin if new_margin is not None else locked.gross_margin
    if (
        "amount" not in errors
        and "gross_margin" not in errors
        and margin_after is not None
        and margin_after > amount_after
    ):
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]

    if closed_at is not None:
        if timezone.is_naive(closed_at):
            closed_at = timezone.make_aware(closed_at)
        if closed_at > timezone.now():
            errors["closed_at"] = [_("A deal cannot close in the future.")]
        else:
            dates_collect(errors, history_moment_check, closed_at, "closed_at")
        if "closed_at" not in errors and closed_at < locked.lead.created_at:
            errors["closed_at"] = [_("A deal cannot close before its lead was created.")]

    if lost_reason is not None:
        lost_reason = lost_reason.strip()
        if locked.outcome == DealOutcome.WON:
            errors["lost_reason"] = [_("A won deal has no lost reason.")]
        elif locked.outcome == DealOutcome.LOST:
            try:
                codes = (funnel or funnel_active()).reason_codes.get(ReasonKind.LOST, {})
            except LookupError:
                codes = {}
            if lost_reason not in codes:
                errors["lost_reason"] = [
                    _("A lost deal needs one of the agreed reasons: %(codes)s.")
                    % {"codes": ", ".join(codes) or "—"}
                ]
    if errors:
        raise ValidationError(errors)

    wanted = {
        "amount": new_amount,
        "closed_at": closed_at,
        "gross_margin": new_margin,
        "lost_reason": lost_reason,
    }
    changes: dict[str, list[Any]] = {}
    for field, after in wanted.items():
        before = getattr(locked, field)
        if after is None or after == before:
            continue
        changes[field] = [_stored(before), _stored(after)]
        setattr(locked, field, after)
    if not changes:
        raise ValidationError(
            {NON_FIELD_ERRORS: [_("Nothing to correct: the figures given are the deal's own.")]}
        )
    locked.save(update_fields=[*changes, "updated_at"])
    correction = Correction.objects.create(
        lead_id=locked.lead_id,
        record=Correction.Record.DEAL,
        record_id=locked.pk,
        changes=changes,
        reason=reason,
        actor=actor,
    )
    deal.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return correction
