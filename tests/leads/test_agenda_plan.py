"""An agenda that plans the day: overdue SLA clocks, planned follow-ups by day, next steps
to schedule; reminders when a plan falls due, the morning digest, the calendar feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from alignment.handoffs.services import handoffs_alert
from alignment.models import Notification, StageKey
from alignment.notifications.services import notification_preferences_set
from leads.models import Lead
from leads.services.calendar import calendar_feed_get
from leads.services.follow_ups import follow_up_log
from leads.services.reminders import agenda_digests_send
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _plan(lead, rep, *, at, next_step="Visit the plant", kind="visit"):
    return follow_up_log(
        lead=lead,
        author=rep,
        kind=kind,
        outcome="completed",
        next_step=next_step,
        next_follow_up_at=at,
    )


def test_a_due_follow_up_notifies_its_rep_once(team, django_capture_on_commit_callbacks):
    rep, _other = team
    lead = make_lead(email="due@acme.pl", stage=StageKey.SAL, owner=rep, company="Dueco")
    due = timezone.now() + timedelta(hours=2)
    _plan(lead, rep, at=due)
    notification_preferences_set(user=rep, email_events=["follow_up.due"])

    assert handoffs_alert(now=due - timedelta(minutes=1)).reminders == 0
    with django_capture_on_commit_callbacks(execute=True):
        handoffs_alert(now=due + timedelta(minutes=1))
        handoffs_alert(now=due + timedelta(minutes=6))

    sent = Notification.objects.filter(event="follow_up.due")
    assert [n.recipient_id for n in sent] == [rep.pk]
    assert sent[0].url == reverse("leads:detail", args=[lead.pk])
    assert len(mail.outbox) == 1 and "Dueco" in mail.outbox[0].body


def test_a_follow_up_moved_to_a_new_time_reminds_again(team):
    rep, _other = team
    lead = make_lead(email="again@acme.pl", stage=StageKey.SAL, owner=rep)
    first = timezone.now() + timedelta(hours=1)
    _plan(lead, rep, at=first)
    handoffs_alert(now=first + timedelta(minutes=1))
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=first + timedelta(days=1))
    handoffs_alert(now=first + timedelta(days=1, minutes=1))
    assert Notification.objects.filter(event="follow_up.due", recipient=rep).count() == 2


def test_the_agenda_shows_overdue_first_then_the_days_then_what_to_schedule(client, team):
    rep, other = team
    now = timezone.now()
    late = make_lead(email="late@acme.pl", stage=StageKey.MQL, owner=rep, company="Latecorp")
    Lead.objects.filter(pk=late.pk).update(sla_due_at=now - timedelta(hours=3))
    planned = make_lead(email="visit@acme.pl", stage=StageKey.SAL, owner=rep, company="Visitco")
    _plan(planned, rep, at=now + timedelta(days=1), next_step="Visit the plant in Gdańsk")
    undated = make_lead(email="step@acme.pl", stage=StageKey.SAL, owner=rep, company="Stepco")
    follow_up_log(
        lead=undated,
        author=rep,
        kind="call",
        outcome="connected",
        next_step="Send the price list",
    )
    # Another rep's late lead stays off this agenda.
    theirs = make_lead(email="theirs@acme.pl", stage=StageKey.MQL, owner=other, company="Othco")
    Lead.objects.filter(pk=theirs.pk).update(sla_due_at=now - timedelta(hours=3))

    client.force_login(rep)
    body = client.get("/leads/agenda/").content.decode()
    assert "Othco" not in body
    positions = [body.index(text) for text in ("Latecorp", "Visitco", "Stepco")]
    assert positions == sorted(positions)
    assert "Send the price list" in body and "Visit the plant in Gdańsk" in body
    assert body.index("Send the price list") > body.index("Visit the plant in Gdańsk")


def test_a_dated_follow_up_after_an_undated_step_takes_it_off_to_schedule(client, team):
    rep, _other = team
    lead = make_lead(email="step@acme.pl", stage=StageKey.SAL, owner=rep)
    follow_up_log(lead=lead, author=rep, kind="call", outcome="connected", next_step="Write")
    _plan(lead, rep, at=timezone.now() + timedelta(days=2), next_step="Visit")
    client.force_login(rep)
    assert client.get("/leads/agenda/").context["to_schedule"] == []


def _feed(client: Client, url: str):
    response = client.get(url)
    return response, (Calendar.from_ical(response.content) if response.status_code == 200 else None)


def test_the_calendar_feed_holds_the_reps_plans_by_its_secret_url(client, team):
    rep, other = team
    due = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    mine = make_lead(
        email="mine@acme.pl",
        stage=StageKey.SAL,
        owner=rep,
        company="Visitco",
        first_name="Ola",
        last_name="Nowak",
    )
    _plan(mine, rep, at=due)
    theirs = make_lead(email="theirs@acme.pl", stage=StageKey.SAL, owner=other, company="Othco")
    _plan(theirs, other, at=due)

    # The rep makes the link on the agenda page, then reads it without a session.
    client.force_login(rep)
    assert client.post(reverse("leads:calendar-reset")).status_code == 302
    url = client.get("/leads/agenda/").context["feed_url"]
    assert url
    anonymous = Client()
    response, calendar = _feed(anonymous, url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert "Ola Nowak" in str(event["summary"]) and "Visitco" in str(event["summary"])
    assert event.decoded("dtstart") == due
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["url"]).endswith(reverse("leads:detail", args=[mine.pk]))
    assert "Othco" not in response.content.decode()
    uid = str(event["uid"])
    assert str(_feed(anonymous, url)[1].walk("VEVENT")[0]["uid"]) == uid  # stable

    # A reset: the old URL 404s, the new one works.
    client.post(reverse("leads:calendar-reset"))
    assert anonymous.get(url).status_code == 404
    new_url = client.get("/leads/agenda/").context["feed_url"]
    assert new_url != url and anonymous.get(new_url).status_code == 200


def test_a_wrong_token_or_another_users_id_is_a_404(team):
    rep, other = team
    feed = calendar_feed_get(user=rep)
    calendar_feed_get(user=other)
    anonymous = Client()
    assert anonymous.get(reverse("leads:calendar-feed", args=[rep.pk, "x" * 43])).status_code == 404
    wrong_user = reverse("leads:calendar-feed", args=[other.pk, feed.token])
    assert anonymous.get(wrong_user).status_code == 404
    assert (
        anonymous.get(reverse("leads:calendar-feed", args=[rep.pk, feed.token])).status_code == 200
    )


def test_the_digest_goes_once_a_day_to_those_who_chose_it(team, django_capture_on_commit_callbacks):
    rep, _other = team
    notification_preferences_set(user=rep, email_events=["agenda.digest"])
    late = make_lead(email="late@acme.pl", stage=StageKey.MQL, owner=rep)
    now = timezone.now()
    Lead.objects.filter(pk=late.pk).update(sla_due_at=now - timedelta(hours=1))
    later = now + timedelta(minutes=1)  # the same day, unless run a minute before midnight
    if timezone.localdate(later) != timezone.localdate(now):
        later = now
    with django_capture_on_commit_callbacks(execute=True):
        assert agenda_digests_send(now=now) == 1
        agenda_digests_send(now=later)
    digests = Notification.objects.filter(event="agenda.digest")
    assert [n.recipient_id for n in digests] == [rep.pk]
    assert "Overdue SLA clocks: 1." in digests[0].body
    assert digests[0].url == reverse("leads:agenda")
    assert len(mail.outbox) == 1
    agenda_digests_send(now=now + timedelta(days=1))
    assert Notification.objects.filter(event="agenda.digest", recipient=rep).count() == 2
