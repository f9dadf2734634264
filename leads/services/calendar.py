"""A user's private calendar feed: the secret token and the iCalendar (.ics) it serves.

The feed holds the user's planned follow-ups (the next follow-up of each open lead they
own), one VEVENT per lead: its UID stays the same when the plan moves, so a calendar app
updates the event instead of adding another. Nothing else is in it.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from leads.models import CalendarFeed, FollowUp, Lead
from leads.selectors import OPEN_STAGES

# A planned follow-up shows as a half-hour event (the plan has a start, not an end).
EVENT_LENGTH = timedelta(minutes=30)
# Plans further back than this are left out of the feed (still on the agenda as missed).
FEED_PAST = timedelta(days=30)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def calendar_feed_get(*, user: User) -> CalendarFeed:
    """The user's feed, made on first asking."""
    feed, _created = CalendarFeed.objects.get_or_create(user=user, defaults={"token": _new_token()})
    return feed


@transaction.atomic
def calendar_feed_reset(*, user: User) -> CalendarFeed:
    """A new secret: the feed's old URL stops working."""
    feed = calendar_feed_get(user=user)
    feed.token = _new_token()
    feed.created_at = timezone.now()
    feed.save(update_fields=["token", "created_at"])
    return feed


def calendar_feed_owner(*, user_id: int, token: str) -> User | None:
    """The active user whose feed `token` opens, else None (compared in constant time)."""
    feed = CalendarFeed.objects.select_related("user").filter(user_id=user_id).first()
    if feed is None or not feed.user.is_active:
        return None
    if not hmac.compare_digest(feed.token.encode(), token.encode()):
        return None
    return feed.user


def calendar_feed_ics(*, user: User, now: datetime | None = None) -> bytes:
    """The user's planned follow-ups as an iCalendar file (DTSTART in UTC)."""
    now = now or timezone.now()
    planned = FollowUp.objects.filter(
        lead=OuterRef("pk"), next_follow_up_at__isnull=False
    ).order_by("-occurred_at", "-id")
    leads = (
        Lead.objects.filter(
            owner=user,
            stage__in=OPEN_STAGES,
            next_follow_up_at__isnull=False,
            next_follow_up_at__gte=now - FEED_PAST,
        )
        .annotate(
            next_step=Subquery(planned.values("next_step")[:1]),
            planned_kind=Subquery(planned.values("kind")[:1]),
        )
        .order_by("next_follow_up_at", "id")
    )
    calendar = Calendar()
    calendar.add("prodid", "-//Accord//Agenda//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Accord")
    host = urlsplit(settings.SITE_URL).hostname or "accord"
    for lead in leads:
        due = lead.next_follow_up_at
        assert due is not None  # filtered on next_follow_up_at__isnull=False
        start = due.astimezone(UTC)
        event = CalendarEvent()
        event.add("uid", f"lead-{lead.pk}-next-follow-up@{host}")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", start)
        event.add("dtend", start + EVENT_LENGTH)
        name = lead.full_name or lead.email
        event.add("summary", f"{name} · {lead.company}" if lead.company else name)
        if lead.next_step:
            event.add("description", lead.next_step)
        event.add("url", f"{settings.SITE_URL}{reverse('leads:detail', args=[lead.pk])}")
        calendar.add_component(event)
    return calendar.to_ical()


def calendar_feed_of(*, user: User) -> CalendarFeed | None:
    """The user's feed if they made one (reading it makes none)."""
    return CalendarFeed.objects.filter(user=user).first()
