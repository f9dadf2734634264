"""Set-based rescoring gives the same scores and breakdowns as the Python formula."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alignment.agreement.scoring import score_compute
from alignment.agreement.services import agreement_create_default
from alignment.models import QualificationRule, RuleKind, StageKey
from campaigns.models import Touch
from leads.models import Lead, StageEvent
from leads.services.rescoring import agreement_rescore_all, leads_rescore_sql, scores_decay_apply
from tests.conftest import need
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreement():
    agreement = agreement_create_default()
    extra = [
        {
            "kind": RuleKind.FIT,
            "field": "industry",
            "operator": "eq",
            "value": "Software",
            "points": 7,
        },
        {
            "kind": RuleKind.FIT,
            "field": "country",
            "operator": "not_in",
            "value": ["RU", "KP"],
            "points": 3,
        },
        {
            "kind": RuleKind.FIT,
            "field": "company_size",
            "operator": "lte",
            "value": 5000,
            "points": 2,
        },
        {
            "kind": RuleKind.FIT,
            "field": "custom.plan",
            "operator": "eq",
            "value": "pro",
            "points": 4,
        },
        {"kind": RuleKind.FIT, "field": "phone", "operator": "exists", "value": None, "points": 1},
        {
            "kind": RuleKind.FIT,
            "field": "industry",
            "operator": "neq",
            "value": "Retail",
            "points": 1,
        },
        {
            "kind": RuleKind.FIT,
            "field": "custom.seats",
            "operator": "gte",
            "value": 10,
            "points": 6,
        },
    ]
    for i, rule in enumerate(extra):
        QualificationRule.objects.create(agreement=agreement, description=f"extra {i}", **rule)
    return agreement


def _python_scores(agreement, now):
    rules = list(agreement.rules.all())
    out = {}
    for lead in Lead.objects.all():
        touches = list(lead.touches.values_list("kind", "occurred_at"))
        out[lead.pk] = score_compute(lead=lead, rules=rules, touches=touches, now=now)
    return out


def _touch(lead, kind, days_ago, now):
    Touch.objects.create(lead=lead, kind=kind, occurred_at=now - timedelta(days=days_ago))


def test_sql_rescoring_matches_the_python_formula_lead_by_lead(agreement):
    now = timezone.now()
    leads = [
        LeadFactory(
            title="Head of Sales",
            company_size=120,
            source="referral",
            industry="software",
            country="PL",
            custom_fields={"plan": "PRO", "seats": "12"},
            phone="123",
        ),
        LeadFactory(
            title="Sales Director",
            company_size=49,
            source="email",
            industry="Retail",
            country="RU",
            custom_fields={"seats": 3},
        ),
        LeadFactory(title="", company_size=None, source="unknown", company="", country=""),
        LeadFactory(title="  HEAD of it ", company_size=50, source="event", industry="Software "),
    ]
    _touch(leads[0], "demo_request", 0, now)
    _touch(leads[0], "demo_request", 30, now)
    _touch(leads[0], "pricing_visit", 3.5, now)
    _touch(leads[1], "webinar", 45, now)
    _touch(leads[1], "content_download", 1, now)
    _touch(leads[3], "page_visit", 1, now)  # no rule for this kind
    expected = _python_scores(agreement, now)
    assert leads_rescore_sql(agreement=agreement, now=now) == 4
    for lead in Lead.objects.all():
        want = expected[lead.pk]
        assert lead.score == want.score, lead.email
        got = sorted(lead.score_breakdown, key=lambda e: e["rule_id"])
        wanted = sorted(want.breakdown, key=lambda e: e["rule_id"])
        assert [(e["rule_id"], e["rule"], e["kind"]) for e in got] == [
            (e["rule_id"], e["rule"], e["kind"]) for e in wanted
        ], lead.email
        assert [float(e["points"]) for e in got] == pytest.approx(
            [float(e["points"]) for e in wanted]
        )
    # A spot check of the hand-computable case: the referral head of sales.
    first = Lead.objects.get(pk=leads[0].pk)
    assert first.score == round(20 + 15 + 10 + 7 + 3 + 2 + 4 + 1 + 1 + 6 + 40 + 20 + 10 * 0.5**0.25)


def test_activation_rescoring_moves_exactly_the_qualifying_inquiry_and_recycled_leads(agreement):
    now = timezone.now()
    hot = LeadFactory(title="Head of Marketing", company_size=200, source="referral")
    recycled = LeadFactory(
        title="Director", company_size=500, source="event", stage=StageKey.RECYCLED
    )
    no_company = LeadFactory(title="Head of IT", company_size=900, source="event", company="")
    cold = LeadFactory(title="Intern", company_size=3)
    already_sal = LeadFactory(
        title="Head of IT", company_size=900, source="event", stage=StageKey.SAL
    )
    for lead in (hot, recycled, no_company, cold, already_sal):
        _touch(lead, "demo_request", 0, now)
    result = agreement_rescore_all(agreement=agreement, now=now)
    assert result.rescored == 5
    assert result.promoted == 2
    stages = dict(Lead.objects.values_list("pk", "stage"))
    assert stages[hot.pk] == StageKey.MQL
    assert stages[recycled.pk] == StageKey.MQL
    assert stages[no_company.pk] == StageKey.INQUIRY  # fails the must rule
    assert stages[cold.pk] == StageKey.INQUIRY  # below the threshold
    assert stages[already_sal.pk] == StageKey.SAL  # never moved back
    event = StageEvent.objects.get(lead=hot, to_stage=StageKey.MQL)
    assert event.source == StageEvent.Source.AUTOMATIC and event.agreement == agreement
    assert Lead.objects.get(pk=hot.pk).qualified_under == agreement
    # Running it again promotes nobody twice.
    assert agreement_rescore_all(agreement=agreement, now=now).promoted == 0


def test_the_nightly_decay_lowers_engagement_points(agreement):
    now = timezone.now()
    lead = LeadFactory(title="", company_size=None, source="unknown")
    _touch(lead, "demo_request", 0, now)

    def engagement_points(at):
        scores_decay_apply(now=at)
        lead.refresh_from_db()
        return [e["points"] for e in lead.score_breakdown if e["kind"] == "engagement"], lead.score

    (fresh,), score_fresh = engagement_points(now)
    (month,), score_month = engagement_points(now + timedelta(days=30))
    (two_months,), score_two = engagement_points(now + timedelta(days=60))
    assert (fresh, month, two_months) == pytest.approx((40.0, 20.0, 10.0))
    assert score_fresh - score_month == 20 and score_month - score_two == 10


def test_the_nightly_decay_is_a_beat_job():
    from config.celery import app

    entries = {e["task"] for e in app.conf.beat_schedule.values()}
    assert "alignment.tasks.apply_score_decay" in entries


def test_a_custom_field_key_is_never_spliced_into_sql(agreement, marketer):
    from django.core.exceptions import ValidationError

    from alignment.agreement.services import agreement_draft_create, agreement_rule_add

    draft = agreement_draft_create(user=marketer)
    with pytest.raises(ValidationError) as err:
        agreement_rule_add(
            agreement=draft,
            user=marketer,
            data={
                "kind": "fit",
                "field": "custom.x') OR 1=1 --",
                "operator": "exists",
                "points": 1,
            },
        )
    assert "field" in err.value.message_dict
    QualificationRule.objects.create(
        agreement=agreement, kind="fit", field="custom.a'b", operator="exists", points=99
    )
    LeadFactory(custom_fields={"a'b": "yes"})
    leads_rescore_sql(agreement=agreement, now=timezone.now())  # no SQL error
    assert Lead.objects.get().score < 99


def test_a_lead_moved_meanwhile_is_skipped_by_the_promotion(agreement, monkeypatch):
    from leads.services import rescoring

    now = timezone.now()
    lead = LeadFactory(title="Head of Sales", company_size=200, source="referral")
    _touch(lead, "demo_request", 0, now)
    real = rescoring.qualifying_lead_ids

    def select_then_someone_moves_it(**kwargs):
        ids = real(**kwargs)
        Lead.objects.filter(pk=lead.pk).update(stage=StageKey.DISQUALIFIED)
        return ids

    monkeypatch.setattr(rescoring, "qualifying_lead_ids", select_then_someone_moves_it)
    assert agreement_rescore_all(agreement=agreement, now=now).promoted == 0
    assert Lead.objects.get(pk=lead.pk).stage == StageKey.DISQUALIFIED


def test_the_decay_task_rescores_under_the_active_version(agreement):
    from leads.tasks import apply_score_decay

    LeadFactory.create_batch(3)
    assert apply_score_decay() == 3
    assert apply_score_decay() == 3  # safe to run twice


def _work_mem() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        return cursor.fetchone()[0]


def test_a_whole_table_rescore_hashes_in_memory_and_gives_the_memory_back(agreement):
    """Every lead's rescore gets RESCORE_WORK_MEM for its one statement (at 1M leads its
    two hashes spill to disk at the default, 37 s instead of 27 s); the connection's
    setting is back afterwards, and a few leads' rescore keeps the default."""
    from leads.services.rescoring import RESCORE_WORK_MEM

    need(connection.vendor == "postgresql", "work_mem is PostgreSQL's")
    leads = LeadFactory.create_batch(2)
    before = _work_mem()
    assert before != RESCORE_WORK_MEM
    seen: list[str] = []

    def spy(execute, sql, params, many, context):
        if sql.startswith("UPDATE"):
            seen.append(_work_mem_in(context["cursor"]))
        return execute(sql, params, many, context)

    def _work_mem_in(cursor) -> str:
        cursor.execute("SHOW work_mem")
        return cursor.fetchone()[0]

    with connection.execute_wrapper(spy):
        assert leads_rescore_sql(agreement=agreement, now=timezone.now()) == 2
        leads_rescore_sql(agreement=agreement, now=timezone.now(), lead_ids=[leads[0].pk])
    assert seen == [RESCORE_WORK_MEM, before]
    assert _work_mem() == before
