"""The metrics/ and scorecards/ endpoints of API.md."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from metrics.definitions import METRIC_NAMES
from metrics.reporting.services import scorecard_compute, scorecards_compute
from tests.metrics.conftest import EXPECTED, WEEK

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(rep):
    client = APIClient()
    client.force_authenticate(rep)
    return client


def _as_json(value):
    return str(value) if isinstance(value, Decimal) else value


def test_metrics_answers_every_metric_by_name_as_the_definitions_compute_it(api, week_data):
    response = api.get("/api/v1/metrics/", {"start": "2026-03-02", "end": "2026-03-09"})
    assert response.status_code == 200
    body = response.json()
    assert list(body["metrics"]) == METRIC_NAMES
    assert body["metrics"] == {name: _as_json(value) for name, value in EXPECTED.items()}
    assert body["metrics"]["revenue"] == "3800.50"  # money is a decimal string
    assert body["metrics"]["stage_conversion[sql→opportunity]"] is None
    assert body["definitions"]["acceptance_rate"]["unit"] == "rate"


def test_metrics_take_the_filters_and_a_week(api, week_data):
    by_week = api.get("/api/v1/metrics/", {"week": "2026-03-05", "metric": "new_leads"}).json()
    assert by_week["metrics"] == {"new_leads": 3}
    assert (by_week["start"], by_week["end"]) == ("2026-03-02", "2026-03-09")
    narrowed = api.get(
        "/api/v1/metrics/",
        {"week": "2026-03-02", "campaign": week_data.c1.pk, "metric": ["new_leads", "roi"]},
    ).json()
    assert narrowed["metrics"] == {"new_leads": 2, "roi": 1.0}
    assert api.get(
        "/api/v1/metrics/", {"week": "2026-03-02", "territory": week_data.north.pk,
                             "owner": week_data.rep.pk, "source": "paid_search",
                             "metric": "new_leads"}
    ).json()["metrics"] == {"new_leads": 1}  # fmt: skip


def test_metrics_list_mql_overrides_narrowed_like_the_others(api, week_data):
    def overrides(**params):
        body = api.get("/api/v1/metrics/", {"metric": "mql_overrides", **params}).json()
        return body["metrics"]["mql_overrides"]

    assert overrides(week="2026-03-02") == 1  # l2's; l4's is on the next Monday
    assert overrides(week="2026-03-09") == 1
    assert overrides(week="2026-03-02", campaign=week_data.c1.pk) == 1
    assert overrides(week="2026-03-02", territory=week_data.north.pk) == 0
    assert overrides(week="2026-03-02", owner=week_data.rep.pk) == 0
    every = api.get("/api/v1/metrics/", {"week": "2026-03-02"}).json()
    assert every["metrics"]["mql_overrides"] == 1
    assert every["definitions"]["mql_overrides"] == {"label": "MQL overrides", "unit": "count"}
    scorecard_compute(week=WEEK.start, territory=None)
    (card,) = api.get("/api/v1/scorecards/", {"week": "2026-03-02"}).json()["results"]
    assert card["metrics"]["mql_overrides"] == 1


def test_a_marketers_move_out_of_mql_leaves_the_acceptance_rate_in_the_api(api, week_data):
    from leads.models import StageEvent
    from tests.metrics.conftest import at

    StageEvent.objects.create(
        lead=week_data.leads[2], from_stage="mql", to_stage="recycled", occurred_at=at(3, 6),
        actor_team="marketing",
    )  # fmt: skip
    body = api.get("/api/v1/metrics/", {"week": "2026-03-02", "metric": "acceptance_rate"})
    assert body.json()["metrics"] == {"acceptance_rate": 0.5}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-02-30"}, "start"),
        ({"start": "2026-03-09", "end": "2026-03-02"}, "end"),
        ({"territory": "abc"}, "territory"),
        ({"campaign": "999999"}, "campaign"),
        ({"source": "carrier_pigeon"}, "source"),
        ({"metric": "happiness"}, "metric"),
    ],
)
def test_bad_metric_parameters_are_400_field_errors(api, week_data, params, field):
    response = api.get("/api/v1/metrics/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_the_api_needs_authentication(week_data):
    assert APIClient().get("/api/v1/metrics/").status_code == 401
    assert APIClient().get("/api/v1/scorecards/").status_code == 401


def test_scorecards_list_the_weeks_with_score_components_and_delta(api, week_data):
    scorecard_compute(week=WEEK.start.replace(day=23, month=2), territory=None)
    scorecard_compute(week=WEEK.start, territory=None)
    scorecard_compute(week=WEEK.start, territory=week_data.north)
    response = api.get("/api/v1/scorecards/", {"week": "2026-03-04", "territory": "overall"})
    assert response.status_code == 200
    [card] = response.json()["results"]
    assert card["week_start"] == "2026-03-02" and card["territory"] is None
    assert card["alignment_score"] == "66.95"
    assert card["metrics"]["revenue"] == "3800.50"
    assert {c["key"] for c in card["components"]} >= {"sla_compliance", "acceptance_rate"}
    assert card["delta"]["new_leads"] == 2
    north = api.get("/api/v1/scorecards/", {"territory": week_data.north.pk}).json()["results"]
    assert [c["territory"] for c in north] == [week_data.north.pk]
    assert len(api.get("/api/v1/scorecards/").json()["results"]) == 3


@pytest.mark.parametrize(("params", "field"), [({"week": "soon"}, "week"),
                                               ({"territory": "mars"}, "territory")])  # fmt: skip
def test_bad_scorecard_parameters_are_400(api, week_data, params, field):
    response = api.get("/api/v1/scorecards/", params)
    assert response.status_code == 400 and field in response.json()


def test_the_scorecard_list_costs_the_same_for_more_rows(api, week_data):
    scorecards_compute(week=WEEK.start, trailing=0)
    api.get("/api/v1/scorecards/")  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/scorecards/")
    scorecards_compute(week=WEEK.start, trailing=5)
    with CaptureQueriesContext(connection) as many:
        response = api.get("/api/v1/scorecards/")
    assert len(response.json()["results"]) == 12
    assert len(many) == len(few)


def test_the_schema_documents_both_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/metrics/" in schema and "/api/v1/scorecards/" in schema
    assert "stage_conversion[mql→won]" in schema or "stage_conversion[mql\\u2192won]" in schema
