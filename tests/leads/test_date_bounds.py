"""Follow-up and deal dates outside config/dates.py's windows: a form error on the page,
a 400 with field errors from the API, and nothing stored."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from alignment.models import StageKey
from leads.models import Deal, DealOutcome, FollowUp
from leads.services.deals import deal_create
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

OUTSIDE = ["9999-12-31", "0001-01-01"]


@pytest.fixture
def api():
    return APIClient()


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_follow_up_form_refuses_dates_outside_the_windows(client, territory, team, day):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/",
        {"kind": "call", "outcome": "connected", "occurred_at": f"{day}T10:00"},
    )
    expected = "cannot happen in the future" if day > "2000" else "Enter a date between 1970"
    assert expected in response.content.decode()
    response = client.post(
        f"/leads/{lead.pk}/follow-ups/",
        {"kind": "call", "outcome": "connected", "next_follow_up_at": f"{day}T10:00"},
    )
    assert "plans reach at most five years ahead" in response.content.decode()
    assert not FollowUp.objects.exists()


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_deal_form_refuses_an_expected_close_outside_five_years(client, territory, team, day):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/deals/", {"name": "Pilot", "amount": "10", "expected_close": day}
    )
    assert "plans reach at most five years ahead" in response.content.decode()
    assert not Deal.objects.exists()


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_close_deal_form_refuses_a_close_time_outside_history(client, territory, team, day):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal = deal_create(lead=lead, actor=rep, amount="10")
    client.force_login(rep)
    response = client.post(
        f"/leads/{lead.pk}/deals/{deal.pk}/close/",
        {"outcome": "won", "closed_at": f"{day}T10:00", "confirmed": "yes"},
    )
    expected = "cannot close in the future" if day > "2000" else "Enter a date between 1970"
    assert expected in response.content.decode()
    deal.refresh_from_db()
    assert deal.outcome == DealOutcome.OPEN


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_follow_up_api_answers_400_for_dates_outside_the_windows(api, territory, team, day):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post(
        f"/api/v1/leads/{lead.pk}/follow-ups/",
        {
            "kind": "call",
            "outcome": "connected",
            "occurred_at": f"{day}T10:00:00Z",
            "next_follow_up_at": f"{day}T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert {"occurred_at", "next_follow_up_at"} <= response.json().keys()
    assert not FollowUp.objects.exists()


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_deal_api_answers_400_for_dates_outside_the_windows(api, territory, team, day):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post(
        "/api/v1/deals/",
        {"lead": lead.pk, "amount": "10", "expected_close": day},
        format="json",
    )
    assert response.status_code == 400 and "expected_close" in response.json()
    assert "five years" in response.json()["expected_close"][0]
    assert not Deal.objects.exists()

    deal = deal_create(lead=lead, actor=rep, amount="10")
    response = api.patch(f"/api/v1/deals/{deal.pk}/", {"expected_close": day}, format="json")
    assert response.status_code == 400 and "expected_close" in response.json()
    response = api.patch(
        f"/api/v1/deals/{deal.pk}/",
        {"outcome": "won", "closed_at": f"{day}T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and "closed_at" in response.json()
    deal.refresh_from_db()
    assert deal.outcome == DealOutcome.OPEN and deal.expected_close is None


@pytest.mark.parametrize("week", OUTSIDE)
def test_the_team_week_outside_the_windows_falls_back_to_this_week(
    client, territory, sales_manager, week
):
    client.force_login(sales_manager)
    response = client.get("/leads/team/", {"week": week})
    assert response.status_code == 200
    assert "Showing this week." in response.content.decode()
