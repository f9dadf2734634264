"""A campaign below the acceptance floor is flagged once per scoring week (the ISO week,
Monday 00:00 in the deployment's time zone), naming the week: when the fact repeats next
week, the alert does too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from alignment.agreement.services import agreement_create_default
from alignment.models import Notification, StageKey
from campaigns.services import ACCEPTANCE_EVENT, campaigns_acceptance_check
from leads.models import StageEvent
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db

# A Wednesday of ISO week 49 of 2026 (Monday 30 November to Sunday 6 December).
WEDNESDAY = date(2026, 12, 2)


def rejected_mql(campaign, day: date) -> None:
    """One of `campaign`'s leads became an MQL on `day` and sales sent it back."""
    lead = LeadFactory(campaign=campaign)
    when = datetime.combine(day, time(12), tzinfo=UTC)
    for from_stage, to_stage, reason in (
        (StageKey.INQUIRY, StageKey.MQL, ""),
        (StageKey.MQL, StageKey.RECYCLED, "wrong-fit"),
    ):
        StageEvent.objects.create(
            lead=lead,
            from_stage=from_stage,
            to_stage=to_stage,
            occurred_at=when,
            reason_code=reason,
        )
        setattr(lead, f"{to_stage}_at", when)
    lead.save()


@pytest.fixture
def poor_campaign(settings, marketer):
    settings.TIME_ZONE = "UTC"
    agreement_create_default()
    campaign = CampaignFactory(owner=marketer, name="Cold list")
    rejected_mql(campaign, WEDNESDAY - timedelta(days=1))
    return campaign


def notes():
    return Notification.objects.filter(event=ACCEPTANCE_EVENT).order_by("pk")


def test_running_the_check_twice_in_one_week_notifies_once(poor_campaign, marketer):
    assert campaigns_acceptance_check(today=WEDNESDAY) == [poor_campaign.pk]
    # Later the same week, even on its last day: still the same period.
    assert campaigns_acceptance_check(today=WEDNESDAY) == [poor_campaign.pk]
    assert campaigns_acceptance_check(today=date(2026, 12, 6)) == [poor_campaign.pk]
    note = notes().get()
    assert note.recipient == marketer
    assert note.dedupe_key == f"campaign:{poor_campaign.pk}:week:2026-11-30"
    assert "week 49, 2026" in note.title and "Cold list" in note.title
    assert "30 Nov 2026 – 6 Dec 2026" in note.body


def test_below_the_floor_in_two_weeks_is_flagged_twice_once_per_week(poor_campaign, marketer):
    campaigns_acceptance_check(today=WEDNESDAY)
    campaigns_acceptance_check(today=WEDNESDAY)
    next_monday = date(2026, 12, 7)  # week 50: the fact holds again
    assert campaigns_acceptance_check(today=next_monday) == [poor_campaign.pk]
    campaigns_acceptance_check(today=next_monday + timedelta(days=2))
    flagged = list(notes())
    assert [n.dedupe_key for n in flagged] == [
        f"campaign:{poor_campaign.pk}:week:2026-11-30",
        f"campaign:{poor_campaign.pk}:week:2026-12-07",
    ]
    assert all(n.recipient == marketer for n in flagged)
    assert "week 49, 2026" in flagged[0].title and "week 50, 2026" in flagged[1].title
    assert "7 Dec 2026 – 13 Dec 2026" in flagged[1].body


def test_the_week_is_the_deployments_monday_to_monday(settings, marketer, monkeypatch):
    """Sunday 17:30 UTC is already Monday 00:30 in Jakarta: a Jakarta deployment's check
    at that moment belongs to the new week."""
    settings.TIME_ZONE = "Asia/Jakarta"
    agreement_create_default()
    campaign = CampaignFactory(owner=marketer)
    rejected_mql(campaign, WEDNESDAY)
    sunday_evening_utc = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: sunday_evening_utc)
    assert campaigns_acceptance_check() == [campaign.pk]
    assert notes().get().dedupe_key == f"campaign:{campaign.pk}:week:2026-12-07"
    assert "week 50, 2026" in notes().get().title


def test_a_campaign_at_the_floor_is_not_flagged_in_any_week(settings, marketer):
    settings.TIME_ZONE = "UTC"
    agreement_create_default()
    campaign = CampaignFactory(owner=marketer)
    lead = LeadFactory(campaign=campaign)
    when = datetime.combine(WEDNESDAY, time(12), tzinfo=UTC)
    for from_stage, to_stage in ((StageKey.INQUIRY, StageKey.MQL), (StageKey.MQL, StageKey.SAL)):
        StageEvent.objects.create(
            lead=lead, from_stage=from_stage, to_stage=to_stage, occurred_at=when
        )
    for day in (WEDNESDAY, WEDNESDAY + timedelta(days=7)):
        assert campaigns_acceptance_check(today=day) == []
    assert not notes().exists()
