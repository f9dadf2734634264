"""agreements/, agreements/active/, agreements/{id}/sign/, stages/, leads/{id}/transition/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment.agreement.services import agreement_draft_create
from alignment.models import Agreement, AgreementStatus, StageKey
from leads.models import Deal, Lead, StageEvent
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_the_agreement_endpoints_need_auth(active_agreement, api_client):
    assert api_client().get("/api/v1/agreements/").status_code == 401
    assert api_client().get("/api/v1/stages/").status_code == 401


def test_active_returns_stages_criteria_slas_and_weights(active_agreement, rep, api_client):
    body = api_client(rep).get("/api/v1/agreements/active/").json()
    assert body["status"] == "active" and body["version"] == active_agreement.version
    assert [s["key"] for s in body["stages"]][:3] == ["inquiry", "mql", "sal"]
    assert body["slas"]["mql"] == 24
    assert body["criteria"]["mql_threshold"] == 50
    assert any(
        r["in_words"].startswith("company size (employees) is at least 50")
        for r in body["criteria"]["rules"]
    )
    assert body["weights"]["sla_compliance"] == 25


def test_stages_lists_the_active_funnel(active_agreement, rep, api_client):
    body = api_client(rep).get("/api/v1/stages/").json()
    mql = next(s for s in body["results"] if s["key"] == "mql")
    assert mql == {
        **mql,
        "name": "Marketing qualified lead",
        "order": 2,
        "owner_team": "marketing",
        "sla_hours": 24,
        "next": ["disqualified", "recycled", "sal"],
    }


def test_a_marketer_creates_a_draft_and_a_rep_may_not(active_agreement, marketer, rep, api_client):
    response = api_client(marketer).post("/api/v1/agreements/", {"title": "Tighter"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "draft" and response.json()["title"] == "Tighter"
    assert api_client(rep).post("/api/v1/agreements/", {}, format="json").status_code == 403
    listed = api_client(rep).get("/api/v1/agreements/").json()["results"]
    assert [a["status"] for a in listed] == ["draft", "active"]


def test_the_agreement_list_query_count_does_not_grow_with_versions(
    active_agreement, marketer, rep, api_client
):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api_client(rep).get("/api/v1/agreements/").status_code == 200
        return len(ctx.captured_queries)

    count()  # warm the user's permission cache
    before = count()
    for _ in range(4):
        agreement_draft_create(user=marketer)
    assert count() == before


def test_signing_through_the_api(
    active_agreement, marketer, rep, sales_manager, marketing_manager, api_client
):
    draft = agreement_draft_create(user=marketer)
    url = f"/api/v1/agreements/{draft.pk}/sign/"
    assert api_client(sales_manager).post(url).status_code == 400  # still a draft
    assert api_client(marketer).post(f"/api/v1/agreements/{draft.pk}/propose/").status_code == 200
    assert api_client(rep).post(url).status_code == 403
    assert api_client(marketer).post(url).status_code == 403
    first = api_client(sales_manager).post(url)
    assert first.status_code == 200 and first.json()["activated"] is False
    assert api_client(sales_manager).post(url).status_code == 400
    second = api_client(marketing_manager).post(url).json()
    assert second["activated"] is True and second["agreement"]["status"] == "active"
    assert Agreement.objects.get(pk=active_agreement.pk).status == AgreementStatus.SUPERSEDED
    assert api_client(rep).post("/api/v1/agreements/999999/sign/").status_code == 404


def test_a_transition_outside_the_funnel_is_a_400_and_changes_nothing(
    active_agreement, sales_manager, api_client
):
    lead = LeadFactory(stage=StageKey.INQUIRY)
    response = api_client(sales_manager).post(
        f"/api/v1/leads/{lead.pk}/transition/", {"to": "won"}, format="json"
    )
    assert response.status_code == 400
    assert "does not allow inquiry → won" in response.json()["to"][0]
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.INQUIRY
    assert not StageEvent.objects.filter(lead=lead).exists()
    bad = api_client(sales_manager).post(
        f"/api/v1/leads/{lead.pk}/transition/", {"to": "nowhere"}, format="json"
    )
    assert bad.status_code == 400 and "to" in bad.json()


def test_every_allowed_transition_leaves_a_stage_event(active_agreement, sales_manager, api_client):
    lead = LeadFactory(stage=StageKey.INQUIRY, company="Acme", score=60)
    path = [("mql", {}), ("sal", {}), ("sql", {}), ("opportunity", {}), ("won", {})]
    for to, extra in path:
        if to == "opportunity":  # the stage follows the deal
            deal = Deal.objects.create(lead=lead, name="Acme", amount=100)
        if to == "won":
            extra = {"deal": deal.pk}
        response = api_client(sales_manager).post(
            f"/api/v1/leads/{lead.pk}/transition/", {"to": to, **extra}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["stage"] == to
    events = list(StageEvent.objects.filter(lead=lead).values_list("from_stage", "to_stage"))
    assert events == [
        ("inquiry", "mql"),
        ("mql", "sal"),
        ("sal", "sql"),
        ("sql", "opportunity"),
        ("opportunity", "won"),
    ]
    assert StageEvent.objects.filter(lead=lead, source="api").count() == 5


def test_rejecting_an_mql_needs_an_agreed_reason_in_reason_or_reason_code(
    active_agreement, sales_manager, api_client
):
    lead = LeadFactory(stage=StageKey.MQL)
    url = f"/api/v1/leads/{lead.pk}/transition/"
    missing = api_client(sales_manager).post(url, {"to": "recycled"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    unknown = api_client(sales_manager).post(
        url, {"to": "recycled", "reason": "meh"}, format="json"
    )
    assert unknown.status_code == 400 and "not an agreed reason" in unknown.json()["reason"][0]
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.MQL
    ok = api_client(sales_manager).post(
        url, {"to": "recycled", "reason": "no-budget"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["reason_code"] == "no-budget"
    lead2 = LeadFactory(stage=StageKey.MQL)
    ok2 = api_client(sales_manager).post(
        f"/api/v1/leads/{lead2.pk}/transition/",
        {"to": "disqualified", "reason_code": "spam", "note": "bot signup"},
        format="json",
    )
    assert ok2.status_code == 200
    event = StageEvent.objects.get(lead=lead2, to_stage="disqualified")
    assert (event.reason_code, event.reason) == ("spam", "bot signup")


def test_who_may_move_a_lead(active_agreement, rep, marketer, executive, api_client):
    from tests.factories import UserFactory

    other_rep = UserFactory(username="rep-other", role="sales_rep")
    mine = LeadFactory(stage=StageKey.MQL, owner=rep)
    url = f"/api/v1/leads/{mine.pk}/transition/"
    assert api_client(other_rep).post(url, {"to": "sal"}, format="json").status_code == 403
    assert api_client(executive).post(url, {"to": "sal"}, format="json").status_code == 403
    assert (
        api_client(marketer).post(url, {"to": "sal"}, format="json").status_code == 403
    )  # sales stage
    assert api_client(rep).post(url, {"to": "sal"}, format="json").status_code == 200
    inquiry = LeadFactory(stage=StageKey.INQUIRY, company="Acme", score=60)
    response = api_client(marketer).post(
        f"/api/v1/leads/{inquiry.pk}/transition/", {"to": "mql"}, format="json"
    )
    assert response.status_code == 200
    assert (
        api_client(rep)
        .post("/api/v1/leads/999999/transition/", {"to": "sal"}, format="json")
        .status_code
        == 404
    )


def test_the_schema_documents_the_agreement_endpoints(active_agreement, rep):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in [
        "/api/v1/agreements/",
        "/api/v1/agreements/active/",
        "/api/v1/agreements/{id}/sign/",
        "/api/v1/stages/",
        "/api/v1/leads/{id}/transition/",
    ]:
        assert path in paths, path
    transition = paths["/api/v1/leads/{id}/transition/"]["post"]
    assert {"200", "400", "403", "404"} <= set(transition["responses"])


def test_a_version_in_full_and_a_draft_based_on_a_chosen_version(
    active_agreement, marketing_manager, rep, api_client
):
    response = api_client(marketing_manager).post(
        "/api/v1/agreements/", {"based_on": active_agreement.pk, "title": "From v1"}, format="json"
    )
    assert response.status_code == 201
    draft_id = response.json()["id"]
    body = api_client(rep).get(f"/api/v1/agreements/{draft_id}/").json()
    assert body["based_on"] == active_agreement.pk and body["status"] == "draft"
    assert body["slas"] == api_client(rep).get("/api/v1/agreements/active/").json()["slas"]
    assert len(body["reason_codes"]) == active_agreement.reason_codes.count()
    assert api_client(rep).get("/api/v1/agreements/999999/").status_code == 404
    bad = api_client(marketing_manager).post(
        "/api/v1/agreements/", {"based_on": 999999}, format="json"
    )
    assert bad.status_code == 400 and "based_on" in bad.json()


def test_a_transition_without_any_active_agreement_is_a_409(sales_manager, api_client):
    lead = LeadFactory(stage=StageKey.INQUIRY)
    response = api_client(sales_manager).post(
        f"/api/v1/leads/{lead.pk}/transition/", {"to": "mql"}, format="json"
    )
    assert response.status_code == 409 and "No agreement is active" in response.json()["detail"]
