"""The scorecards (per week and territory, with components) and the meeting pack as CSV."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from alignment.agreement.selectors import COMPONENT_LABELS
from alignment.models import Dispute, FieldIntel
from metrics.definitions import metric_label
from metrics.reporting.services import scorecard_compute
from tests.exports import HOSTILE, column, safe_rows
from tests.factories import ScorecardFactory, TerritoryFactory
from tests.metrics.conftest import WEEK, at

pytestmark = pytest.mark.django_db

COMPONENTS = [
    {"key": "sla_compliance", "label": "SLA compliance", "raw": 0.75, "value": 0.75,
     "weight": 25, "effective_weight": 0.5},
    {"key": "mql_to_won_vs_plan", "label": "MQL to won vs plan",
     "raw": {"actual": 0.1, "planned": 0.2}, "value": 0.5, "weight": 25, "effective_weight": 0.5},
]  # fmt: skip


@pytest.fixture
def cards():
    hostile = TerritoryFactory(code="hx", name=HOSTILE[6])
    other = TerritoryFactory(code="ot", name="Other")
    made = []
    for week in (date(2026, 2, 23), date(2026, 3, 2)):
        for territory in (None, hostile, other):
            card = ScorecardFactory(
                week_start=week, territory=territory, components=COMPONENTS,
                metrics={"new_leads": 3, "revenue": "-12.50"},
                delta={"alignment_score": -3.5}, alignment_score=Decimal("62.50"),
            )  # fmt: skip
            made.append(card)
    ScorecardFactory(week_start=date(2025, 6, 2), territory=None)  # outside the 12 weeks
    return hostile, other


def test_the_scorecards_per_week_and_territory_with_components(client, rep, cards):
    client.force_login(rep)
    response = client.get("/metrics/scorecards.csv?start=2026-03-02&end=2026-03-09")
    assert response.status_code == 200
    rows = safe_rows(response)
    header = rows[0]
    assert header[:3] == ["Week", "Territory", "Alignment score"]
    assert "SLA compliance: value" in header and "SLA compliance: share" in header
    plan = COMPONENT_LABELS["mql_to_won_vs_plan"]
    assert f"{plan}: actual" in header and f"{plan}: planned" in header
    assert column(rows, "Week") == ["2026-02-23"] * 3 + ["2026-03-02"] * 3
    assert column(rows, "Territory")[:3] == ["Overall", 'Acme;\'=HYPERLINK("http://x")', "Other"]
    assert set(column(rows, metric_label("revenue"))) == {"-12.50"}
    assert set(column(rows, metric_label("new_leads"))) == {"3"}
    assert set(column(rows, "Change in score")) == {"-3.5"}
    assert set(column(rows, f"{plan}: planned")) == {"0.2"}
    assert set(column(rows, "SLA compliance: weight")) == {"25"}


def test_the_scorecards_keep_the_dashboards_territory(client, rep, cards):
    hostile, _other = cards
    client.force_login(rep)
    rows = safe_rows(
        client.get(
            f"/metrics/scorecards.csv?start=2026-03-02&end=2026-03-09&territory={hostile.pk}"
        )
    )
    assert set(column(rows, "Territory")) == {'Acme;\'=HYPERLINK("http://x")'}
    assert len(rows) == 1 + 2
    assert client.get("/metrics/scorecards.csv?territory=nope").status_code == 302


def test_the_dashboard_links_its_scorecards(client, rep, cards):
    client.force_login(rep)
    page = client.get("/metrics/?start=2026-03-02&end=2026-03-09").content.decode()
    assert 'href="/metrics/scorecards.csv?start=2026-03-02&amp;end=2026-03-09"' in page


def test_the_meeting_pack_with_its_figures_and_lists(client, week_data, executive):
    scorecard_compute(week=date(2026, 2, 23), territory=None)
    scorecard_compute(week=WEEK.start, territory=None)
    for value in HOSTILE:
        Dispute.objects.create(
            lead=week_data.leads[0], kind="rejection", raised_by=week_data.rep,
            raised_by_team="sales", reason=value, created_at=at(3, 4),
        )  # fmt: skip
        FieldIntel.objects.create(
            author=week_data.rep, kind="pricing", text=value, created_at=at(3, 4, 10)
        )
    client.force_login(executive)
    response = client.get("/metrics/pack.csv?week=2026-03-04")
    assert response.status_code == 200
    rows = safe_rows(response)
    assert rows[0][:4] == ["Section", "Item", "Value", "Change"]
    by_item = {(row[0], row[1]): row for row in rows[1:]}
    assert by_item[("Scorecard", "Alignment score")][2] == "66.95"
    revenue = by_item[("Metric", metric_label("revenue"))]
    assert revenue[2:4] == ["3800.50", "3100.5"]
    assert by_item[("Metric", metric_label("new_leads"))][2:4] == ["3", "2.0"]
    assert by_item[("Open dispute", "Total")][2] == str(1 + len(HOSTILE))
    reasons = [row[8] for row in rows if row[0] == "Open dispute"]
    assert "'@SUM(A1)" in reasons and "a,'=b" in reasons
    texts = [row[8] for row in rows if row[0] == "Intelligence waiting"]
    assert "'\t'=x" in texts


def test_the_pack_export_keeps_the_pages_week_and_territory(client, week_data, rep):
    client.force_login(rep)
    north = week_data.north.pk
    response = client.get(f"/metrics/pack.csv?week=2026-03-02&territory={north}")
    assert response.status_code == 200
    assert f"meeting-pack_2026-03-02_{north}.csv" in response["Content-Disposition"]
    safe_rows(response)
    assert client.get("/metrics/pack.csv?week=9999-12-31").status_code == 302
    page = client.get(f"/metrics/pack/?week=2026-03-02&territory={north}").content.decode()
    assert f'href="/metrics/pack.csv?week=2026-03-02&amp;territory={north}"' in page
