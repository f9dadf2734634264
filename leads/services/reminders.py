"""The morning digest of a rep's plan (a planned follow-up that falls due is a hand-off:
alignment.handoffs reminds of it and escalates it).

Leads sit below notifications, so this service publishes an event (leads.events) and the
notification handler tells the user, once per user and day: a beat job that runs twice
notifies once.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from alignment.models import UserProfile
from config.events import publish
from leads.events import AGENDA_DIGEST, AgendaDigestDue
from leads.selectors import agenda_for


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
