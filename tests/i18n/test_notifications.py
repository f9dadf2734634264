"""Notifications and their emails speak each recipient's language, whoever triggered them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.utils import translation

from alignment.accounts.roles import Role
from alignment.accounts.services import profile_update
from alignment.feedback.services import dispute_raise, intel_acknowledge, intel_submit
from alignment.models import Notification
from alignment.notifications.services import notification_preferences_set
from leads.models import StageKey
from leads.services.sla import sla_breach_record
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def title_of(user, event: str) -> str:
    return Notification.objects.get(recipient=user, event=event).title


def test_a_notice_is_written_in_the_recipients_language_not_the_senders(rep, marketer):
    profile_update(user=rep, language="pl")
    lead = LeadFactory(owner=rep, campaign=CampaignFactory(owner=marketer))
    intel = intel_submit(author=rep, kind="market", text="Konkurencja obniżyła ceny", lead=lead)
    with translation.override("en"):  # the marketer works in English
        intel_acknowledge(intel=intel, user=marketer, response="Thanks")
    assert title_of(rep, "intel.responded") == (
        "Marketing potwierdził przyjęcie twoich informacji z rynku"
    )
    # A recipient without a chosen language reads the deployment's default (English).
    assert title_of(marketer, "intel.submitted").startswith("New field intelligence:")


def test_one_event_reaches_each_recipient_in_their_own_language(rep, marketer):
    boss = UserFactory(username="boss-id", role=Role.EXECUTIVE)
    profile_update(user=boss, language="id")
    profile_update(user=marketer, language="pl")
    lead = LeadFactory(owner=rep, campaign=CampaignFactory(owner=marketer))
    with translation.override("en"):
        dispute_raise(user=rep, lead=lead, kind="lead_quality", reason="Student email")
    assert title_of(boss, "dispute.raised").startswith("Sengketa diajukan: ")
    assert title_of(marketer, "dispute.raised").startswith("Zgłoszono spór: ")
    # The choice label inside the title is translated too, not only the sentence around it.
    assert "lead_quality" not in title_of(boss, "dispute.raised")


def test_an_sla_notice_shows_the_deadline_in_the_recipients_time_zone(rep):
    profile_update(user=rep, language="id", time_zone="Asia/Jakarta")
    lead = LeadFactory(owner=rep, stage=StageKey.MQL)
    due = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    sla_breach_record(lead=lead, stage=StageKey.MQL, due_at=due, detected_at=due)
    notice = Notification.objects.get(recipient=rep, event="sla.breached")
    assert notice.title.startswith("SLA terlampaui: ")
    assert "2 Mar 2026, 16.00 WIB" in notice.body  # the Indonesian date format, Jakarta


def test_the_email_goes_out_in_the_recipients_language(
    rep, marketer, django_capture_on_commit_callbacks
):
    profile_update(user=rep, language="pl")
    notification_preferences_set(user=rep, email_events=["intel.responded"])
    lead = LeadFactory(owner=rep, campaign=CampaignFactory(owner=marketer))
    intel = intel_submit(author=rep, kind="market", text="x", lead=lead)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        intel_acknowledge(intel=intel, user=marketer, response="Dzięki")
        assert translation.get_language() == "en"  # the sender's language is left as it was
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [rep.email]
    assert email.subject == "[Accord] Marketing potwierdził przyjęcie twoich informacji z rynku"
    assert "Dzięki" in email.body
    assert "Otwórz w Accord:" in email.body
    assert "Otrzymujesz tę wiadomość" in email.body
