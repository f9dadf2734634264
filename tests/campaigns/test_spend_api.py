"""Spend corrections over the API: PATCH and DELETE of a spend entry, each with a reason,
through the same services as the campaign page (recorded as SpendCorrection)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import SpendCorrection, SpendEntry
from tests.factories import CampaignFactory, SpendEntryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(marketer):
    campaign = CampaignFactory(owner=marketer)
    return SpendEntryFactory(campaign=campaign, date=date(2026, 11, 2), amount=Decimal("400.00"))


def _url(entry) -> str:
    return reverse("api-campaign-spend-entry", args=[entry.campaign_id, entry.pk])


def test_a_marketer_corrects_an_amount_with_a_reason(entry, marketer, api_client):
    response = api_client(marketer).patch(
        _url(entry), {"amount": "450.00", "reason": "Invoice says 450"}, format="json"
    )
    assert response.status_code == 200, response.content
    entry.refresh_from_db()
    assert entry.amount == Decimal("450.00")
    correction = SpendCorrection.objects.get()
    assert (correction.reason, correction.actor) == ("Invoice says 450", marketer)
    assert response.json()["action"] == correction.action


@pytest.mark.parametrize(
    "body",
    [{"amount": "450.00"}, {"amount": "400.00", "reason": "same"}, {"amount": "-1", "reason": "x"}],
)
def test_a_correction_without_reason_or_change_is_400_and_changes_nothing(
    entry, marketer, api_client, body
):
    response = api_client(marketer).patch(_url(entry), body, format="json")
    assert response.status_code == 400
    entry.refresh_from_db()
    assert entry.amount == Decimal("400.00") and not SpendCorrection.objects.exists()


def test_a_marketer_removes_spend_with_a_reason_once(entry, marketer, api_client):
    client = api_client(marketer)
    assert client.delete(_url(entry), {}, format="json").status_code == 400
    response = client.delete(_url(entry) + "?reason=Booked%20twice")
    assert response.status_code == 200
    assert not SpendEntry.objects.filter(pk=entry.pk).exists()
    assert SpendCorrection.objects.get().reason == "Booked twice"
    assert client.delete(_url(entry) + "?reason=again").status_code == 404


def test_sales_may_read_but_not_correct_spend(entry, rep, api_client):
    client = api_client(rep)
    assert client.get(_url(entry)).status_code == 200
    body = {"amount": "1.00", "reason": "x"}
    assert client.patch(_url(entry), body, format="json").status_code == 403
    assert client.delete(_url(entry) + "?reason=x").status_code == 403
    entry.refresh_from_db()
    assert entry.amount == Decimal("400.00")


def test_an_entry_of_another_campaign_is_404(entry, marketer, api_client):
    other = CampaignFactory(owner=marketer)
    url = reverse("api-campaign-spend-entry", args=[other.pk, entry.pk])
    assert api_client(marketer).get(url).status_code == 404


def test_the_schema_states_the_service_s_reason_limit(db):
    from drf_spectacular.generators import SchemaGenerator

    from campaigns.services import SPEND_REASON_MAX

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    limits = {
        name: schema["properties"]["reason"]["maxLength"]
        for name, schema in components.items()
        if "maxLength" in schema.get("properties", {}).get("reason", {}) and "Spend" in name
    }
    assert limits and set(limits.values()) == {SPEND_REASON_MAX}, limits
