"""In-app notifications and their emails; every event notifies each recipient once."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alignment.models import Notification, UserProfile

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# A notification's title or body: a callable renders it in each recipient's language.
Text = str | Callable[[], str]

# The events Accord notifies about, as users choose them on the preferences page.
# Other apps may send events not listed here; a user who has received one can still
# opt in to its email (see notification_email_choices).
NOTIFICATION_EVENTS: dict[str, StrOrPromise] = {
    "intel.submitted": _("New field intelligence for marketing"),
    "intel.responded": _("Marketing responded to intelligence I sent"),
    "dispute.raised": _("A dispute was raised on a lead I am part of (or to arbitrate)"),
    "dispute.resolved": _("A dispute I am part of was resolved"),
    "lead.assigned": _("A lead was assigned to me"),
    "sla.breached": _("A lead went past its SLA"),
    "follow_up.due": _("A follow-up I planned is due"),
    "agenda.digest": _("Every morning, my agenda for the day"),
    "handoff.due": _("Something waits on me: a reminder before it is due"),
    "handoff.overdue": _("A hand-off I am told about went past its due time"),
    "campaign.acceptance_below_floor": _("A campaign's lead acceptance fell below the floor"),
    "webhook.disabled": _("One of my webhooks was disabled after failures"),
}


def notification_send(
    *,
    recipients: Iterable[User | None],
    event: str,
    dedupe_key: str,
    title: Text,
    body: Text = "",
    url: str = "",
) -> list[Notification]:
    """Notify each recipient once per (event, dedupe_key); a second call adds nothing.

    `title` and `body` are best given as callables (`lambda: _("…") % {…}`): they are then
    rendered for each recipient in their own language and display time zone (their profile;
    else the deployment's), not the sender's. A plain string is stored as it is.
    Emails go out after the transaction commits, to users whose profile opts in.
    """
    unique = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not unique:
        return []
    existing = set(
        Notification.objects.filter(
            recipient_id__in=unique, event=event, dedupe_key=dedupe_key
        ).values_list("recipient_id", flat=True)
    )
    new = [pk for pk in unique if pk not in existing]
    preferences = _preferences(new)
    rendered: dict[tuple[str, str], tuple[str, str]] = {}
    rows = []
    for pk in new:
        locale = preferences.get(pk, ("", ""))
        if locale not in rendered:
            with recipient_locale(language=locale[0], time_zone=locale[1]):
                rendered[locale] = (_render(title)[:200], _render(body))
        text_title, text_body = rendered[locale]
        rows.append(
            Notification(
                recipient_id=pk,
                event=event,
                dedupe_key=dedupe_key,
                title=text_title,
                body=text_body,
                url=url,
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    created = list(
        Notification.objects.filter(
            recipient_id__in=[r.recipient_id for r in rows],
            event=event,
            dedupe_key=dedupe_key,
            emailed_at__isnull=True,
        )
    )
    # Few recipients per event: reading their preferences works on every database.
    email_to = {
        profile.user_id
        for profile in UserProfile.objects.filter(user_id__in=[n.recipient_id for n in created])
        if event in (profile.email_events or [])
    }
    for notification in created:
        if notification.recipient_id in email_to:
            user = unique[notification.recipient_id]
            language = preferences.get(user.pk, ("", ""))[0]
            transaction.on_commit(
                partial(_email, notification=notification, address=user.email, language=language)
            )
    return created


def _render(text: Text) -> str:
    return str(text() if callable(text) else text)


def _preferences(user_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """{user id: (language, time zone)} as each user chose them ("" where they did not)."""
    return {
        row["user_id"]: (row["language"] or "", row["time_zone"] or "")
        for row in UserProfile.objects.filter(user_id__in=list(user_ids)).values(
            "user_id", "language", "time_zone"
        )
    }


@contextmanager
def recipient_locale(*, language: str = "", time_zone: str = ""):
    """Render for one recipient: their language and time zone, else the deployment's."""
    codes = {code for code, _name in settings.LANGUAGES}
    try:
        zone = zoneinfo.ZoneInfo(time_zone) if time_zone else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    with (
        translation.override(language if language in codes else settings.LANGUAGE_CODE),
        timezone.override(zone or timezone.get_default_timezone()),
    ):
        yield


def _email(*, notification: Notification, address: str, language: str = "") -> None:
    # Claim the row first, so a retried commit hook never sends the same email twice.
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not (claimed and address):
        return
    with recipient_locale(language=language):
        parts = [notification.body]
        if notification.url:
            parts.append(
                gettext("Open it in Accord: %(link)s")
                % {"link": f"{settings.SITE_URL}{notification.url}"}
            )
        preferences = f"{settings.SITE_URL}{reverse('feedback:notification-preferences')}"
        parts.append(
            "-- \n"
            + gettext("You receive this email because you chose it in your preferences: %(url)s")
            % {"url": preferences}
        )
        send_mail(
            subject=f"[Accord] {notification.title}",
            message="\n\n".join(part for part in parts if part),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[address],
        )


def notification_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


def notification_email_choices(*, user: User) -> list[tuple[str, str]]:
    """(event, label) a user may opt in to: the known events plus any they have received."""
    received = set(
        Notification.objects.filter(recipient=user).values_list("event", flat=True).distinct()
    )
    choices = [(event, str(label)) for event, label in NOTIFICATION_EVENTS.items()]
    choices += [(event, event) for event in sorted(received - NOTIFICATION_EVENTS.keys())]
    return choices


def notification_preferences_get(*, user: User) -> list[str]:
    """The events that email this user (none until they choose)."""
    profile = UserProfile.objects.filter(user=user).only("email_events").first()
    return list(profile.email_events or []) if profile else []


def notification_preferences_set(*, user: User, email_events: Iterable[str]) -> list[str]:
    """Choose which events email the user; in-app notifications always arrive.

    Unknown events are refused with a ValidationError; setting the same list twice
    changes nothing.
    """
    wanted = sorted(set(email_events))
    allowed = {event for event, _label in notification_email_choices(user=user)}
    unknown = [event for event in wanted if event not in allowed]
    if unknown:
        raise ValidationError(
            {"email_events": gettext("Unknown events: %(events)s") % {"events": ", ".join(unknown)}}
        )
    profile, _created = UserProfile.objects.get_or_create(user=user)
    if profile.email_events != wanted:
        profile.email_events = wanted
        profile.save(update_fields=["email_events"])
    return wanted


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
