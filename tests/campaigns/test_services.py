"""Campaign writes: who may make them, touches that rescore, UTM first touch, launch."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.models import Notification, StageKey
from campaigns.models import Campaign, Channel, Collateral, Touch, TouchKind
from campaigns.selectors import campaign_lookup, campaign_readiness, collateral_for_lead
from campaigns.services import (
    ACCEPTANCE_EVENT,
    LaunchNeedsConfirmation,
    briefing_acknowledge,
    briefing_save,
    campaign_acceptance_flag,
    campaign_create,
    campaign_launch,
    campaign_update,
    collateral_add,
    spend_entry_add,
    touch_record,
)
from leads.services import lead_create
from metrics.models import TerritoryMember
from tests.factories import CampaignFactory, LeadFactory, TerritoryFactory, UserFactory

pytestmark = pytest.mark.django_db


def _data(**extra):
    return {
        "name": "Spring webinar",
        "channel": Channel.WEBINAR,
        "starts_on": date(2026, 3, 1),
        "budget": Decimal("5000.00"),
        **extra,
    }


# --- who may write -----------------------------------------------------------------------


def test_a_marketer_creates_a_campaign_and_owns_it(marketer):
    campaign = campaign_create(actor=marketer, data=_data())
    assert campaign.pk and campaign.owner == marketer


def test_a_rep_can_neither_create_nor_edit_a_campaign(rep, marketer):
    with pytest.raises(PermissionDenied):
        campaign_create(actor=rep, data=_data())
    campaign = campaign_create(actor=marketer, data=_data())
    with pytest.raises(PermissionDenied):
        campaign_update(campaign=campaign, actor=rep, data={"name": "Mine now"})
    campaign.refresh_from_db()
    assert campaign.name == "Spring webinar"


def test_a_marketer_edits_a_campaign_and_its_target_territories(marketer):
    emea = TerritoryFactory(code="emea")
    campaign = campaign_create(actor=marketer, data=_data())
    campaign_update(
        campaign=campaign,
        actor=marketer,
        data={"budget": Decimal("6000"), "target_territories": [emea]},
    )
    campaign.refresh_from_db()
    assert campaign.budget == Decimal("6000.00")
    assert list(campaign.target_territories.all()) == [emea]


def test_bad_campaign_input_is_a_field_error_and_stores_nothing(marketer):
    with pytest.raises(ValidationError) as caught:
        campaign_create(actor=marketer, data=_data(ends_on=date(2026, 2, 1), budget=Decimal("-1")))
    assert "budget" in caught.value.message_dict
    assert Campaign.objects.count() == 0


def test_spend_is_added_by_marketers_only_and_never_negative(marketer, rep):
    campaign = CampaignFactory(owner=marketer)
    entry = spend_entry_add(
        campaign=campaign, actor=marketer, date=date(2026, 3, 2), amount="12.50"
    )
    assert entry.amount == Decimal("12.50")
    with pytest.raises(ValidationError) as caught:
        spend_entry_add(campaign=campaign, actor=marketer, date=date(2026, 3, 2), amount="-1")
    assert "amount" in caught.value.message_dict
    with pytest.raises(ValidationError):
        spend_entry_add(campaign=campaign, actor=marketer, date=date(2026, 3, 2), amount="abc")
    with pytest.raises(PermissionDenied):
        spend_entry_add(campaign=campaign, actor=rep, date=date(2026, 3, 2), amount="1")
    assert campaign.spend_entries.count() == 1


# --- touches and first touch -------------------------------------------------------------


def test_a_touch_rescores_the_lead_and_can_make_it_an_mql(active_agreement):
    lead = lead_create(
        data={"email": "ana@acme.test", "company": "Acme", "company_size": 60}, actor=None
    )
    assert lead.score == 20 and lead.stage == StageKey.INQUIRY
    campaign = CampaignFactory()
    touch_record(
        lead=lead, campaign=campaign, kind=TouchKind.DEMO_REQUEST, occurred_at=timezone.now()
    )
    lead.refresh_from_db()
    assert lead.score == 60
    assert lead.stage == StageKey.MQL


def test_a_leads_first_campaign_touch_becomes_its_first_touch_campaign(active_agreement):
    first, second = CampaignFactory(), CampaignFactory()
    lead = LeadFactory(campaign=None)
    touch_record(lead=lead, campaign=first, kind=TouchKind.PAGE_VISIT, occurred_at=timezone.now())
    touch_record(lead=lead, campaign=second, kind=TouchKind.WEBINAR, occurred_at=timezone.now())
    lead.refresh_from_db()
    assert lead.campaign == first


def test_the_same_external_touch_is_stored_once(active_agreement):
    lead = LeadFactory()
    first = touch_record(
        lead=lead, kind=TouchKind.PAGE_VISIT, occurred_at=timezone.now(), external_id="ev-1"
    ).touch
    again = touch_record(
        lead=lead, kind=TouchKind.PAGE_VISIT, occurred_at=timezone.now(), external_id="ev-1"
    ).touch
    assert first.pk == again.pk
    assert Touch.objects.count() == 1


def test_an_unknown_touch_kind_is_a_field_error(active_agreement):
    with pytest.raises(ValidationError) as caught:
        touch_record(lead=LeadFactory(), kind="telepathy", occurred_at=timezone.now())
    assert "kind" in caught.value.message_dict


def test_a_lead_created_with_utm_tags_gets_its_first_touch_campaign(active_agreement):
    campaign = CampaignFactory(utm_source="google", utm_medium="cpc", utm_campaign="spring-26")
    lead = lead_create(
        data={
            "email": "bo@acme.test",
            "utm_source": "Google",
            "utm_medium": "CPC",
            "utm_campaign": "Spring-26",
        },
        actor=None,
    )
    assert lead.campaign == campaign
    assert campaign_lookup(utm_campaign="spring-26") == campaign
    assert campaign_lookup(name=campaign.name.upper()) == campaign
    assert campaign_lookup(utm_campaign="nope") is None


# --- collateral --------------------------------------------------------------------------


def test_a_lead_shows_its_campaigns_and_its_stages_collateral_only(marketer):
    campaign, other = CampaignFactory(), CampaignFactory()
    lead = LeadFactory(campaign=campaign, stage=StageKey.SAL)
    mine = collateral_add(actor=marketer, title="Deck", url="https://x.test/d", campaign=campaign)
    stage = collateral_add(
        actor=marketer, title="SAL script", url="https://x.test/s", stage_key="sal"
    )
    mine_at_stage = collateral_add(
        actor=marketer, title="Case", url="https://x.test/c", campaign=campaign, stage_key="sal"
    )
    collateral_add(actor=marketer, title="Other", url="https://x.test/o", campaign=other)
    collateral_add(actor=marketer, title="MQL", url="https://x.test/m", stage_key="mql")
    collateral_add(
        actor=marketer,
        title="Mine later",
        url="https://x.test/l",
        campaign=campaign,
        stage_key="won",
    )
    assert set(collateral_for_lead(lead=lead)) == {mine, stage, mine_at_stage}


def test_collateral_needs_a_home_and_content(marketer, rep):
    with pytest.raises(ValidationError):
        collateral_add(actor=marketer, title="Lost", url="https://x.test/")
    with pytest.raises(ValidationError):
        collateral_add(actor=marketer, title="Empty", stage_key="sal")
    with pytest.raises(PermissionDenied):
        collateral_add(actor=rep, title="Mine", url="https://x.test/", stage_key="sal")
    assert Collateral.objects.count() == 0


# --- readiness and launch ----------------------------------------------------------------


@pytest.fixture
def briefed(active_agreement, marketer):
    """EMEA is targeted (reps a, b; c inactive there); APAC's rep d is not targeted."""
    emea, apac = TerritoryFactory(code="emea"), TerritoryFactory(code="apac")
    reps = {n: UserFactory(username=f"rep-{n}", role=Role.SALES_REP) for n in "abcd"}
    TerritoryMember.objects.create(territory=emea, user=reps["a"])
    TerritoryMember.objects.create(territory=emea, user=reps["b"])
    TerritoryMember.objects.create(territory=emea, user=reps["c"], is_active=False)
    TerritoryMember.objects.create(territory=apac, user=reps["d"])
    campaign = CampaignFactory(owner=marketer)
    campaign.target_territories.set([emea])
    briefing_save(campaign=campaign, actor=marketer, body="New pricing page; expect SMB leads.")
    return campaign, reps


