"""The agreement holds where data enters: the stage service refuses what the agreement
forbids, on the page and through the API alike."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from alignment.models import StageKey
from campaigns.models import Touch
from leads.models import Deal, DealOutcome, FollowUp, Lead, StageEvent
from leads.services import lead_create, lead_transition
from leads.services.deals import deal_close, deal_create
from leads.services.follow_ups import follow_up_log
from leads.services.rescoring import scores_decay_apply
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _move(user, lead, **body):
    return _api(user).post(f"/api/v1/leads/{lead.pk}/transition/", body, format="json")


def _unqualified(email="cold@acme.pl", **extra) -> Lead:
    """An inquiry that does not meet the MQL criterion (no company, score 0)."""
    return lead_create(data={"email": email, "company": "", "country": "PL", **extra}, actor=None)


# --- 1. won and lost go through the deal ----------------------------------------------------


def test_the_api_refuses_won_while_the_deal_is_open_and_names_it(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal = deal_create(lead=lead, actor=rep, amount=5000, name="Acme rollout")
    response = _move(rep, lead, to="won")
    assert response.status_code == 400
    assert f"#{deal.pk} Acme rollout" in response.json()["to"][0]
    lead.refresh_from_db()
    assert lead.stage == StageKey.OPPORTUNITY
    assert Deal.objects.get(pk=deal.pk).outcome == DealOutcome.OPEN


def test_the_api_wins_the_lead_by_closing_its_deal_with_the_final_amount(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal = deal_create(lead=lead, actor=rep, amount=5000)
    response = _move(rep, lead, to="won", deal=deal.pk, amount="5500.00")
    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "won"
    deal.refresh_from_db()
    assert deal.outcome == DealOutcome.WON and deal.amount == Decimal("5500.00")
    assert deal.closed_at is not None


def test_a_lead_without_any_deal_cannot_be_won(territory, team, sales_manager):
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=team[0])
    with pytest.raises(ValidationError):
        lead_transition(lead=lead, to_stage=StageKey.OPPORTUNITY, actor=sales_manager)
    assert _move(sales_manager, lead, to="opportunity").status_code == 400


def test_closing_the_last_open_deal_lost_loses_the_lead_with_its_reason(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    first = deal_create(lead=lead, actor=rep, amount=100)
    second = deal_create(lead=lead, actor=rep, amount=200)
    assert _move(rep, lead, to="lost", reason_code="price").status_code == 400
    deal_close(deal=first, actor=rep, outcome=DealOutcome.LOST, lost_reason="price")
    lead.refresh_from_db()
    assert lead.stage == StageKey.OPPORTUNITY  # another deal is still open
    response = _move(rep, lead, to="lost", deal=second.pk, reason_code="competitor")
    assert response.status_code == 200, response.json()
    lead.refresh_from_db()
    assert lead.stage == StageKey.LOST
    assert lead.stage_events.latest("occurred_at").reason_code == "competitor"


def test_the_move_to_won_on_the_page_opens_the_close_deal_form(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal = deal_create(lead=lead, actor=rep, amount=5000, name="Acme rollout")
    client.force_login(rep)
    response = client.post(f"/leads/{lead.pk}/move/", {"to_stage": "won"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Close the deal" in body and "Acme rollout" in body
    assert f'action="/leads/{lead.pk}/deals/{deal.pk}/close/"' in body
    lead.refresh_from_db()
    assert lead.stage == StageKey.OPPORTUNITY  # nothing moved until the deal closes
    response = client.post(
        f"/leads/{lead.pk}/deals/{deal.pk}/close/",
        {"outcome": "won", "amount": "5200", "confirmed": "yes"},
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == StageKey.WON
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("5200.00")


# --- 2. entry criteria are enforced ---------------------------------------------------------


def test_a_hand_move_into_mql_below_the_threshold_is_refused(territory, marketer):
    lead = _unqualified()
    response = _move(marketer, lead, to="mql")
    assert response.status_code == 400
    assert "below the agreed threshold of 50" in response.json()["to"][0]
    lead.refresh_from_db()
    assert lead.stage == StageKey.INQUIRY and lead.owner_id is None


def test_only_a_marketing_manager_may_override_with_a_reason(
    territory, team, marketer, marketing_manager
):
    lead = _unqualified()
    refused = _move(marketer, lead, to="mql", override_reason="Met the CEO at the fair")
    assert refused.status_code == 403
    response = _move(marketing_manager, lead, to="mql", override_reason="Met the CEO at the fair")
    assert response.status_code == 200, response.json()
    event = StageEvent.objects.get(pk=response.json()["event"])
    assert event.override is True and "Met the CEO" in event.reason
    assert event.actor_team == "marketing"


def test_the_override_on_the_page_is_a_form_field_for_marketing_managers(
    client, territory, team, marketer, marketing_manager
):
    lead = _unqualified()
    client.force_login(marketer)
    assert 'name="override_reason"' not in client.get(f"/leads/{lead.pk}/").content.decode()
    response = client.post(f"/leads/{lead.pk}/move/", {"to_stage": "mql"})
    assert response.status_code == 200
    assert "below the agreed threshold" in response.content.decode()
    client.force_login(marketing_manager)
    assert 'name="override_reason"' in client.get(f"/leads/{lead.pk}/").content.decode()
    response = client.post(
        f"/leads/{lead.pk}/move/", {"to_stage": "mql", "override_reason": "Strategic account"}
    )
    assert response.status_code == 302
    assert StageEvent.objects.filter(lead=lead, to_stage="mql", override=True).exists()


def test_the_agreement_page_says_which_entry_criteria_accord_checks(client, territory, rep):
    client.force_login(rep)
    body = client.get("/agreement/").content.decode()
    assert "Checked by Accord" in body and "Checked by people" in body
    assert "The lead has an open deal." in body
    # What stops the SLA clock, and how long a rejected lead rests, are on the page too.
    assert "What stops the SLA clock" in body and "never a contact" in body
    assert "rests 30 days before it may return" in body


# --- 3. only sales decides on MQLs ------------------------------------------------------------


def test_a_marketer_cannot_reject_or_accept_a_reps_mql(territory, team, marketer):
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=team[0])
    for body in ({"to": "recycled", "reason_code": "no-budget"}, {"to": "sal"}):
        assert _move(marketer, lead, **body).status_code == 403
    with pytest.raises(PermissionDenied):
        lead_transition(
            lead=lead, to_stage=StageKey.RECYCLED, actor=marketer, reason_code="no-budget"
        )
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL


def test_marketing_still_decides_before_the_hand_off(territory, marketer):
    lead = _unqualified()
    response = _move(marketer, lead, to="disqualified", reason_code="spam")
    assert response.status_code == 200, response.json()


# --- 4. a rejected lead rests -------------------------------------------------------------------


def _touch(lead, at, kind="demo_request"):
    return Touch.objects.create(lead=lead, kind=kind, occurred_at=at)


def test_a_rejected_lead_rests_and_returns_only_on_fresh_engagement(territory, team):
    rep = team[0]
    now = timezone.now()
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep, at=now - timedelta(days=40))
    _touch(lead, now - timedelta(days=39))
    lead_transition(
        lead=lead,
        to_stage=StageKey.RECYCLED,
        actor=rep,
        reason_code="bad-timing",
        reason="Budget next quarter",
        at=now - timedelta(days=35),
    )
    lead.refresh_from_db()
    assert lead.rest_until == now - timedelta(days=5)
    # Rescoring (the nightly decay) does not bring it back on old engagement.
    scores_decay_apply(now=now)
    lead.refresh_from_db()
    assert lead.stage == StageKey.RECYCLED
    _touch(lead, now - timedelta(days=1))
    scores_decay_apply(now=now)
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL and lead.rest_until is None


def test_a_lead_still_resting_is_not_an_mql_even_with_new_engagement(territory, team, marketer):
    rep = team[0]
    now = timezone.now()
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    lead_transition(lead=lead, to_stage=StageKey.RECYCLED, actor=rep, reason_code="no-budget")
    _touch(lead, now + timedelta(seconds=1))
    scores_decay_apply(now=now + timedelta(days=1))
    lead.refresh_from_db()
    assert lead.stage == StageKey.RECYCLED
    response = _move(marketer, lead, to="mql")
    assert response.status_code == 400 and "rests until" in response.json()["to"][0]


def test_the_rep_sees_the_earlier_rejection_when_the_lead_returns(
    client, territory, team, marketing_manager
):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    lead_transition(
        lead=lead, to_stage=StageKey.RECYCLED, actor=rep, reason_code="no-budget",
        reason="Frozen budget",
    )  # fmt: skip
    lead_transition(
        lead=lead, to_stage=StageKey.MQL, actor=marketing_manager, override_reason="New budget"
    )
    client.force_login(rep)
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Rejected before" in body and "no-budget" in body and "Frozen budget" in body


# --- 5. what stops the SLA clock is agreed ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("call", "no_answer"),
        ("call", "left_message"),
        ("note", "completed"),
        ("email", "completed"),
    ],
)
def test_an_attempt_is_logged_but_the_clock_runs_on(territory, team, kind, outcome):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    due = lead.sla_due_at
    follow_up = follow_up_log(lead=lead, author=rep, kind=kind, outcome=outcome)
    assert follow_up.is_contact is False and follow_up.within_sla is None
    lead.refresh_from_db()
    assert lead.sla_due_at == due and lead.first_follow_up_at is None


def test_a_contact_stops_the_clock_and_earns_credit(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    follow_up = follow_up_log(lead=lead, author=rep, kind="call", outcome="connected")
    assert follow_up.is_contact is True and follow_up.within_sla is True
    lead.refresh_from_db()
    assert lead.sla_due_at is None and lead.first_follow_up_at == follow_up.occurred_at


def test_the_follow_up_form_has_no_preselected_outcome(client, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    select = page[page.index('name="outcome"') :]
    select = select[: select.index("</select>")]
    chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', select)
    assert chosen in ([], [""])  # only the "What came of it?" prompt
    response = client.post(f"/leads/{lead.pk}/follow-ups/", {"kind": "call"})
    assert response.status_code == 200
    assert "Choose what came of it." in response.content.decode()
    assert not FollowUp.objects.filter(lead=lead).exists()
    lead.refresh_from_db()
    assert lead.sla_due_at is not None


def test_a_marketer_on_the_lead_page_cannot_reject_a_reps_mql(client, territory, team, marketer):
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=team[0])
    client.force_login(marketer)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Reject to marketing" not in page
    response = client.post(f"/leads/{lead.pk}/reject/", {"reason_code": "no-budget"}, follow=True)
    assert response.status_code == 200
    assert "Only the lead&#x27;s owner or a sales manager decides on an MQL." in (
        response.content.decode()
    )
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL


def test_an_attempt_through_the_api_is_effort_and_the_clock_runs_on(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    due = lead.sla_due_at
    response = _api(rep).post(
        f"/api/v1/leads/{lead.pk}/follow-ups/", {"kind": "call", "outcome": "no_answer"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["within_sla"] is None
    lead.refresh_from_db()
    assert lead.sla_due_at == due
    missing = _api(rep).post(
        f"/api/v1/leads/{lead.pk}/follow-ups/", {"kind": "call"}, format="json"
    )
    assert missing.status_code == 400 and "outcome" in missing.json()


# --- 8. dates outside the sane window are field errors in the services too -----------------


def test_the_services_refuse_dates_outside_the_window(territory, team):
    from datetime import date, datetime

    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    year_one = datetime(1, 1, 2, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        follow_up_log(lead=lead, author=rep, kind="call", outcome="connected", occurred_at=year_one)
    assert "occurred_at" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        follow_up_log(
            lead=lead, author=rep, kind="call", outcome="connected",
            next_follow_up_at=datetime(9999, 12, 31, tzinfo=UTC),
        )  # fmt: skip
    assert "next_follow_up_at" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        deal_create(lead=lead, actor=rep, amount=10, expected_close=date(9999, 12, 31))
    assert "expected_close" in caught.value.message_dict
    deal = deal_create(lead=lead, actor=rep, amount=10)
    with pytest.raises(ValidationError) as caught:
        deal_close(deal=deal, actor=rep, outcome="won", closed_at=year_one)
    assert "closed_at" in caught.value.message_dict
    assert FollowUp.objects.filter(lead=lead).count() == 0
    assert Deal.objects.get(pk=deal.pk).outcome == DealOutcome.OPEN
