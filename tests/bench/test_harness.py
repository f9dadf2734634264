"""The benchmark harness builds its data set, times rescoring and refuses without PostgreSQL."""

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
    from alignment.scoring import score_compute
    from alignment.selectors import agreement_active
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
