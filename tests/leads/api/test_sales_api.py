"""The sales API: follow-ups, claim, reassign, deals; roles as in the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from alignment.models import StageKey
from leads.models import Deal, DealOutcome, FollowUp, Lead
from leads.services.follow_ups import follow_up_log
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_every_sales_endpoint_needs_authentication(api, territory):
    lead = make_lead(email="a@acme.pl")
    for method, url in [
        ("get", f"/api/v1/leads/{lead.pk}/follow-ups/"),
        ("post", f"/api/v1/leads/{lead.pk}/follow-ups/"),
        ("post", f"/api/v1/leads/{lead.pk}/claim/"),
        ("post", f"/api/v1/leads/{lead.pk}/reassign/"),
        ("get", "/api/v1/deals/"),
        ("post", "/api/v1/deals/"),
    ]:
        assert getattr(api, method)(url).status_code == 401, url


def test_the_owner_logs_a_follow_up_and_lists_it(api, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post(
        f"/api/v1/leads/{lead.pk}/follow-ups/",
        {
            "kind": "call",
            "outcome": "meeting_booked",
            "notes": "Booked",
            "next_follow_up_at": (timezone.now() + timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["author"] == rep.pk and body["within_sla"] is True and body["lead"] == lead.pk
    listed = api.get(f"/api/v1/leads/{lead.pk}/follow-ups/").json()
    assert [f["id"] for f in listed["results"]] == [body["id"]]
    assert {"next", "previous"} <= listed.keys()
    assert Lead.objects.get(pk=lead.pk).sla_due_at is None


def test_a_rep_cannot_log_on_or_move_another_reps_lead_through_the_api(api, territory, team):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=other)
    api.force_authenticate(rep)
    response = api.post(
        f"/api/v1/leads/{lead.pk}/follow-ups/",
        {"kind": "call", "outcome": "connected"},
        format="json",
    )
    assert response.status_code == 403 and "detail" in response.json()
    response = api.post(f"/api/v1/leads/{lead.pk}/transition/", {"to": "sal"}, format="json")
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL and FollowUp.objects.count() == 0


def test_bad_follow_ups_get_400_with_field_errors(api, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post(
        f"/api/v1/leads/{lead.pk}/follow-ups/", {"kind": "fax", "outcome": ""}, format="json"
    )
    assert response.status_code == 400
    assert {"kind", "outcome"} <= response.json().keys()
    future = (timezone.now() + timedelta(days=2)).isoformat()
    response = api.post(
        f"/api/v1/leads/{lead.pk}/follow-ups/",
        {"kind": "call", "outcome": "connected", "occurred_at": future},
        format="json",
    )
    assert response.status_code == 400 and "occurred_at" in response.json()
    assert api.get("/api/v1/leads/999999/follow-ups/").status_code == 404


def test_the_follow_up_lists_query_count_does_not_grow(api, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SAL, owner=rep)
    api.force_authenticate(rep)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(f"/api/v1/leads/{lead.pk}/follow-ups/").status_code == 200
        return len(ctx.captured_queries)

    follow_up_log(lead=lead, author=rep, kind="call", outcome="connected")
    count()  # warm the permission cache
    few = count()
    for _ in range(15):
        follow_up_log(lead=lead, author=rep, kind="email", outcome="connected")
    assert count() == few


def test_claim_answers_200_to_the_winner_and_409_to_the_next(api, territory, team, marketer):
    lead = make_lead(email="free@acme.pl")
    rep, other = team
    api.force_authenticate(rep)
    response = api.post(f"/api/v1/leads/{lead.pk}/claim/")
    assert response.status_code == 200 and response.json()["owner"] == rep.pk
    api.force_authenticate(other)
    response = api.post(f"/api/v1/leads/{lead.pk}/claim/")
    assert response.status_code == 409
    assert "claimed this lead first" in response.json()["detail"]
    api.force_authenticate(marketer)
    assert api.post(f"/api/v1/leads/{lead.pk}/claim/").status_code == 403
    assert api.post("/api/v1/leads/999999/claim/").status_code == 404


def test_a_manager_reassigns_through_the_api_and_a_rep_gets_403(
    api, territory, team, sales_manager, marketer
):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post(f"/api/v1/leads/{lead.pk}/reassign/", {"owner": other.pk}, format="json")
    assert response.status_code == 403
    api.force_authenticate(sales_manager)
    response = api.post(f"/api/v1/leads/{lead.pk}/reassign/", {"owner": marketer.pk}, format="json")
    assert response.status_code == 400 and "owner" in response.json()
    response = api.post(f"/api/v1/leads/{lead.pk}/reassign/", {"owner": other.pk}, format="json")
    assert response.status_code == 200 and response.json()["owner"] == other.pk
    assert Lead.objects.get(pk=lead.pk).owner == other


def test_deals_are_created_listed_and_closed_through_the_api(api, territory, team, executive):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post(
        "/api/v1/deals/",
        {"lead": lead.pk, "amount": "15000.00", "expected_close": "2026-12-20"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    deal = response.json()
    assert deal["outcome"] == "open" and deal["amount"] == "15000.00"
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.OPPORTUNITY
    assert api.get("/api/v1/deals/", {"outcome": "open"}).json()["results"][0]["id"] == deal["id"]
    assert api.get(f"/api/v1/deals/{deal['id']}/").json()["lead"] == lead.pk
    response = api.patch(f"/api/v1/deals/{deal['id']}/", {"outcome": "lost"}, format="json")
    assert response.status_code == 400 and "lost_reason" in response.json()
    api.force_authenticate(executive)
    response = api.patch(f"/api/v1/deals/{deal['id']}/", {"outcome": "won"}, format="json")
    assert response.status_code == 403
    api.force_authenticate(rep)
    response = api.patch(
        f"/api/v1/deals/{deal['id']}/",
        {"amount": "16000", "outcome": "lost", "lost_reason": "competitor"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    closed = response.json()
    assert closed["outcome"] == "lost" and closed["amount"] == "16000.00"
    assert closed["closed_at"] is not None
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.LOST
    response = api.patch(f"/api/v1/deals/{deal['id']}/", {"outcome": "open"}, format="json")
    assert response.status_code == 400


def test_a_deal_on_an_unqualified_lead_or_with_bad_money_is_a_400(api, territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    api.force_authenticate(rep)
    response = api.post("/api/v1/deals/", {"lead": lead.pk, "amount": "100"}, format="json")
    assert response.status_code == 400 and "lead" in response.json()
    response = api.post("/api/v1/deals/", {"lead": lead.pk, "amount": "lots"}, format="json")
    assert response.status_code == 400 and "amount" in response.json()
    assert Deal.objects.count() == 0


def test_the_schema_documents_the_sales_endpoints(api, rep):
    api.force_authenticate(rep)
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for route, verbs in {
        "/api/v1/leads/{id}/follow-ups/": {"get", "post"},
        "/api/v1/leads/{id}/claim/": {"post"},
        "/api/v1/leads/{id}/reassign/": {"post"},
        "/api/v1/deals/": {"get", "post"},
        "/api/v1/deals/{id}/": {"get", "patch"},
    }.items():
        assert verbs <= paths[route].keys(), route
    assert "409" in paths["/api/v1/leads/{id}/claim/"]["post"]["responses"]
    assert "403" in paths["/api/v1/leads/{id}/follow-ups/"]["post"]["responses"]
    params = {p["name"] for p in paths["/api/v1/deals/"]["get"]["parameters"]}
    assert {"lead", "owner", "outcome", "closed_after"} <= params
    assert DealOutcome.WON in str(response.json()["components"]["schemas"])