def test_readiness_counts_acknowledgments_of_target_territory_reps_only(briefed):
    campaign, reps = briefed
    briefing_acknowledge(campaign=campaign, user=reps["a"])
    briefing_acknowledge(campaign=campaign, user=reps["c"])  # inactive in EMEA
    briefing_acknowledge(campaign=campaign, user=reps["d"])  # APAC, not targeted
    briefing_acknowledge(campaign=campaign, user=reps["a"])  # twice is once
    readiness = campaign_readiness(campaign=campaign)
    assert (readiness.acknowledged, readiness.expected) == (1, 2)
    assert readiness.ratio == Decimal("0.500")
    assert readiness.threshold == Decimal("0.800")
    assert not readiness.is_ready


def test_launching_below_the_threshold_asks_for_confirmation_and_changes_nothing(briefed, marketer):
    campaign, reps = briefed
    briefing_acknowledge(campaign=campaign, user=reps["a"])
    with pytest.raises(LaunchNeedsConfirmation) as caught:
        campaign_launch(campaign=campaign, actor=marketer)
    assert "1 of 2" in str(caught.value.message_dict["confirm"])
    campaign.refresh_from_db()
    assert campaign.launched_at is None and campaign.status == "planned"


def test_a_confirmed_launch_below_the_threshold_is_recorded(briefed, marketer):
    campaign, reps = briefed
    briefing_acknowledge(campaign=campaign, user=reps["a"])
    result = campaign_launch(campaign=campaign, actor=marketer, confirm_below_threshold=True)
    assert result.below_threshold
    campaign.refresh_from_db()
    assert campaign.status == "live"
    assert campaign.launched_by == marketer and campaign.launched_at is not None
    assert campaign.launched_below_readiness is True
    assert campaign.readiness_at_launch == Decimal("0.500")
    with pytest.raises(ValidationError):
        campaign_launch(campaign=campaign, actor=marketer, confirm_below_threshold=True)


