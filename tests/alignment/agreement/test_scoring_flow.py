"""A lead meeting the criteria becomes an MQL; activation rescores and promotes the right leads."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alignment.agreement.services import (
    agreement_draft_create,
    agreement_propose,
    agreement_rule_add,
    agreement_sign,
    agreement_threshold_set,
)
from alignment.models import AgreementStatus, StageKey
from campaigns.models import Touch
from leads.models import Lead, StageEvent
from leads.services import lead_create, lead_score_refresh
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_a_lead_meeting_the_criteria_becomes_an_mql_with_the_right_breakdown(active_agreement):
    lead = lead_create(
        data={
            "email": "cto@acme.test",
            "company": "Acme",
            "title": "Head of Engineering",
            "company_size": 250,
            "source": "referral",
        },
        actor=None,
    )
    assert lead.score == 45 and lead.stage == StageKey.INQUIRY  # 20 + 15 + 10 < 50
    Touch.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    lead_score_refresh(lead=lead)
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL and lead.qualified_under == active_agreement
    assert lead.score == 85
    assert {e["rule"]: e["points"] for e in lead.score_breakdown} == {
        "Company of 50+ employees": 20,
        "Head-of title": 15,
        "High-intent source": 10,
        "Requested a demo": 40.0,
    }
    assert StageEvent.objects.filter(lead=lead, to_stage="mql", source="automatic").exists()


def test_failing_one_must_rule_keeps_a_high_scoring_lead_out(active_agreement):
    lead = lead_create(
        data={
            "email": "x@nowhere.test",
            "company": "",
            "title": "Director of Sales",
            "company_size": 900,
            "source": "event",
        },
        actor=None,
    )
    Touch.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    lead_score_refresh(lead=lead)
    lead.refresh_from_db()
    assert lead.score == 85 and lead.stage == StageKey.INQUIRY


def test_signing_a_version_rescores_every_lead_and_promotes_exactly_the_right_ones(
    active_agreement,
    marketer,
    sales_manager,
    marketing_manager,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    near = LeadFactory(company_size=100, title="Head of IT", source="referral")  # 45
    no_company = LeadFactory(company="", company_size=100, title="Head of IT", source="referral")
    accepted = LeadFactory(company_size=100, title="Head of IT", source="referral", stage="sal")
    fintech = LeadFactory(company_size=10, title="Analyst", industry="Fintech")  # 0 → 30
    cold = LeadFactory(company_size=5, title="Student")
    for lead in (near, no_company, accepted, fintech, cold):
        lead_score_refresh(lead=lead)
    assert set(Lead.objects.values_list("stage", flat=True)) == {"inquiry", "sal"}

    draft = agreement_draft_create(user=marketer)
    agreement_threshold_set(agreement=draft, user=marketer, threshold=40)
    agreement_rule_add(
        agreement=draft,
        user=marketer,
        data={
            "kind": "fit",
            "field": "industry",
            "operator": "eq",
            "value": "fintech",
            "points": 30,
            "description": "Fintech",
        },
    )
    agreement_propose(agreement=draft, user=marketer)
    agreement_sign(agreement=draft, user=sales_manager)
    assert Lead.objects.get(pk=near.pk).stage == StageKey.INQUIRY  # not active yet
    with django_capture_on_commit_callbacks(execute=True):
        agreement_sign(agreement=draft, user=marketing_manager)
    draft.refresh_from_db()
    assert draft.status == AgreementStatus.ACTIVE

    leads = {lead.pk: lead for lead in Lead.objects.all()}
    assert leads[near.pk].stage == StageKey.MQL and leads[near.pk].qualified_under == draft
    assert leads[no_company.pk].stage == StageKey.INQUIRY  # must rule
    assert leads[accepted.pk].stage == StageKey.SAL  # history is not rewritten
    assert leads[fintech.pk].stage == StageKey.INQUIRY and leads[fintech.pk].score == 30
    assert leads[fintech.pk].score_breakdown[0]["rule"] == "Fintech"
    assert leads[cold.pk].stage == StageKey.INQUIRY
    new_rule_ids = set(draft.rules.values_list("pk", flat=True))
    for lead in leads.values():  # every breakdown now cites the new version's rules
        assert {e["rule_id"] for e in lead.score_breakdown} <= new_rule_ids
    moved = StageEvent.objects.filter(to_stage="mql", agreement=draft)
    assert list(moved.values_list("lead_id", flat=True)) == [near.pk]


def test_activation_rescoring_runs_inline_when_the_broker_is_down(
    active_agreement,
    marketer,
    sales_manager,
    marketing_manager,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from leads import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.rescore_all_leads, "delay", broker_down)
    lead = LeadFactory(company_size=100, title="Head of IT", source="referral")  # 45
    draft = agreement_draft_create(user=marketer)
    agreement_threshold_set(agreement=draft, user=marketer, threshold=40)
    agreement_propose(agreement=draft, user=marketer)
    agreement_sign(agreement=draft, user=sales_manager)
    with django_capture_on_commit_callbacks(execute=True):
        agreement_sign(agreement=draft, user=marketing_manager)
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL and lead.qualified_under == draft


def test_promotion_after_activation_runs_in_batches_until_none_qualify(
    active_agreement, eager_celery, monkeypatch
):
    from leads import tasks

    monkeypatch.setattr(tasks, "PROMOTION_BATCH", 2)
    leads = [
        LeadFactory(company_size=100, title="Head of IT", source="referral", stage="recycled")
        for _ in range(5)
    ]
    for lead in leads:
        Touch.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    assert tasks.rescore_all_leads(active_agreement.pk) == 5
    assert set(Lead.objects.values_list("stage", flat=True)) == {StageKey.MQL}
    assert StageEvent.objects.filter(to_stage="mql", from_stage="recycled").count() == 5


def test_a_funnel_without_recycled_to_mql_promotes_no_recycled_lead(active_agreement):
    from leads.services.rescoring import agreement_rescore_all

    recycled = active_agreement.stages.get(key="recycled")
    recycled.next_stages.set(active_agreement.stages.filter(key="disqualified"))
    lead = LeadFactory(company_size=100, title="Head of IT", source="referral", stage="recycled")
    Touch.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    assert agreement_rescore_all(agreement=active_agreement).promoted == 0
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.RECYCLED
