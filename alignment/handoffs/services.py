"""The hand-off alert job: each open hand-off's owner is reminded once before it is due,
and its owner's manager (for disputes, the executive) is told once when it passes.

"Once" is a row: a HandoffAlert (kind, subject, due time, step) under a unique
constraint, inserted before anyone is told; a second run, or two at once, finds it and
tells nobody. A hand-off whose due time moves (a follow-up planned again) is a new one.
An MQL's escalation is its SLA breach (leads.services.sla), recorded once and told to the
rep and their manager by the breach's own handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.handoffs.selectors import Handoff, handoffs_pending
from alignment.models import HandoffAlert, HandoffKind, HandoffStep
from alignment.notifications.services import notification_send
from config.events import publish
from config.formats import moment_with_zone
from leads.events import FollowUpDue
from leads.models import Lead
from leads.services.sla import sla_breach_record

HANDOFF_DUE = "handoff.due"
HANDOFF_OVERDUE = "handoff.overdue"


@dataclass(frozen=True)
class AlertRun:
    reminders: int
    escalations: int


def _claim(handoff: Handoff, step: str, now: datetime, recipients: int) -> bool:
    """Insert the step's row; False when another run already did (nobody is told twice)."""
    # get_or_create inserts in a savepoint; of two runs at once, the unique constraint lets
    # one insert and the other reads the row it wrote.
    _alert, created = HandoffAlert.objects.get_or_create(
        kind=handoff.kind,
        subject=handoff.subject,
        due_at=handoff.due_at,
        step=step,
        defaults={"sent_at": now, "recipients": recipients},
    )
    return created


def _users(ids: tuple[int, ...]) -> list:
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("pk"))


def _remind(handoff: Handoff, now: datetime) -> bool:
    owners = _users(handoff.owner_ids)
    if not _claim(handoff, HandoffStep.REMINDER, now, len(owners)):
        return False
    if handoff.kind == HandoffKind.FOLLOW_UP:
        # The rep's planned follow-up: the agenda's own reminder, told the usual way.
        publish(
            FollowUpDue(
                lead_id=int(handoff.subject), owner_id=handoff.owner_ids[0], due_at=handoff.due_at
            )
        )
        return True
    title, due = handoff.title, handoff.due_at
    notification_send(
        recipients=owners,
        event=HANDOFF_DUE,
        dedupe_key=f"{handoff.kind}:{handoff.subject}:{due.isoformat()}",
        title=lambda: _("Waiting on you: %(title)s") % {"title": title},
        body=lambda: _("Due by %(due)s.") % {"due": moment_with_zone(due)},
        url=handoff.url,
    )
    return True


def _escalate(handoff: Handoff, now: datetime) -> bool:
    if handoff.kind == HandoffKind.MQL_ACCEPTANCE:
        lead = Lead.objects.select_for_update().filter(pk=int(handoff.subject)).first()
        if lead is None or lead.sla_due_at != handoff.due_at:
            return False
        if not _claim(handoff, HandoffStep.ESCALATION, now, 0):
            return False
        sla_breach_record(lead=lead, stage=lead.stage, due_at=handoff.due_at, detected_at=now)
        return True
    told = _users(handoff.escalate_to)
    if not _claim(handoff, HandoffStep.ESCALATION, now, len(told)):
        return False
    title, due, owner = handoff.title, handoff.due_at, handoff.owner_label
    notification_send(
        recipients=told,
        event=HANDOFF_OVERDUE,
        dedupe_key=f"{handoff.kind}:{handoff.subject}:{due.isoformat()}",
        title=lambda: _("Overdue: %(title)s") % {"title": title},
        body=lambda: (
            _("It was due by %(due)s and waits on %(owner)s.")
            % {"due": moment_with_zone(due), "owner": owner}
        ),
        url=handoff.url,
    )
    return True


def handoffs_alert(*, now: datetime | None = None) -> AlertRun:
    """Send every reminder and escalation whose time has come, each once. Safe to run
    twice and to run at once (the beat job runs it every few minutes)."""
    now = now or timezone.now()
    reminders = escalations = 0
    for handoff in handoffs_pending(now=now):
        with transaction.atomic():
            if handoff.escalate_at <= now:
                escalations += int(_escalate(handoff, now))
            elif handoff.remind_at <= now:
                reminders += int(_remind(handoff, now))
    return AlertRun(reminders=reminders, escalations=escalations)
