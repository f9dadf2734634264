"""The importer's write path (issue 21): new leads scored before they are written (one write
per lead, no UPDATE after), their text columns checked as Lead.full_clean checks them, and on
PostgreSQL leads and their history written with COPY."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment.agreement.scoring import score_compute
from alignment.agreement.selectors import funnel_active
from alignment.models import QualificationRule, RuleKind, RuleOperator, StageKey
from leads.imports import importer
from leads.imports.importer import _lead_fields_check, lead_import
from leads.models import Lead, StageEvent
from leads.services.rescoring import leads_rescore_sql
from tests.conftest import need

pytestmark = pytest.mark.django_db

ROWS = [
    # 20 (size) + 15 (head) + 15 (director) + 10 (event) = 60, company known: qualifies.
    {"email": "full@example.com", "company": "Acme", "company_size": "250",
     "title": "Head of Sales and Director", "source": "event"},
    {"email": "some@example.com", "company": "Beta", "company_size": "80", "title": "Engineer",
     "source": "organic_search"},
    {"email": "none@example.com", "company_size": "3", "title": "Student"},
    {"email": "nocompany@example.com", "company_size": "500", "title": "Head of IT, director",
     "source": "referral"},
]  # fmt: skip


def test_new_leads_are_scored_as_the_agreement_scores_them_and_qualifying_ones_are_mqls(
    active_agreement, marketer
):
    result = lead_import(rows=ROWS, user=marketer)
    assert result.created == 4 and result.errors == 0
    leads = {lead.email: lead for lead in Lead.objects.all()}
    rules = funnel_active().rules
    for lead in leads.values():
        expected = score_compute(lead=lead, rules=rules, touches=[])
        assert (lead.score, lead.score_breakdown) == (expected.score, expected.breakdown)
        assert lead.scored_at is not None
    assert leads["full@example.com"].score == 60
    assert leads["some@example.com"].score == 20
    assert leads["none@example.com"].score == 0 and leads["none@example.com"].score_breakdown == []
    # The agreement's threshold and must rules decide, through the stage service.
    assert active_agreement.mql_threshold <= 60
    assert leads["full@example.com"].stage == StageKey.MQL
    assert StageEvent.objects.filter(lead=leads["full@example.com"], to_stage=StageKey.MQL).exists()
    assert leads["nocompany@example.com"].stage == StageKey.INQUIRY  # fails "company is known"


def test_the_scores_equal_the_set_based_rescoring(active_agreement, marketer):
    lead_import(rows=ROWS, user=marketer)
    before = sorted(Lead.objects.values_list("pk", "score", "score_breakdown"))
    leads_rescore_sql(agreement=active_agreement, now=timezone.now())
    assert sorted(Lead.objects.values_list("pk", "score", "score_breakdown")) == before


def test_leads_alike_in_what_the_fit_rules_read_share_one_computed_score(
    active_agreement, marketer, monkeypatch
):
    """Without touches a score depends on the fields the fit rules read: a run computes it
    once per distinct values of those (across its batches), and every lead still gets the
    agreement's score. The must rule's field (company) is not part of it."""
    computed = []
    real = importer.score_compute

    def counted(**kwargs):
        computed.append(kwargs["lead"]["email"])
        return real(**kwargs)

    monkeypatch.setattr(importer, "score_compute", counted)
    rows = [{"email": f"r{n}@example.com", "company": f"C{n}" if n % 2 else "",
             "company_size": ["250", "3"][n % 2], "title": "Head of Sales", "source": "event"}
            for n in range(12)]  # fmt: skip
    result = lead_import(rows=rows, user=marketer, batch_size=5)
    assert result.created == 12
    assert computed == ["r0@example.com", "r1@example.com"]
    rules = funnel_active().rules
    for lead in Lead.objects.all():
        expected = real(lead=lead, rules=rules, touches=[])
        assert (lead.score, lead.score_breakdown) == (expected.score, expected.breakdown)


def test_a_rule_edited_during_a_run_scores_the_rows_after_it(active_agreement, marketer):
    row = {"company": "Acme", "company_size": "250", "title": "Head of Sales and Director"}
    rows = [{**row, "email": f"e{n}@example.com", "source": "event"} for n in range(6)]
    edited = []

    def edit_once(_result):
        if not edited:  # after the first batch, as a manager would in the admin
            rule = QualificationRule.objects.filter(
                agreement=active_agreement, kind=RuleKind.FIT, field="title"
            ).first()
            rule.points += 5
            rule.save()
            edited.append(rule)

    lead_import(rows=rows, user=marketer, batch_size=3, on_progress=edit_once)
    scores = list(Lead.objects.order_by("pk").values_list("score", flat=True))
    assert edited and scores[3:] == [scores[0] + 5] * 3 and scores[:3] == [scores[0]] * 3


def test_a_rule_on_a_custom_field_holding_a_list_scores_each_lead_alone():
    rule = QualificationRule(kind=RuleKind.FIT, field="custom.tags", operator=RuleOperator.EXISTS,
                             points=5, description="Has tags")  # fmt: skip
    funnel = SimpleNamespace(agreement=SimpleNamespace(pk=0), rules=(rule,))
    customs = [{"tags": ["a"]}, {"tags": []}, {}, {"tags": "a"}, {"tags": 1}]
    leads = [{"stage": StageKey.INQUIRY, "custom_fields": custom} for custom in customs]
    importer._score(leads, funnel=funnel, known=importer._Scores())
    assert [lead["score"] for lead in leads] == [5, 0, 0, 5, 5]


def test_a_new_lead_is_written_once(active_agreement, marketer):
    with CaptureQueriesContext(connection) as queries:
        lead_import(rows=ROWS[1:3], user=marketer)  # neither qualifies: nothing moves
    updates = [q["sql"] for q in queries if q["sql"].upper().startswith("UPDATE")]
    assert not [sql for sql in updates if "leads_lead" in sql and "score" in sql], updates


def test_on_postgresql_leads_and_their_history_are_copied(active_agreement, marketer, db_vendor):
    need(db_vendor == "postgresql", "COPY is PostgreSQL's")
    rows = [{**row, "stage": "sql", "sql_at": "2026-03-01T09:00"} for row in ROWS[1:3]]
    with CaptureQueriesContext(connection) as queries:
        result = lead_import(rows=rows, user=marketer)
    assert result.created == 2
    inserts = [q["sql"] for q in queries if q["sql"].upper().startswith("INSERT")]
    assert not [sql for sql in inserts if '"leads_lead"' in sql or "leads_stageevent" in sql]
    assert StageEvent.objects.filter(to_stage=StageKey.SQL).count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "ok@example.com", "first_name": "Ann", "company": "", "external_id": None},
        {"email": "not-an-email", "title": "x" * 500, "phone": ""},
        {"email": "a@example.com", "first_name": "y" * 1000, "last_name": "z" * 1000},
        {"email": ("w" * 300) + "@example.com", "country": "PL", "industry": "i" * 400},
        {"email": "", "company": "c" * 300},
    ],
)
def test_text_columns_are_checked_as_full_clean_checks_them(fields):
    expected: dict[str, list[str]] = {}
    try:
        Lead(**fields).full_clean(
            exclude=["owner", "territory", "campaign", "qualified_under", "created_by",
                     "company_size", "source"],
            validate_unique=False, validate_constraints=False,
        )  # fmt: skip
    except ValidationError as exc:
        expected = exc.message_dict
    assert _lead_fields_check(fields) == expected


def test_the_search_index_takes_a_larger_pending_list(db_vendor):
    need(db_vendor == "postgresql", "the search index is PostgreSQL's GIN")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'lead_search_idx'")
        assert cursor.fetchone()[0] == ["gin_pending_list_limit=32768"]


def test_an_import_has_the_worker_merge_the_search_index_pending_list_once_after_it(
    active_agreement, marketer, db_vendor, monkeypatch, django_capture_on_commit_callbacks
):
    need(db_vendor == "postgresql", "the search index is PostgreSQL's GIN")
    from leads import tasks

    queued = []
    monkeypatch.setattr(tasks.settle_search_index, "delay", lambda: queued.append(1))
    monkeypatch.setattr(importer, "SETTLE_AFTER", len(ROWS))  # a bulk run, in four rows
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        lead_import(rows=ROWS, user=marketer, batch_size=2)
    # The run itself merges nothing: it hands the merge to the worker, once, not per batch.
    assert not [q for q in queries if "gin_clean_pending_list" in q["sql"]]
    assert queued == [1]
    with CaptureQueriesContext(connection) as queries:
        tasks.settle_search_index()
    assert len([q for q in queries if "gin_clean_pending_list" in q["sql"]]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        lead_import(rows=[{"email": "dry@example.com"}], user=marketer, dry_run=True)
    assert queued == [1]  # a dry run writes nothing to merge


def test_the_import_merges_the_pending_list_itself_when_the_broker_is_down(
    active_agreement, marketer, db_vendor, monkeypatch, django_capture_on_commit_callbacks
):
    need(db_vendor == "postgresql", "the search index is PostgreSQL's GIN")
    from leads import tasks

    def broker_down():
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.settle_search_index, "delay", broker_down)
    monkeypatch.setattr(importer, "SETTLE_AFTER", len(ROWS))
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = lead_import(rows=ROWS, user=marketer)
    assert result.record.status == "done"
    assert len([q for q in queries if "gin_clean_pending_list" in q["sql"]]) == 1


def test_an_import_is_done_even_when_the_pending_list_cannot_be_merged(
    active_agreement, marketer, db_vendor, monkeypatch
):
    need(db_vendor == "postgresql", "the search index is PostgreSQL's GIN")
    from leads import tasks

    monkeypatch.setattr(importer, "SEARCH_INDEX", "no_such_index")  # as a role not its owner
    result = lead_import(rows=ROWS[1:3], user=marketer)
    tasks.settle_search_index()  # logs and leaves the merge to autovacuum
    assert result.created == 2 and result.record.status == "done"
    assert Lead.objects.count() == 2  # the failed merge rolled back nothing else


def test_a_small_import_leaves_the_pending_list_to_autovacuum(
    active_agreement, marketer, db_vendor, django_capture_on_commit_callbacks
):
    need(db_vendor == "postgresql", "the search index is PostgreSQL's GIN")
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = lead_import(rows=ROWS, user=marketer)
    assert result.created == len(ROWS) < importer.SETTLE_AFTER
    assert not [q for q in queries if "gin_clean_pending_list" in q["sql"]]


def test_no_lead_is_looked_up_for_qualifying_when_no_score_reaches_the_threshold(
    active_agreement, marketer
):
    low = [{"email": f"low{i}@example.com", "company_size": "3", "title": "Intern"}
           for i in range(3)]  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        result = lead_import(rows=low, user=marketer)
    assert result.created == 3
    assert all(
        s < active_agreement.mql_threshold for s in Lead.objects.values_list("score", flat=True)
    )
    assert not [q for q in queries if "l.score >=" in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        lead_import(rows=ROWS[:1], user=marketer)  # 60 points: looked up, and promoted
    assert len([q for q in queries if "l.score >=" in q["sql"]]) == 1
    assert Lead.objects.get(email="full@example.com").stage == StageKey.MQL
