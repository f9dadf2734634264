"""Reminders of the rep's plan: a planned follow-up that falls due, the morning digest.

Leads sit below notifications, so these services publish events (leads.events) and the
notification handlers tell the user, each once (notification_send dedupes on the lead and
its due moment, or the user and the day): a beat job that runs twice notifies once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from alignment.models import UserProfile
from config.events import publish
from leads.events import AGENDA_DIGEST, AgendaDigestDue, FollowUpDue
from leads.models import Lead
from leads.selectors import OPEN_STAGES, agenda_for

# How far back a due follow-up is still worth a reminder (beat stopped for a while):
# older ones show as missed on the agenda, without a late notification.
REMINDER_LOOKBACK = timedelta(hours=24)


@transaction.atomic
def follow_up_reminders_send(*, now: datetime | None = None) -> int:
    """Publish FollowUpDue for each open lead whose planned follow-up fell due within
    REMINDER_LOOKBACK of `now`; returns how many. Safe to run twice or at once."""
    now = now or timezone.now()
    due = (
        Lead.objects.filter(
            stage__in=OPEN_STAGES,
            owner__isnull=False,
            next_follow_up_at__lte=now,
            next_follow_up_at__gt=now - REMINDER_LOOKBACK,
        )
        .order_by("next_follow_up_at", "id")
        .values_list("pk", "owner_id", "next_follow_up_at")
    )
    count = 0
    for lead_id, owner_id, due_at in due:
        assert due_at is not None  # filtered on next_follow_up_at__lte
        publish(FollowUpDue(lead_id=lead_id, owner_id=owner_id, due_at=due_at))
        count += 1
    return count


@transaction.atomic
def agenda_digests_send(*, now: datetime | None = None) -> int:
    """Publish AgendaDigestDue for each active user who opted in to AGENDA_DIGEST, with
    the counts of their agenda for today (the deployment's day); returns how many."""
    now = now or timezone.now()
    # Few profiles opt in; reading their preferences in Python works on every database.
    user_ids = [
        profile.user_id
        for profile in UserProfile.objects.only("user_id", "email_events")
        if AGENDA_DIGEST in (profile.email_events or [])
    ]
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("pk")
    count = 0
    for user in users:
        agenda = agenda_for(rep=user, days=1, now=now)
        publish(
            AgendaDigestDue(
                user_id=user.pk,
                day=agenda["today"],
                overdue=len(agenda["overdue"]),
                missed=len(agenda["missed"]),
                today=sum(len(day.leads) for day in agenda["days"]),
                to_schedule=len(agenda["to_schedule"]),
            )
        )
        count += 1
    return count
