"""The one stage service: agreed transitions only, reasons where the agreement asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alignment.models import StageKey
from leads.models import Deal, Lead, StageEvent
from leads.services import LeadConflict, lead_create, lead_transition, sla_due_compute
from metrics.models import TerritoryCountry, TerritoryMember
from tests.factories import TerritoryFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def emea(active_agreement):
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True)
    TerritoryCountry.objects.create(territory=territory, country="PL")
    return territory


def _lead(**extra):
    return lead_create(data={"email": "ana@firma.pl", "company": "", **extra}, actor=None)


def _qualified(**extra):
    """A lead that meets the MQL criterion (a known company, a score of 60), unscored by
    lead_create so the test moves it by hand."""
    lead = lead_create(
        data={"email": "ana@firma.pl", "company": "Firma", **extra}, actor=None, score=False
    )
    Lead.objects.filter(pk=lead.pk).update(score=60)
    lead.score = 60
    return lead


def test_a_new_lead_starts_in_inquiry_with_an_event(active_agreement, emea):
    lead = _lead(country="pl")
    assert lead.stage == StageKey.INQUIRY
    assert lead.country == "PL" and lead.territory == emea
    assert list(lead.stage_events.values_list("from_stage", "to_stage")) == [("", "inquiry")]


def test_a_duplicate_email_in_another_case_is_a_conflict_naming_the_lead(active_agreement):
    lead = _lead()
    with pytest.raises(LeadConflict) as caught:
        lead_create(data={"email": "ANA@Firma.PL"}, actor=None)
    assert caught.value.lead_id == lead.pk
    assert Lead.objects.count() == 1


def test_a_transition_outside_the_funnel_is_refused_and_changes_nothing(active_agreement):
    lead = _lead()
    with pytest.raises(ValidationError) as caught:
        lead_transition(lead=lead, to_stage=StageKey.WON, actor=None)
    assert "does not allow inquiry → won" in str(caught.value.message_dict["to"])
    lead.refresh_from_db()
    assert lead.stage == StageKey.INQUIRY
    assert lead.stage_events.count() == 1


def test_rejecting_an_mql_needs_an_agreed_reason(active_agreement, emea):
    lead = _qualified()
    lead_transition(lead=lead, to_stage=StageKey.MQL, actor=None)
    with pytest.raises(ValidationError) as caught:
        lead_transition(lead=lead, to_stage=StageKey.RECYCLED, actor=None)
    assert "reason" in caught.value.message_dict
    with pytest.raises(ValidationError):
        lead_transition(lead=lead, to_stage=StageKey.RECYCLED, actor=None, reason_code="meh")
    lead_transition(lead=lead, to_stage=StageKey.RECYCLED, actor=None, reason_code="no-budget")
    lead.refresh_from_db()
    assert lead.stage == StageKey.RECYCLED and lead.recycled_at is not None


def test_every_allowed_transition_leaves_an_event_and_stamps_the_stage(active_agreement, emea):
    rep = UserFactory(username="r1")
    TerritoryMember.objects.create(territory=emea, user=rep)
    lead = _qualified(country="PL")
    now = timezone.now()
    path = [StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY, StageKey.WON]
    for offset, stage in enumerate(path):
        if stage == StageKey.OPPORTUNITY:  # the stage follows the deal
            deal = Deal.objects.create(lead=lead, name="Firma", amount=100)
        if stage == StageKey.WON:
            Deal.objects.filter(pk=deal.pk).update(outcome="won", closed_at=now)
        lead_transition(lead=lead, to_stage=stage, actor=None, at=now + timedelta(hours=offset))
    lead.refresh_from_db()
    assert lead.stage == StageKey.WON
    assert lead.owner == rep and lead.qualified_under == active_agreement
    assert lead.mql_at == now and lead.won_at == now + timedelta(hours=4)
    assert lead.sla_due_at is None  # won has no SLA
    events = list(StageEvent.objects.filter(lead=lead).values_list("to_stage", flat=True))
    assert events == ["inquiry", *path]


def test_entering_a_stage_with_an_sla_starts_its_clock(active_agreement):
    lead = _qualified()
    at = timezone.now()
    lead_transition(lead=lead, to_stage=StageKey.MQL, actor=None, at=at)
    lead.refresh_from_db()
    assert lead.sla_due_at == at + timedelta(hours=24)


def test_business_hours_skip_nights_and_weekends(active_agreement, settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    active_agreement.business_hours = {"start": 9, "end": 17, "weekdays": [0, 1, 2, 3, 4]}
    friday_4pm = timezone.make_aware(timezone.datetime(2026, 11, 20, 16, 0))
    due = sla_due_compute(agreement=active_agreement, hours=4, start=friday_4pm)
    # One hour on Friday, three on Monday from 9:00.
    assert timezone.localtime(due).replace(tzinfo=None) == timezone.datetime(2026, 11, 23, 12, 0)
