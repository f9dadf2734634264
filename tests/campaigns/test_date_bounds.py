"""Campaign, spend, touch and period dates outside config/dates.py's windows: a form error on
the page, a 400 with field errors from the API, never a crash, and nothing stored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign, SpendEntry, Touch
from tests.factories import CampaignFactory, LeadFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]

OUTSIDE = ["9999-12-31", "0001-01-01"]


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_campaign_form_refuses_dates_beyond_five_years_or_before_1970(client, marketer, day):
    client.force_login(marketer)
    body = {"name": "Far", "channel": "email", "status": "planned", "budget": "1"}
    response = client.post(reverse("campaigns:create"), {**body, "starts_on": day})
    assert response.status_code == 400
    assert "plans reach at most five years ahead" in response.content.decode()
    response = client.post(
        reverse("campaigns:create"), {**body, "starts_on": "2026-01-01", "ends_on": day}
    )
    assert "plans reach at most five years ahead" in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_spend_form_refuses_a_date_outside_history(client, marketer, day):
    campaign = CampaignFactory(owner=marketer)
    client.force_login(marketer)
    response = client.post(
        reverse("campaigns:spend-add", args=[campaign.pk]), {"date": day, "amount": "5"}
    )
    assert response.status_code == 400
    assert "Enter a date between 1970-01-01 and" in response.content.decode()
    assert not SpendEntry.objects.exists()


def test_a_period_ending_in_year_9999_is_a_form_error_not_a_crash(client, marketer):
    client.force_login(marketer)
    response = client.get(reverse("campaigns:list"), {"start": "0001-01-01", "end": "9999-12-31"})
    assert response.status_code == 200
    assert response.content.decode().count("Enter a date between 1970-01-01 and") == 2


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_campaign_spend_and_touch_apis_answer_400_with_field_errors(marketer, day, api_client):
    client = api_client(marketer)
    body = {"name": "Far", "channel": "email", "starts_on": day, "ends_on": day}
    response = client.post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 400 and {"starts_on", "ends_on"} <= response.json().keys()
    assert "five years" in response.json()["starts_on"][0]

    campaign = CampaignFactory(owner=marketer)
    response = client.patch(f"/api/v1/campaigns/{campaign.pk}/", {"ends_on": day}, format="json")
    assert response.status_code == 400 and "ends_on" in response.json()
    response = client.post(
        f"/api/v1/campaigns/{campaign.pk}/spend/", {"date": day, "amount": "5"}, format="json"
    )
    assert response.status_code == 400 and "1970-01-01" in response.json()["date"][0]
    touch = {"lead": LeadFactory().pk, "kind": "page_visit", "occurred_at": f"{day}T10:00:00Z"}
    response = client.post("/api/v1/touches/", touch, format="json")
    assert response.status_code == 400 and "occurred_at" in response.json()

    ends_on = campaign.ends_on
    campaign.refresh_from_db()
    assert Campaign.objects.count() == 1 and campaign.ends_on == ends_on
    assert not SpendEntry.objects.exists() and not Touch.objects.exists()
