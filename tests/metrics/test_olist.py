"""Acceptance: the Olist funnel sample, imported through the importer, converts as its rows say.

tests/fixtures/olist_funnel_sample.md says where the sample comes from (CC BY-NC-SA 4.0).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from leads.datasets import OLIST_ORIGIN_TO_SOURCE
from leads.importer import lead_import
from leads.models import Lead
from metrics.definitions import MetricFilter, metric_value, metric_values_grouped

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "olist_funnel_sample.csv"
# First contacts span 14 June 2017 to 31 May 2018 (wins run later, to November 2018).
PERIOD = MetricFilter(start=date(2017, 6, 1), end=date(2018, 6, 2))


def _raw_rows() -> list[dict[str, str]]:
    with FIXTURE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _import_rows(raw: list[dict[str, str]]) -> list[dict[str, str]]:
    """The importer's columns: an MQL from its first contact, won on the deal's date."""
    return [
        {
            "external_id": row["mql_id"],
            "email": f"{row['mql_id']}@olist.example",
            "source": OLIST_ORIGIN_TO_SOURCE[row["origin"]],
            "created_at": row["first_contact_date"],
            "mql_at": row["first_contact_date"],
            "won_at": row["won_date"],
        }
        for row in raw
    ]


@pytest.fixture
def imported(settings, marketer):
    settings.TIME_ZONE = "America/Sao_Paulo"  # Olist's own, and not UTC
    from alignment.services import agreement_create_default

    agreement_create_default()
    raw = _raw_rows()
    result = lead_import(rows=_import_rows(raw), user=marketer)
    assert (result.errors, result.created) == (0, 200), result.results[:3]
    assert Lead.objects.count() == len(raw) == 200
    return raw


def test_the_overall_mql_to_won_conversion_equals_the_raw_rows(imported):
    won = sum(1 for row in imported if row["won_date"])
    assert won == 50
    assert metric_value(name="mqls", f=PERIOD) == len(imported)
    assert metric_value(name="stage_conversion[mql→won]", f=PERIOD) == round(won / len(imported), 4)


def test_the_conversion_per_source_channel_equals_the_raw_rows(imported):
    totals: dict[str, int] = defaultdict(int)
    wins: dict[str, int] = defaultdict(int)
    for row in imported:
        source = OLIST_ORIGIN_TO_SOURCE[row["origin"]]
        totals[source] += 1
        wins[source] += bool(row["won_date"])
    expected = {source: round(wins[source] / totals[source], 4) for source in totals}
    grouped = metric_values_grouped(f=PERIOD, by="source", names=["stage_conversion[mql→won]"])
    assert {source: values["stage_conversion[mql→won]"] for source, values in grouped.items()} == (
        expected
    )
    assert len(expected) >= 8  # every channel of the sample, blanks as unknown


def test_the_mql_count_per_month_follows_the_deployment_time_zone(imported):
    # A first contact is a date, imported as midnight in São Paulo (03:00 UTC): each lands
    # in its own month, so May 2018 has exactly the rows dated May.
    may = MetricFilter(start=date(2018, 5, 1), end=date(2018, 6, 1))
    assert metric_value(name="mqls", f=may) == sum(
        1 for row in imported if row["first_contact_date"].startswith("2018-05")
    )