def test_a_ready_campaign_launches_without_confirmation(briefed, marketer, rep):
    campaign, reps = briefed
    briefing_acknowledge(campaign=campaign, user=reps["a"])
    briefing_acknowledge(campaign=campaign, user=reps["b"])
    with pytest.raises(PermissionDenied):
        campaign_launch(campaign=campaign, actor=rep)
    result = campaign_launch(campaign=campaign, actor=marketer)
    assert not result.below_threshold
    campaign.refresh_from_db()
    assert campaign.launched_below_readiness is False
    assert campaign.readiness_at_launch == Decimal("1.000")


def test_only_reps_acknowledge_and_only_a_written_briefing(active_agreement, marketer):
    campaign = CampaignFactory(owner=marketer)
    rep = UserFactory(username="rep-x", role=Role.SALES_REP)
    with pytest.raises(ValidationError):
        briefing_acknowledge(campaign=campaign, user=rep)
    briefing_save(campaign=campaign, actor=marketer, body="Read me")
    with pytest.raises(PermissionDenied):
        briefing_acknowledge(campaign=campaign, user=marketer)


# --- closed loop -------------------------------------------------------------------------


def test_an_acceptance_rate_below_the_floor_notifies_the_owner_once(active_agreement, marketer):
    campaign = CampaignFactory(owner=marketer)
    assert campaign_acceptance_flag(campaign=campaign, rate=Decimal("0.30")) is True
    assert campaign_acceptance_flag(campaign=campaign, rate=Decimal("0.25")) is True
    notes = Notification.objects.filter(event=ACCEPTANCE_EVENT)
    assert notes.count() == 1
    assert notes.get().recipient == marketer
    assert "30.0%" in notes.get().body and "50.0%" in notes.get().body


def test_an_acceptance_rate_at_the_floor_or_unknown_flags_nothing(active_agreement, marketer):
    campaign = CampaignFactory(owner=marketer)
    assert campaign_acceptance_flag(campaign=campaign, rate=Decimal("0.5")) is False
    assert campaign_acceptance_flag(campaign=campaign, rate=None) is False
    assert not Notification.objects.exists()


def test_a_campaign_with_no_rep_to_brief_counts_as_ready(active_agreement, marketer):
    campaign = CampaignFactory(owner=marketer, starts_on=date.today() + timedelta(days=3))
    readiness = campaign_readiness(campaign=campaign)
    assert readiness.expected == 0 and readiness.ratio is None and readiness.is_ready


def test_going_live_without_a_launch_is_refused(marketer):
    with pytest.raises(ValidationError) as caught:
        campaign_create(actor=marketer, data=_data(status="live"))
    assert "status" in caught.value.message_dict
    campaign = campaign_create(actor=marketer, data=_data())
    with pytest.raises(ValidationError):
        campaign_update(campaign=campaign, actor=marketer, data={"status": "live"})
    campaign.refresh_from_db()
    assert campaign.status == "planned"


def test_dates_and_utm_tags_are_checked_with_field_errors(marketer):
    campaign_create(actor=marketer, data=_data(utm_source="g", utm_medium="cpc", utm_campaign="s"))
    with pytest.raises(ValidationError) as caught:
        campaign_create(
            actor=marketer,
            data=_data(
                name="Other",
                ends_on=date(2026, 2, 1),
                utm_source="g",
                utm_medium="cpc",
                utm_campaign="s",
            ),
        )
    assert set(caught.value.message_dict) == {"ends_on", "utm_campaign"}
    assert "Spring webinar" in caught.value.message_dict["utm_campaign"][0]
