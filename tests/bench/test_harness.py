"""The benchmark harness builds its data set, runs every benchmark, refuses without PostgreSQL.

No figure is judged here (performance lives in bench/ and docs/performance.md): only that
every figure `make bench` promises is produced.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import need


def test_make_bench_refuses_without_a_postgresql_database_url(monkeypatch, capsys):
    from bench.runner import _refuse_without_postgres

    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    with pytest.raises(SystemExit) as exit_info:
        _refuse_without_postgres()
    assert exit_info.value.code == 2
    assert "needs a PostgreSQL database" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_the_harness_rescores_a_generated_data_set_like_the_python_formula():
    need(connection.vendor == "postgresql", "the harness generates data with PostgreSQL SQL")
    from alignment.agreement.scoring import score_compute
    from alignment.agreement.selectors import agreement_active
    from bench import rescoring  # noqa: F401 - registers the benchmarks
    from bench.dataset import dataset_build
    from bench.registry import BENCHMARKS
    from leads.models import Lead

    dataset = dataset_build(scale="tiny")
    assert Lead.objects.count() == dataset.leads == 500
    measurements = BENCHMARKS["rescore_all"].func(dataset)
    assert [m.rows for m in measurements] == [500, 500, 500]
    agreement = agreement_active()
    rules = list(agreement.rules.all())
    for lead in Lead.objects.order_by("id")[:120]:
        touches = list(lead.touches.values_list("kind", "occurred_at"))
        expected = score_compute(lead=lead, rules=rules, touches=touches, now=lead.scored_at)
        assert lead.score == expected.score, lead.pk
        assert {e["rule_id"] for e in lead.score_breakdown} == {
            e["rule_id"] for e in expected.breakdown
        }


EXPECTED_FIGURES = {
    "first scoring (empty breakdowns)",
    "rescore_all",
    "lead list API page 1",
    "lead list API deep page",
    "lead create API",
    "lead list API queries/request",
    "rep queue page",
    "lead page",
    "dashboard",
    "CSV import 50 rows",
    "CSV import 500 rows",
    "scorecard one week",
    "scorecards full recompute",
    "double the history",
    "scorecard one week (2x history)",
    "scorecards full recompute (2x history)",
}


@pytest.mark.django_db(transaction=True)
def test_every_benchmark_runs_once_at_the_tiny_scale_and_reports_its_figures():
    need(connection.vendor == "postgresql", "the harness generates data with PostgreSQL SQL")
    from bench.dataset import PATHS, dataset_build
    from bench.runner import benchmarks_run
    from leads.models import Deal, Lead, StageEvent

    dataset = dataset_build(scale="tiny")
    # Stage events follow each lead's path; deals exist for opportunity/won/lost leads.
    lead = Lead.objects.filter(stage="won").first()
    assert (
        list(lead.stage_events.order_by("occurred_at").values_list("to_stage", flat=True))
        == (PATHS["won"])
    )
    assert StageEvent.objects.count() == dataset.stage_events
    assert (
        Deal.objects.count()
        == Lead.objects.filter(stage__in=["opportunity", "won", "lost"]).count()
    )

    measurements = benchmarks_run(dataset=dataset, wanted=[])
    by_name = {m.name: m for m in measurements}
    assert by_name.keys() >= EXPECTED_FIGURES
    for name in ("lead list API page 1", "lead list API deep page", "lead create API"):
        figures = by_name[name].extra
        assert figures["requests"] > 0 and figures["failures"] == 0, (name, figures)
        assert figures["p95_ms"] >= figures["p50_ms"] > 0
    queries = by_name["lead list API queries/request"].extra["queries"]
    assert {f"page 1, {n}" for n in (10, 100, 500)} | {f"deep, {n}" for n in (10, 100, 500)} <= (
        queries.keys()
    )
    for name in ("rep queue page", "lead page", "dashboard"):
        assert by_name[name].extra["queries"] > 0
    assert by_name["CSV import 500 rows"].rows == 500
    assert by_name["CSV import 500 rows"].extra["peak_rss_bytes"] > 0
    assert by_name["scorecard one week (2x history)"].extra["ratio"] > 0
    assert by_name["double the history"].rows >= 2 * 500
