"""intel/ and disputes/ per shared/API.md: roles, status changes, resolve by executives only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment.accounts.roles import Role
from alignment.feedback.services import dispute_raise, intel_submit
from alignment.models import Dispute, DisputeStatus, FieldIntel, IntelStatus, Notification
from tests.factories import CampaignFactory, DealFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(rep, marketer):
    return LeadFactory(owner=rep, campaign=CampaignFactory(owner=marketer))


def test_the_endpoints_need_auth(api_client):
    for url in ("/api/v1/intel/", "/api/v1/disputes/", "/api/v1/intel/1/", "/api/v1/disputes/1/"):
        assert api_client().get(url).status_code == 401


def test_a_rep_creates_intel_and_marketing_lists_and_filters_it(rep, marketer, lead, api_client):
    response = api_client(rep).post(
        "/api/v1/intel/",
        {
            "kind": "competitor",
            "text": "Rivalix again",
            "lead": lead.pk,
            "competitor_name": "Rivalix",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "new" and body["author"] == rep.pk
    assert body["competitor_name"] == "Rivalix" and body["lead"] == lead.pk
    assert body["acknowledged_at"] is None
    listed = api_client(marketer).get("/api/v1/intel/", {"status": "new", "lead": lead.pk}).json()
    assert [i["id"] for i in listed["results"]] == [body["id"]]
    assert "next" in listed and "previous" in listed
    assert (
        api_client(marketer).get("/api/v1/intel/", {"status": "actioned"}).json()["results"] == []
    )
    assert api_client(marketer).get("/api/v1/intel/", {"status": "bogus"}).status_code == 400


def test_intel_create_refuses_bad_input_with_field_errors(rep, lead, api_client):
    response = api_client(rep).post(
        "/api/v1/intel/", {"kind": "gossip", "lead": 999999}, format="json"
    )
    assert response.status_code == 400
    assert {"kind", "text", "lead"} <= set(response.json())
    response = api_client(rep).post(
        "/api/v1/intel/",
        {"kind": "market", "text": "x", "lead": lead.pk, "deal": DealFactory().pk},
        format="json",
    )
    assert response.status_code == 400 and "deal" in response.json()
    response = api_client(rep).post(
        "/api/v1/intel/", {"kind": "market", "text": "x"}, format="json"
    )
    assert response.status_code == 400 and "lead" in response.json()
    assert not FieldIntel.objects.exists()


@pytest.mark.parametrize("role", [Role.MARKETER, Role.MARKETING_MANAGER, Role.EXECUTIVE])
def test_only_sales_creates_intel(role, lead, api_client):
    response = api_client(UserFactory(role=role)).post(
        "/api/v1/intel/", {"kind": "market", "text": "x", "lead": lead.pk}, format="json"
    )
    assert response.status_code == 403 and "detail" in response.json()


def test_marketing_patches_status_and_response_with_times_and_one_notice(
    rep, marketer, lead, api_client
):
    intel = intel_submit(author=rep, kind="objection", text="No SSO", lead=lead)
    url = f"/api/v1/intel/{intel.pk}/"
    assert api_client(rep).patch(url, {"status": "acknowledged"}, format="json").status_code == 403
    response = api_client(marketer).patch(
        url, {"status": "acknowledged", "response": "On the roadmap"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "acknowledged" and body["acknowledged_at"] is not None
    assert body["acknowledged_by"] == marketer.pk and body["actioned_at"] is None
    again = api_client(marketer).patch(
        url, {"status": "acknowledged", "response": "x"}, format="json"
    )
    assert again.status_code == 200  # the same status: the response is edited, nobody re-told
    assert Notification.objects.filter(recipient=rep, event="intel.responded").count() == 1
    assert api_client(marketer).patch(url, {"status": "actioned"}, format="json").status_code == 400
    response = api_client(marketer).patch(
        url, {"status": "actioned", "response": "Shipped an SSO FAQ"}, format="json"
    )
    body = response.json()
    assert body["status"] == "actioned" and body["actioned_at"] is not None
    assert body["acknowledged_at"] is not None
    assert Notification.objects.filter(recipient=rep, event="intel.responded").count() == 2
    back = api_client(marketer).patch(url, {"status": "new"}, format="json")
    assert back.status_code == 400 and "status" in back.json()
    assert api_client(marketer).patch(url, {}, format="json").status_code == 400
    assert api_client(marketer).patch("/api/v1/intel/999999/", {}, format="json").status_code == 404


def test_anyone_on_a_team_raises_a_dispute_and_executives_cannot(
    rep, marketer, executive, lead, api_client
):
    response = api_client(marketer).post(
        "/api/v1/disputes/",
        {"lead": lead.pk, "kind": "rejection", "reason": "Good fit"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["raised_by_team"] == "marketing" and response.json()["status"] == "open"
    response = api_client(executive).post(
        "/api/v1/disputes/", {"lead": lead.pk, "kind": "lead_quality", "reason": "x"}, format="json"
    )
    assert response.status_code == 403
    response = api_client(rep).post(
        "/api/v1/disputes/",
        {"lead": lead.pk, "kind": "deal_credit", "reason": "mine"},
        format="json",
    )
    assert response.status_code == 400 and "deal" in response.json()
    response = api_client(rep).post("/api/v1/disputes/", {"lead": "x", "kind": "?"}, format="json")
    assert response.status_code == 400 and {"lead", "kind", "reason"} <= set(response.json())


@pytest.mark.parametrize(
    "role", [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETER, Role.MARKETING_MANAGER]
)
@pytest.mark.parametrize("how", ["patch", "resolve"])
def test_only_executives_resolve_disputes_through_the_api(role, how, marketer, lead, api_client):
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    client = api_client(UserFactory(role=role))
    data = {"decision": "for_sales", "resolution_note": "mine"}
    if how == "patch":
        response = client.patch(f"/api/v1/disputes/{dispute.pk}/", data, format="json")
    else:
        response = client.post(f"/api/v1/disputes/{dispute.pk}/resolve/", data, format="json")
    assert response.status_code == 403 and "detail" in response.json()
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN


@pytest.mark.parametrize("how", ["patch", "resolve"])
def test_an_executive_resolves_and_both_sides_are_notified_once(
    how, rep, marketer, executive, lead, api_client
):
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    client = api_client(executive)
    bad = {"decision": "whatever", "resolution_note": ""}
    good = {"decision": "for_marketing", "resolution_note": "Fit was met"}
    url = f"/api/v1/disputes/{dispute.pk}/" + ("" if how == "patch" else "resolve/")

    def send(data):
        method = client.patch if how == "patch" else client.post
        return method(url, data, format="json")

    response = send(bad)
    assert response.status_code == 400 and {"decision", "resolution_note"} <= set(response.json())
    response = send(good)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "resolved" and body["decision"] == "for_marketing"
    assert body["resolved_by"] == executive.pk and body["resolved_at"] is not None
    again = send(good)
    assert again.status_code == 400
    for user in (marketer, rep):
        assert Notification.objects.filter(recipient=user, event="dispute.resolved").count() == 1
    listed = api_client(rep).get("/api/v1/disputes/", {"status": "resolved"}).json()["results"]
    assert [d["id"] for d in listed] == [dispute.pk]
    assert (
        api_client(executive)
        .post("/api/v1/disputes/999999/resolve/", good, format="json")
        .status_code
        == 404
    )


def test_the_lists_cost_the_same_queries_for_more_rows(rep, marketer, api_client):
    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client(marketer).get(url).status_code == 200
        return len(ctx)

    lead = LeadFactory(owner=rep)
    intel_submit(author=rep, kind="market", text="x", lead=lead, competitor_name="A")
    dispute_raise(user=rep, lead=lead, kind="lead_quality", reason="x")
    count("/api/v1/intel/")  # warm up: the user's permissions are read once
    few = (count("/api/v1/intel/"), count("/api/v1/disputes/"))
    for i in range(5):
        other = LeadFactory(owner=rep)
        intel_submit(author=rep, kind="market", text="y", lead=other, competitor_name=f"B{i}")
        dispute_raise(user=rep, lead=other, kind="lead_quality", reason="y")
    assert (count("/api/v1/intel/"), count("/api/v1/disputes/")) == few
    assert (
        Dispute.objects.count() == 6
        and FieldIntel.objects.filter(status=IntelStatus.NEW).count() == 6
    )


def test_the_schema_documents_intel_and_disputes(rep, api_client):
    response = api_client(rep).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for route in (
        "/api/v1/intel/",
        "/api/v1/intel/{id}/",
        "/api/v1/disputes/",
        "/api/v1/disputes/{id}/",
        "/api/v1/disputes/{id}/resolve/",
    ):
        assert route in paths
    assert "patch" in paths["/api/v1/disputes/{id}/"]
    assert "403" in paths["/api/v1/disputes/{id}/resolve/"]["post"]["responses"]


@pytest.mark.parametrize("url", ["/api/v1/intel/", "/api/v1/disputes/", "/api/v1/touches/"])
def test_date_time_filters_take_any_offset_and_refuse_out_of_range_values(
    url, marketer, api_client
):
    """Offsets PostgreSQL refuses (beyond ±15:59) are normalised to UTC, not a 500."""
    name = "occurred_after" if "touches" in url else "created_after"
    ok = api_client(marketer).get(url, {name: "4165-06-23T20:30:24-20:20"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["results"] == []
    bad = api_client(marketer).get(url, {name: "9999-12-31T23:59:59-23:00"})
    assert bad.status_code == 400
    assert name in bad.json()
