"""campaigns/, campaigns/{id}/, campaigns/{id}/spend/, touches/ per shared/API.md."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alignment.models import StageKey
from campaigns.models import Campaign, SpendEntry, Touch
from leads.models import DealOutcome
from tests.factories import CampaignFactory, DealFactory, LeadFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]


BODY = {
    "name": "Q3 webinar",
    "channel": "webinar",
    "utm_source": "newsletter",
    "utm_medium": "email",
    "utm_campaign": "q3-webinar",
    "starts_on": "2026-07-01",
    "ends_on": "2026-09-30",
    "budget": "4000.00",
}


def test_the_endpoints_need_auth(api_client):
    assert api_client().get("/api/v1/campaigns/").status_code == 401
    assert api_client().get("/api/v1/touches/").status_code == 401


def test_a_marketer_creates_a_campaign_and_reads_it_back(marketer, api_client):
    response = api_client(marketer).post("/api/v1/campaigns/", BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] == marketer.pk and body["budget"] == "4000.00"
    listed = api_client(marketer).get("/api/v1/campaigns/").json()
    assert [c["name"] for c in listed["results"]] == ["Q3 webinar"]
    assert set(listed) >= {"next", "previous", "results"}


def test_reps_read_campaigns_but_get_403_on_every_write(rep, marketer, api_client):
    campaign = CampaignFactory(owner=marketer, name="Keep")
    client = api_client(rep)
    assert client.get("/api/v1/campaigns/").status_code == 200
    assert client.get(f"/api/v1/campaigns/{campaign.pk}/").status_code == 200
    assert client.get(f"/api/v1/campaigns/{campaign.pk}/spend/").status_code == 200
    assert client.post("/api/v1/campaigns/", BODY, format="json").status_code == 403
    assert (
        client.patch(
            f"/api/v1/campaigns/{campaign.pk}/", {"name": "Mine"}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/campaigns/{campaign.pk}/spend/",
            {"date": "2026-01-01", "amount": "5"},
            format="json",
        ).status_code
        == 403
    )
    lead = LeadFactory()
    touch = {"lead": lead.pk, "kind": "page_visit", "occurred_at": timezone.now().isoformat()}
    assert client.post("/api/v1/touches/", touch, format="json").status_code == 403
    campaign.refresh_from_db()
    assert campaign.name == "Keep" and Campaign.objects.count() == 1
    assert not SpendEntry.objects.exists() and not Touch.objects.exists()


def test_a_marketer_patches_a_campaign(marketer, api_client):
    campaign = CampaignFactory(owner=marketer)
    response = api_client(marketer).patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"budget": "1234.50"}, format="json"
    )
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.budget == Decimal("1234.50")


def test_bad_campaign_input_is_400_with_field_errors(marketer, rep, api_client):
    CampaignFactory(name="Taken")
    client = api_client(marketer)
    response = client.post(
        "/api/v1/campaigns/",
        {**BODY, "name": "Taken", "ends_on": "2026-01-01", "budget": "-1", "channel": "tv"},
        format="json",
    )
    assert response.status_code == 400
    assert {"channel", "budget"} <= set(response.json())
    response = client.post("/api/v1/campaigns/", {**BODY, "name": "Taken"}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    response = client.post("/api/v1/campaigns/", {**BODY, "owner": rep.pk}, format="json")
    assert response.status_code == 400 and "owner" in response.json()
    response = client.post("/api/v1/campaigns/", {**BODY, "ends_on": "2026-06-01"}, format="json")
    assert response.status_code == 400
    assert Campaign.objects.count() == 1


def test_the_detail_adds_spend_leads_mqls_won_revenue_and_roi(marketer, api_client):
    today = timezone.localdate()
    campaign = CampaignFactory(owner=marketer, starts_on=today - timedelta(days=10), status="live")
    SpendEntry.objects.create(campaign=campaign, date=today, amount=Decimal("200.00"))
    lead = LeadFactory(campaign=campaign, company="Acme", mql_at=timezone.now())
    lead.stage_events.create(
        to_stage=StageKey.MQL, from_stage="inquiry", occurred_at=timezone.now()
    )
    LeadFactory(campaign=campaign)
    DealFactory(
        lead=lead, amount=Decimal("500.00"), outcome=DealOutcome.WON, closed_at=timezone.now()
    )
    body = api_client(marketer).get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert body["spend_total"] == "200.00"
    assert body["leads"] == 2 and body["mqls"] == 1
    assert body["won_revenue"] == "500.00"
    assert body["roi"] == pytest.approx(1.5)
    assert body["attribution_model"] == "first_touch"
    assert body["kpis"]["cost_per_lead"] == "100.00"
    assert body["kpis"]["cac"] == "200.00"
    assert body["period"]["start"] == campaign.starts_on.isoformat()
    later = api_client(marketer).get(
        f"/api/v1/campaigns/{campaign.pk}/", {"start": (today + timedelta(days=1)).isoformat()}
    )
    assert later.json()["spend_total"] == "0.00"
    bad = api_client(marketer).get(f"/api/v1/campaigns/{campaign.pk}/", {"start": "yesterday"})
    assert bad.status_code == 400 and "start" in bad.json()


def test_spend_is_listed_and_added_by_marketers(marketer, api_client):
    campaign = CampaignFactory(owner=marketer)
    url = f"/api/v1/campaigns/{campaign.pk}/spend/"
    response = api_client(marketer).post(
        url, {"date": "2026-02-02", "amount": "75.25", "note": "LinkedIn"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["amount"] == "75.25"
    assert (
        api_client(marketer)
        .post(url, {"date": "2026-02-02", "amount": "-1"}, format="json")
        .status_code
        == 400
    )
    assert (
        api_client(marketer).post(url, {"date": "x", "amount": "1"}, format="json").status_code
        == 400
    )
    listed = api_client(marketer).get(url).json()["results"]
    assert [(s["date"], s["amount"]) for s in listed] == [("2026-02-02", "75.25")]
    assert api_client(marketer).get("/api/v1/campaigns/999999/spend/").status_code == 404


def test_a_touch_pushed_by_email_rescores_the_lead_once_per_external_id(marketer, api_client):
    lead = LeadFactory(email="Ana@Acme.test", company="Acme", company_size=60)
    campaign = CampaignFactory()
    body = {
        "lead": "ana@acme.test",
        "campaign": campaign.pk,
        "kind": "demo_request",
        "occurred_at": timezone.now().isoformat(),
        "external_id": "hubspot-1",
    }
    first = api_client(marketer).post("/api/v1/touches/", body, format="json")
    assert first.status_code == 201, first.content
    again = api_client(marketer).post("/api/v1/touches/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    lead.refresh_from_db()
    assert lead.score == 60 and lead.stage == StageKey.MQL
    assert lead.campaign == campaign
    assert Touch.objects.count() == 1


def test_bad_touches_are_400(marketer, api_client):
    now = timezone.now().isoformat()
    client = api_client(marketer)
    response = client.post(
        "/api/v1/touches/",
        {"lead": "nobody@x.test", "kind": "page_visit", "occurred_at": now},
        format="json",
    )
    assert response.status_code == 400 and "lead" in response.json()
    lead = LeadFactory()
    response = client.post(
        "/api/v1/touches/",
        {"lead": lead.pk, "kind": "telepathy", "occurred_at": "soon"},
        format="json",
    )
    assert response.status_code == 400 and {"kind", "occurred_at"} <= set(response.json())


def test_touches_are_listed_with_a_cursor_and_filters_and_constant_queries(
    marketer, django_assert_max_num_queries, api_client
):
    campaign = CampaignFactory()
    lead = LeadFactory()
    for i in range(30):
        Touch.objects.create(
            lead=lead,
            campaign=campaign,
            kind="page_visit",
            occurred_at=timezone.now(),
            external_id=f"t{i}",
        )
    client = api_client(marketer)
    with django_assert_max_num_queries(6):
        page = client.get("/api/v1/touches/", {"page_size": 10, "campaign": campaign.pk}).json()
    assert len(page["results"]) == 10 and "cursor=" in page["next"]
    assert client.get("/api/v1/touches/", {"kind": "webinar"}).json()["results"] == []


def test_the_campaign_list_query_count_does_not_grow(
    marketer, django_assert_max_num_queries, api_client
):
    for _i in range(15):
        CampaignFactory(owner=marketer, starts_on=date(2026, 1, 1))
    with django_assert_max_num_queries(6):
        assert api_client(marketer).get("/api/v1/campaigns/").status_code == 200


def test_the_schema_documents_the_campaign_endpoints(marketer, api_client):
    schema = api_client(marketer).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{id}/",
        "/api/v1/campaigns/{id}/spend/",
        "/api/v1/touches/",
    } <= set(paths)
    assert "403" in paths["/api/v1/campaigns/"]["post"]["responses"]


def test_kpis_per_channel_for_a_period_match_the_page_figures(rep, api_client):
    from datetime import UTC, datetime

    campaign = CampaignFactory(channel="paid_search")
    SpendEntry.objects.create(campaign=campaign, date=date(2026, 1, 10), amount=Decimal("200"))
    SpendEntry.objects.create(campaign=campaign, date=date(2026, 2, 1), amount=Decimal("999"))
    lead = LeadFactory(campaign=campaign, created_at=datetime(2026, 1, 5, tzinfo=UTC))
    DealFactory(
        lead=lead,
        amount=Decimal("500.00"),
        outcome=DealOutcome.WON,
        closed_at=datetime(2026, 1, 20, tzinfo=UTC),
    )
    params = {"start": "2026-01-01", "end": "2026-02-01"}
    body = api_client(rep).get("/api/v1/campaigns/kpis/", {**params, "by": "channel"}).json()
    assert body["attribution_model"] == "first_touch"
    assert body["period"] == {"start": "2026-01-01", "end": "2026-02-01"}
    (row,) = body["rows"]
    assert row["key"] == "paid_search" and row["spend"] == "200.00"
    assert row["won_revenue"] == "500.00" and row["roi"] == pytest.approx(1.5)
    assert row["cost_per_lead"] == "200.00"
    by_campaign = api_client(rep).get("/api/v1/campaigns/kpis/", params).json()
    assert by_campaign["rows"][0]["key"] == str(campaign.pk)
    assert by_campaign["rows"][0]["won_revenue"] == "500.00"
    bad = api_client(rep).get(
        "/api/v1/campaigns/kpis/", {"by": "moon", "model": "x", "start": "no"}
    )
    assert bad.status_code == 400 and {"by"} <= set(bad.json())
