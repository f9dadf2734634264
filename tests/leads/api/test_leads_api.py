"""leads/ and leads/{id}/: filters, cursor pages, create/upsert/409, detail, PATCH rules."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment.models import StageKey
from leads.models import Lead
from leads.services import lead_create
from tests.factories import CampaignFactory, DealFactory, LeadFactory, TerritoryFactory

pytestmark = pytest.mark.django_db


def test_leads_need_auth(api_client):
    assert api_client().get("/api/v1/leads/").status_code == 401
    assert api_client().post("/api/v1/leads/", {"email": "a@b.co"}).status_code == 401


def test_the_list_is_cursor_paginated_and_filtered(active_agreement, marketer, rep, api_client):
    territory = TerritoryFactory(code="emea")
    for n in range(5):
        LeadFactory(email=f"l{n}@acme.io", company="Acme", stage=StageKey.MQL, owner=rep)
    LeadFactory(email="x@other.io", company="Other", territory=territory, score=80)

    page = api_client(marketer).get("/api/v1/leads/", {"page_size": 2}).json()
    assert set(page) >= {"next", "previous", "results"} and len(page["results"]) == 2
    assert "cursor=" in page["next"]
    second = api_client(marketer).get(page["next"]).json()
    assert not {r["id"] for r in second["results"]} & {r["id"] for r in page["results"]}

    assert len(api_client(marketer).get("/api/v1/leads/?stage=mql").json()["results"]) == 5
    assert len(api_client(marketer).get(f"/api/v1/leads/?owner={rep.pk}").json()["results"]) == 5
    assert [
        r["email"]
        for r in api_client(marketer).get("/api/v1/leads/?search=other").json()["results"]
    ] == ["x@other.io"]
    assert (
        len(api_client(marketer).get(f"/api/v1/leads/?territory={territory.pk}").json()["results"])
        == 1
    )
    assert len(api_client(marketer).get("/api/v1/leads/?score_min=50").json()["results"]) == 1
    assert api_client(marketer).get("/api/v1/leads/?created_after=not-a-date").status_code == 400


def test_the_list_costs_the_same_queries_whatever_the_page_size(
    active_agreement, marketer, api_client
):
    for n in range(60):
        LeadFactory(email=f"l{n}@acme.io")
    client = api_client(marketer, token=True)
    client.get("/api/v1/leads/")  # who the token is, and may do, is cached from here on
    counts = []
    for size in (5, 60):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/v1/leads/", {"page_size": size})
        assert response.status_code == 200 and len(response.json()["results"]) == size
        counts.append(len(ctx))
    assert counts[0] == counts[1] == 1  # the page; the token and permissions are cached


@pytest.mark.parametrize("path", ["/api/v1/leads/", "/api/v1/campaigns/"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(
    active_agreement, marketer, path, api_client
):
    for bad in ("null", "0", "-1", "2.5"):
        response = api_client(marketer).get(path, {"page_size": bad})
        assert response.status_code == 400 and response.json()["page_size"]
    assert api_client(marketer).get(path, {"page_size": 9999}).status_code == 200  # at most 500
    assert api_client(marketer).get(path, {"page_size": ""}).status_code == 200  # the default


@pytest.mark.parametrize("path", ["/api/v1/leads/", "/api/v1/deals/", "/api/v1/intel/"])
def test_an_id_filter_takes_a_whole_number_and_a_huge_one_matches_nothing(
    active_agreement, marketing_manager, path, api_client
):
    assert api_client(marketing_manager).get(path, {"owner": "1.5", "lead": "x"}).status_code == 400
    response = api_client(marketing_manager).get(path, {"lead": 10**30, "owner": 10**30})
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_marketer_creates_a_lead_and_gets_its_detail(active_agreement, marketer, api_client):
    campaign = CampaignFactory(utm_source="google", utm_medium="cpc", utm_campaign="spring")
    response = api_client(marketer).post(
        "/api/v1/leads/",
        {
            "email": "Ada@Example.com",
            "first_name": "Ada",
            "country": "de",
            "company_size": 500,
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["stage"] in ("inquiry", "mql") and body["country"] == "DE"
    assert body["campaign"] == campaign.pk
    assert body["stage_history"][0]["to_stage"] == "inquiry"
    assert isinstance(body["score_breakdown"], list) and "sla_due_at" in body
    assert Lead.objects.get().created_by == marketer


def test_a_rep_creates_a_lead_they_met_but_an_executive_may_not(
    active_agreement, rep, executive, api_client
):
    assert api_client(rep).post("/api/v1/leads/", {"email": "a@b.co"}).status_code == 201
    assert api_client(executive).post("/api/v1/leads/", {"email": "b@b.co"}).status_code == 403


def test_an_existing_email_in_another_case_is_409_with_its_id(
    active_agreement, marketer, api_client
):
    lead = LeadFactory(email="ada@example.com")
    response = api_client(marketer).post(
        "/api/v1/leads/", {"email": "ADA@example.com"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["id"] == lead.pk and response.json()["detail"]
    assert Lead.objects.count() == 1


def test_upsert_updates_the_existing_lead(active_agreement, marketer, api_client):
    lead = lead_create(data={"email": "ada@example.com"}, actor=None)
    response = api_client(marketer).post(
        "/api/v1/leads/?upsert=true",
        {"email": "ADA@example.com", "company": "Analytical Engines"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == lead.pk
    lead.refresh_from_db()
    assert lead.company == "Analytical Engines" and Lead.objects.count() == 1


def test_a_known_external_id_is_409_with_its_id_and_upsert_updates_that_lead(
    active_agreement, marketer, api_client
):
    lead = lead_create(data={"email": "ada@example.com", "external_id": "crm-1"}, actor=None)
    body = {"email": "ada.l@example.com", "external_id": "crm-1", "company": "Engines"}
    response = api_client(marketer).post("/api/v1/leads/", body, format="json")
    assert response.status_code == 409
    assert response.json()["id"] == lead.pk and response.json()["detail"]
    response = api_client(marketer).post("/api/v1/leads/?upsert=true", body, format="json")
    assert response.status_code == 200 and response.json()["id"] == lead.pk
    lead.refresh_from_db()
    assert (lead.email, lead.company, Lead.objects.count()) == ("ada.l@example.com", "Engines", 1)


def test_bad_input_is_400_with_field_errors(active_agreement, marketer, api_client):
    response = api_client(marketer).post(
        "/api/v1/leads/", {"email": "not-an-email", "company_size": -3}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"email", "company_size"}


def test_detail_shows_score_breakdown_history_and_sla(active_agreement, marketer, rep, api_client):
    lead = lead_create(
        data={
            "email": "ada@example.com",
            "company": "Acme",
            "company_size": 500,
            "title": "Head of Sales, Director",
        },
        actor=None,
    )
    assert lead.stage == StageKey.MQL  # 50 points earned by the default rules
    body = api_client(rep).get(f"/api/v1/leads/{lead.pk}/").json()
    assert [e["to_stage"] for e in body["stage_history"]] == ["inquiry", "mql"]
    assert body["sla_due_at"] is not None
    assert any(line["points"] for line in body["score_breakdown"])
    assert api_client(rep).get("/api/v1/leads/999999/").status_code == 404


def test_patch_changes_own_fields_and_refuses_read_only_ones(
    active_agreement, marketer, rep, api_client
):
    lead = lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    client = api_client(marketer)
    response = client.patch(f"/api/v1/leads/{lead.pk}/", {"company": "Acme"}, format="json")
    assert response.status_code == 200 and response.json()["company"] == "Acme"

    for field, value in [("stage", "won"), ("owner", rep.pk), ("score", 99)]:
        response = client.patch(f"/api/v1/leads/{lead.pk}/", {field: value}, format="json")
        assert response.status_code == 400 and field in response.json()
    lead.refresh_from_db()
    assert lead.stage == "inquiry" and lead.owner is None
    # Sending back what GET returned is fine.
    same = client.patch(
        f"/api/v1/leads/{lead.pk}/", {"stage": "inquiry", "company": "B"}, format="json"
    )
    assert same.status_code == 200


def test_patch_to_an_email_of_another_lead_is_409(active_agreement, marketer, api_client):
    LeadFactory(email="taken@example.com")
    lead = LeadFactory(email="ada@example.com")
    response = api_client(marketer).patch(
        f"/api/v1/leads/{lead.pk}/", {"email": "TAKEN@example.com"}, format="json"
    )
    assert response.status_code == 409


def test_delete_is_refused_for_roles_and_409_while_deals_exist(
    active_agreement, marketer, admin_user, api_client
):
    lead = LeadFactory()
    assert api_client(marketer).delete(f"/api/v1/leads/{lead.pk}/").status_code == 403
    DealFactory(lead=lead)
    assert api_client(admin_user).delete(f"/api/v1/leads/{lead.pk}/").status_code == 409
    other = LeadFactory()
    assert api_client(admin_user).delete(f"/api/v1/leads/{other.pk}/").status_code == 204
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_delete_is_refused_for_a_lead_with_stage_history_even_without_deals(
    active_agreement, admin_user, api_client
):
    lead = lead_create(
        data={"email": "kept@example.com", "company": "Acme", "company_size": 500,
              "title": "Head of IT, Director"},
        actor=None,
    )  # fmt: skip
    assert lead.stage == StageKey.MQL  # it moved: its history counts in the metrics
    response = api_client(admin_user).delete(f"/api/v1/leads/{lead.pk}/")
    assert response.status_code == 409 and "cannot be deleted" in response.json()["detail"]
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_the_list_answers_what_the_lead_serializer_gives(active_agreement, marketer, api_client):
    """The list is built from values() (leads.api.records.lead_list_row), not serializer
    instances: for every field, the same output, in the reader's time zone too."""
    from django.utils import timezone as tz

    from leads.api.records import LeadSerializer

    territory = TerritoryFactory(code="cee")
    campaign = CampaignFactory()
    LeadFactory(email="full@acme.io", company="Acme", territory=territory, campaign=campaign,
                score=42, company_size=120, custom_fields={"plan": "pro", "seats": 3},
                external_id="crm-1", country="PL")  # fmt: skip
    LeadFactory(email="bare@acme.io", company_size=None, external_id=None)
    body = api_client(marketer).get("/api/v1/leads/").json()["results"]
    expected = LeadSerializer(Lead.objects.order_by("-id"), many=True).data
    assert body == [dict(row) for row in expected]
    with tz.override("Asia/Jakarta"):  # as a reader's chosen zone is (the middleware)
        expected = LeadSerializer(Lead.objects.order_by("-id"), many=True).data
        body = api_client(marketer).get("/api/v1/leads/").json()["results"]
    assert body == [dict(row) for row in expected]
    assert body[0]["created_at"].endswith("+07:00")
