"""The agreement page, the compare view, sign buttons and the draft editor with its backtest."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from alignment.agreement.services import (
    agreement_draft_create,
    agreement_propose,
    agreement_threshold_set,
)
from alignment.models import Agreement, AgreementStatus, QualificationRule
from campaigns.models import Touch
from config.dates import deployment_date
from leads.services.rescoring import agreement_rescore_all
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_agreement_page_shows_stages_criteria_in_words_and_history(active_agreement, rep):
    body = logged_in(rep).get("/agreement/").content.decode()
    assert "Marketing qualified lead" in body and "24" in body
    assert "company size (employees) is at least 50: +20 points" in body
    assert "must: company is filled in" in body
    assert "Version history" in body and "v1" in body
    assert "Start a draft" not in body  # reps do not draft


def test_sign_buttons_show_for_managers_only_and_signing_by_post_activates(
    active_agreement, marketer, rep, sales_manager, marketing_manager
):
    draft = agreement_draft_create(user=marketer)
    agreement_propose(agreement=draft, user=marketer)
    assert "Sign for" not in logged_in(rep).get("/agreement/").content.decode()
    assert "Sign for" not in logged_in(marketer).get("/agreement/").content.decode()
    page = logged_in(sales_manager).get("/agreement/").content.decode()
    assert "Sign for sales" in page and f'action="/agreement/{draft.pk}/sign/"' in page
    assert "csrfmiddlewaretoken" in page
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(sales_manager)
    assert csrf_client.post(f"/agreement/{draft.pk}/sign/").status_code == 403  # no token
    response = logged_in(sales_manager).post(
        f"/agreement/{draft.pk}/sign/", {"confirmed": "yes"}, follow=True
    )
    assert "waits for the other team" in response.content.decode()
    assert "Sign for sales" not in response.content.decode()  # signed once
    response = logged_in(marketing_manager).post(
        f"/agreement/{draft.pk}/sign/", {"confirmed": "yes"}, follow=True
    )
    assert "is now in force" in response.content.decode()
    assert Agreement.objects.get(pk=draft.pk).status == AgreementStatus.ACTIVE
    assert logged_in(rep).post(f"/agreement/{draft.pk}/sign/").status_code == 403


def test_compare_shows_a_readable_diff(active_agreement, marketer):
    draft = agreement_draft_create(user=marketer)
    agreement_threshold_set(agreement=draft, user=marketer, threshold=65)
    body = (
        logged_in(marketer)
        .get(f"/agreement/?a={active_agreement.pk}&b={draft.pk}")
        .content.decode()
    )
    assert "From v1 to v2" in body and "MQL threshold 50 → 65 points." in body
    same = (
        logged_in(marketer)
        .get(f"/agreement/?a={active_agreement.pk}&b={active_agreement.pk}")
        .content.decode()
    )
    assert "The two versions are the same." in same


def test_a_marketer_starts_a_draft_and_adds_a_rule_from_the_editor(active_agreement, marketer):
    client = logged_in(marketer)
    response = client.post("/agreement/drafts/new/")
    draft = Agreement.objects.get(status=AgreementStatus.DRAFT)
    assert response["Location"] == f"/agreement/{draft.pk}/edit/"
    response = client.post(
        f"/agreement/{draft.pk}/edit/",
        {
            "action": "rule_add",
            "kind": "fit",
            "field": "industry",
            "operator": "in",
            "value": "software, fintech",
            "points": "12",
            "description": "Target industry",
        },
    )
    assert response.status_code == 302
    rule = QualificationRule.objects.get(agreement=draft, description="Target industry")
    assert rule.value == ["software", "fintech"] and rule.points == 12
    body = client.get(f"/agreement/{draft.pk}/edit/").content.decode()
    assert "industry is one of software, fintech: +12 points" in body


def test_the_editor_shows_clear_errors_and_stores_nothing(
    active_agreement, marketer, sales_manager
):
    draft = agreement_draft_create(user=marketer)
    before = draft.rules.count()
    response = logged_in(marketer).post(
        f"/agreement/{draft.pk}/edit/",
        {
            "action": "rule_add",
            "kind": "fit",
            "field": "shoe size",
            "operator": "gte",
            "value": "big",
            "points": "",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose a lead field" in body and "Enter a number for this operator." in body
    assert draft.rules.count() == before
    response = logged_in(sales_manager).post(
        f"/agreement/{draft.pk}/edit/",
        {
            "action": "stage",
            "prefix": "sal",
            "sal-key": "sal",
            "sal-name": "SAL",
            "sal-owner_team": "sales",
            "sal-sla_hours": "0",
        },
    )
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()


def test_the_editor_respects_roles(active_agreement, marketer, sales_manager, rep):
    draft = agreement_draft_create(user=marketer)
    sales_page = logged_in(sales_manager).get(f"/agreement/{draft.pk}/edit/").content.decode()
    assert 'value="rule_add"' not in sales_page and 'value="stage"' in sales_page
    marketer_page = logged_in(marketer).get(f"/agreement/{draft.pk}/edit/").content.decode()
    assert 'value="rule_add"' in marketer_page and 'value="stage"' not in marketer_page
    rep_page = logged_in(rep).get(f"/agreement/{draft.pk}/edit/")
    assert rep_page.status_code == 200 and 'value="threshold"' not in rep_page.content.decode()
    forbidden = logged_in(sales_manager).post(
        f"/agreement/{draft.pk}/edit/", {"action": "threshold", "mql_threshold": "5"}
    )
    assert forbidden.status_code == 403
    response = logged_in(sales_manager).post(
        f"/agreement/{draft.pk}/edit/",
        {
            "action": "stage",
            "prefix": "mql",
            "mql-key": "mql",
            "mql-name": "MQL",
            "mql-owner_team": "marketing",
            "mql-sla_hours": "8",
            "mql-next": ["sal", "recycled"],
        },
    )
    assert response.status_code == 302
    stage = draft.stages.get(key="mql")
    assert stage.sla_hours == 8
    assert set(stage.next_stages.values_list("key", flat=True)) == {"sal", "recycled"}


def test_a_proposed_version_is_not_editable_in_the_editor(active_agreement, marketer):
    draft = agreement_draft_create(user=marketer)
    agreement_propose(agreement=draft, user=marketer)
    response = logged_in(marketer).get(f"/agreement/{draft.pk}/edit/")
    assert response.status_code == 302 and f"version={draft.pk}" in response["Location"]


def test_the_backtest_updates_in_place_with_htmx_and_works_without_js(active_agreement, marketer):
    draft = agreement_draft_create(user=marketer)
    LeadFactory(company_size=100, title="Head of IT", source="referral")  # 45 points
    client = logged_in(marketer)
    today = deployment_date()  # a window of two years at most (backtest_window)
    params = {"start": str(today - timedelta(days=365)), "end": str(today + timedelta(days=1))}
    partial = client.get(
        f"/agreement/{draft.pk}/backtest/", {**params, "threshold": "40"}, HTTP_HX_REQUEST="true"
    )
    body = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in body
    assert re.search(r'data-metric="mqls">1<', body)  # at a 40-point threshold
    default = client.get(f"/agreement/{draft.pk}/backtest/", params, HTTP_HX_REQUEST="true")
    assert re.search(r'data-metric="mqls">0<', default.content.decode())  # at 50
    no_js = client.get(f"/agreement/{draft.pk}/backtest/", params)
    assert no_js.status_code == 302 and no_js["Location"].startswith(
        f"/agreement/{draft.pk}/edit/?"
    )
    page = client.get(no_js["Location"]).content.decode()
    assert 'hx-get="/agreement/' in page and 'data-metric="mqls"' in page
    bad = client.get(f"/agreement/{draft.pk}/edit/", {"start": "2026-02-01", "end": "2026-01-01"})
    assert "The window must end after it starts." in bad.content.decode()


def test_the_lead_page_explains_the_score_after_rescoring(active_agreement, rep):
    from django.utils import timezone

    lead = LeadFactory(company_size=100, title="Head of IT", source="referral")
    Touch.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    agreement_rescore_all(agreement=active_agreement)
    body = logged_in(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert "Why this score" in body
    for rule in (
        "Company of 50+ employees",
        "Head-of title",
        "High-intent source",
        "Requested a demo",
    ):
        assert rule in body
    assert "Qualified under agreement v1." in body
