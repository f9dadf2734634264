"""agreements/, agreements/active/, agreements/{id}/sign/, stages/, leads/{id}/transition/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from alignment.agreement.services import agreement_create_default, agreement_draft_create
from alignment.models import Agreement, AgreementStatus, StageKey
from leads.models import Deal, Lead, StageEvent
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def active():
    return agreement_create_default()


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_the_agreement_endpoints_need_auth(active):
    assert api().get("/api/v1/agreements/").status_code == 401
    assert api().get("/api/v1/stages/").status_code == 401


def test_active_returns_stages_criteria_slas_and_weights(active, rep):
    body = api(rep).get("/api/v1/agreements/active/").json()
    assert body["status"] == "active" and body["version"] == active.version
    assert [s["key"] for s in body["stages"]][:3] == ["inquiry", "mql", "sal"]
    assert body["slas"]["mql"] == 24
    assert body["criteria"]["mql_threshold"] == 50
    assert any(
        r["in_words"].startswith("company size (employees) is at least 50")
        for r in body["criteria"]["rules"]
    )
    assert body["weights"]["sla_compliance"] == 25


def test_stages_lists_the_active_funnel(active, rep):
    body = api(rep).get("/api/v1/stages/").json()
    mql = next(s for s in body["results"] if s["key"] == "mql")
    assert mql == {
        **mql,
        "name": "Marketing qualified lead",
        "order": 2,
        "owner_team": "marketing",
        "sla_hours": 24,
        "next": ["disqualified", "recycled", "sal"],
    }


def test_a_marketer_creates_a_draft_and_a_rep_may_not(active, marketer, rep):
    response = api(marketer).post("/api/v1/agreements/", {"title": "Tighter"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "draft" and response.json()["title"] == "Tighter"
    assert api(rep).post("/api/v1/agreements/", {}, format="json").status_code == 403
    listed = api(rep).get("/api/v1/agreements/").json()["results"]
    assert [a["status"] for a in listed] == ["draft", "active"]


def test_the_agreement_list_query_count_does_not_grow_with_versions(active, marketer, rep):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api(rep).get("/api/v1/agreements/").status_code == 200
        return len(ctx.captured_queries)

    count()  # warm the user's permission cache
    before = count()
    for _ in range(4):
        agreement_draft_create(user=marketer)
    assert count() == before


def test_signing_through_the_api(active, marketer, rep, sales_manager, marketing_manager):
    draft = agreement_draft_create(user=marketer)
    url = f"/api/v1/agreements/{draft.pk}/sign/"
    assert api(sales_manager).post(url).status_code == 400  # still a draft
    assert api(marketer).post(f"/api/v1/agreements/{draft.pk}/propose/").status_code == 200
    assert api(rep).post(url).status_code == 403
    assert api(marketer).post(url).status_code == 403
    first = api(sales_manager).post(url)
    assert first.status_code == 200 and first.json()["activated"] is False
    assert api(sales_manager).post(url).status_code == 400
    second = api(marketing_manager).post(url).json()
    assert second["activated"] is True and second["agreement"]["status"] == "active"
    assert Agreement.objects.get(pk=active.pk).status == AgreementStatus.SUPERSEDED
    assert api(rep).post("/api/v1/agreements/999999/sign/").status_code == 404


def test_a_transition_outside_the_funnel_is_a_400_and_changes_nothing(active, sales_manager):
    lead = LeadFactory(stage=StageKey.INQUIRY)
    response = api(sales_manager).post(
        f"/api/v1/leads/{lead.pk}/transition/", {"to": "won"}, format="json"
    )
    assert response.status_code == 400
    assert "does not allow inquiry → won" in response.json()["to"][0]
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.INQUIRY
    assert not StageEvent.objects.filter(lead=lead).exists()
    bad = api(sales_manager).post(
        f"/api/v1/leads/{lead.pk}/transition/", {"to": "nowhere"}, format="json"
    )
    assert bad.status_code == 400 and "to" in bad.json()


def test_every_allowed_transition_leaves_a_stage_event(active, sales_manager):
    lead = LeadFactory(stage=StageKey.INQUIRY, company="Acme", score=60)
    path = [("mql", {}), ("sal", {}), ("sql", {}), ("opportunity", {}), ("won", {})]
    for to, extra in path:
        if to == "opportunity":  # the stage follows the deal
            deal = Deal.objects.create(lead=lead, name="Acme", amount=100)
        if to == "won":
            extra = {"deal": deal.pk}
        response = api(sales_manager).post(
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


def test_rejecting_an_mql_needs_an_agreed_reason_in_reason_or_reason_code(active, sales_manager):
    lead = LeadFactory(stage=StageKey.MQL)
    url = f"/api/v1/leads/{lead.pk}/transition/"
    missing = api(sales_manager).post(url, {"to": "recycled"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    unknown = api(sales_manager).post(url, {"to": "recycled", "reason": "meh"}, format="json")
    assert unknown.status_code == 400 and "not an agreed reason" in unknown.json()["reason"][0]
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.MQL
    ok = api(sales_manager).post(url, {"to": "recycled", "reason": "no-budget"}, format="json")
    assert ok.status_code == 200 and ok.json()["reason_code"] == "no-budget"
    lead2 = LeadFactory(stage=StageKey.MQL)
    ok2 = api(sales_manager).post(
        f"/api/v1/leads/{lead2.pk}/transition/",
        {"to": "disqualified", "reason_code": "spam", "note": "bot signup"},
        format="json",
    )
    assert ok2.status_code == 200
    event = StageEvent.objects.get(lead=lead2, to_stage="disqualified")
    assert (event.reason_code, event.reason) == ("spam", "bot signup")


def test_who_may_move_a_lead(active, rep, marketer, executive):
    from tests.factories import UserFactory

    other_rep = UserFactory(username="rep-other", role="sales_rep")
    mine = LeadFactory(stage=StageKey.MQL, owner=rep)
    url = f"/api/v1/leads/{mine.pk}/transition/"
    assert api(other_rep).post(url, {"to": "sal"}, format="json").status_code == 403
    assert api(executive).post(url, {"to": "sal"}, format="json").status_code == 403
    assert api(marketer).post(url, {"to": "sal"}, format="json").status_code == 403  # sales stage
    assert api(rep).post(url, {"to": "sal"}, format="json").status_code == 200
    inquiry = LeadFactory(stage=StageKey.INQUIRY, company="Acme", score=60)
    response = api(marketer).post(
        f"/api/v1/leads/{inquiry.pk}/transition/", {"to": "mql"}, format="json"
    )
    assert response.status_code == 200
    assert (
        api(rep).post("/api/v1/leads/999999/transition/", {"to": "sal"}, format="json").status_code
        == 404
    )


def test_the_schema_documents_the_agreement_endpoints(active, rep):
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


def test_a_version_in_full_and_a_draft_based_on_a_chosen_version(active, marketing_manager, rep):
    response = api(marketing_manager).post(
        "/api/v1/agreements/", {"based_on": active.pk, "title": "From v1"}, format="json"
    )
    assert response.status_code == 201
    draft_id = response.json()["id"]
    body = api(rep).get(f"/api/v1/agreements/{draft_id}/").json()
    assert body["based_on"] == active.pk and body["status"] == "draft"
    assert body["slas"] == api(rep).get("/api/v1/agreements/active/").json()["slas"]
    assert len(body["reason_codes"]) == active.reason_codes.count()
    assert api(rep).get("/api/v1/agreements/999999/").status_code == 404
    bad = api(marketing_manager).post("/api/v1/agreements/", {"based_on": 999999}, format="json")
    assert bad.status_code == 400 and "based_on" in bad.json()


def test_a_transition_without_any_active_agreement_is_a_409(sales_manager):
    lead = LeadFactory(stage=StageKey.INQUIRY)
    response = api(sales_manager).post(
        f"/api/v1/leads/{lead.pk}/transition/", {"to": "mql"}, format="json"
    )
    assert response.status_code == 409 and "No agreement is active" in response.json()["detail"]
