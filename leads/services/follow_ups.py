"""Follow-ups: what a rep did on a lead, and what it does to the SLA clock.

A contact as the agreement defines it stops the running clock (in time: credit; late: a
breach); an attempt is logged as effort and the clock runs on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import lead_work_refusal
from alignment.agreement.selectors import Funnel, funnel_active
from alignment.models import StageKey
from config.dates import dates_collect, history_moment_check, planned_date_check
from config.events import publish
from leads.events import FollowUpLogged
from leads.models import FollowUp, FollowUpKind, FollowUpOutcome, Lead
from leads.services.sla import sla_breach_record


def follow_up_is_contact(*, agreement: Any, kind: str, outcome: str) -> bool:
    """Whether a follow-up is a contact with the buyer as the agreement defines it (it
    stops the SLA clock and earns credit); anything else is an attempt, shown as effort."""
    return outcome in (agreement.contact_outcomes or {}).get(kind, [])


# A follow-up may be logged a little ahead of the server clock (a phone's clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)


@transaction.atomic
def follow_up_log(
    *,
    lead: Lead,
    author: User,
    kind: str,
    outcome: str,
    notes: str = "",
    occurred_at: datetime | None = None,
    next_step: str = "",
    next_follow_up_at: datetime | None = None,
    funnel: Funnel | None = None,
) -> FollowUp:
    """Record a rep's action on a lead (owner or sales manager only).

    A contact as the agreement defines it (by default a connected call, a meeting,
    visit, demo or joint call, an email the lead answered) stops the stage's running
    SLA clock: in time, it earns the rep credit (`within_sla`); late, the breach is
    recorded now (once, like the beat job would). The first contact after an MQL's
    assignment is the lead's first follow-up (the response time). An attempt (no
    answer, a left message, a note) is logged as effort; the clock runs on.
    """
    refusal = lead_work_refusal(user=author, lead=lead)
    if refusal:
        raise PermissionDenied(refusal)
    now = timezone.now()
    occurred_at = occurred_at or now
    errors: dict[str, list[str]] = {}
    if kind not in FollowUpKind.values:
        errors["kind"] = [_("Choose one of the offered kinds.")]
    if outcome not in FollowUpOutcome.values:
        errors["outcome"] = [_("Choose what came of it.")]
    if occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [_("A follow-up cannot happen in the future.")]
    else:
        dates_collect(errors, history_moment_check, occurred_at, "occurred_at")
    dates_collect(errors, planned_date_check, next_follow_up_at, "next_follow_up_at")
    if (
        "next_follow_up_at" not in errors
        and next_follow_up_at is not None
        and next_follow_up_at <= occurred_at
    ):
        errors["next_follow_up_at"] = [_("The next follow-up must come after this one.")]
    if errors:
        raise ValidationError(errors)

    agreement = (funnel or funnel_active()).agreement
    is_contact = follow_up_is_contact(agreement=agreement, kind=kind, outcome=outcome)
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    within_sla: bool | None = None
    stops_clock = (
        is_contact
        and locked.sla_due_at is not None
        and (locked.stage_entered_at is None or occurred_at >= locked.stage_entered_at)
    )
    if stops_clock:
        due = locked.sla_due_at
        assert due is not None  # stops_clock checked it
        within_sla = occurred_at <= due
        if not within_sla:
            sla_breach_record(lead=locked, stage=locked.stage, due_at=due, detected_at=now)
        locked.sla_due_at = None
    if (
        is_contact
        and locked.stage == StageKey.MQL
        and locked.first_follow_up_at is None
        and (locked.assigned_at is None or occurred_at >= locked.assigned_at)
    ):
        locked.first_follow_up_at = occurred_at
    if locked.last_activity_at is None or occurred_at > locked.last_activity_at:
        locked.last_activity_at = occurred_at
    if next_follow_up_at is not None:
        locked.next_follow_up_at = next_follow_up_at
    elif (
        kind != FollowUpKind.NOTE
        and locked.next_follow_up_at is not None
        and timezone.localdate(locked.next_follow_up_at) <= timezone.localdate(occurred_at)
    ):
        # The planned follow-up was due by today and this is it: nothing is planned now.
        locked.next_follow_up_at = None
    locked.save(
        update_fields=[
            "sla_due_at",
            "first_follow_up_at",
            "last_activity_at",
            "next_follow_up_at",
            "updated_at",
        ]
    )
    for name in ("sla_due_at", "first_follow_up_at", "last_activity_at", "next_follow_up_at"):
        setattr(lead, name, getattr(locked, name))
    follow_up = FollowUp.objects.create(
        lead=locked,
        author=author,
        kind=kind,
        outcome=outcome,
        notes=notes,
        occurred_at=occurred_at,
        next_step=next_step,
        next_follow_up_at=next_follow_up_at,
        within_sla=within_sla,
        is_contact=is_contact,
    )
    publish(FollowUpLogged(follow_up_id=follow_up.pk, lead_id=locked.pk, is_contact=is_contact))
    return follow_up
