"""POST /api/v1/agreements/{id}/backtest/: the backtest page's figures through the API.

Same window, same function, same numbers as the draft editor's backtest panel; a bad
window or threshold is a 400 with field errors (the page's form refuses the same); every
role that reads the agreement may backtest it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from alignment.accounts.roles import Role
from alignment.agreement.backtest import BACKTEST_MAX_DAYS
from alignment.agreement.services import agreement_draft_create
from alignment.models import Agreement, AgreementStatus
from config.dates import deployment_date
from config.demo import demo_seed
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

COUNTS = ("mqls", "accepted", "opportunities", "won")


def url(pk: int) -> str:
    return reverse("api-agreement-backtest", args=[pk])


def panel(user, agreement: Agreement, params: dict):
    """The page's backtest panel (the htmx partial the editor swaps in)."""
    client = Client()
    client.force_login(user)
    response = client.get(
        reverse("alignment:backtest", args=[agreement.pk]), params, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return response


def shown(html: str, metric: str) -> str:
    found = re.search(rf'data-metric="{metric}">([^<]*)<', html)
    assert found, metric
    return found.group(1).strip()


@pytest.fixture
def demo(db):
    demo_seed(lead_count=60, scorecard_weeks=1)
    return Agreement.objects.get(status=AgreementStatus.ACTIVE)


@pytest.mark.parametrize("threshold", [None, 30])
def test_the_api_gives_the_pages_figures_on_the_demo(demo, api_client, threshold):
    marketer = UserFactory(username="demo-backtester", role=Role.MARKETER)
    draft = agreement_draft_create(user=marketer)
    today = deployment_date()
    window = {
        "start": (today - timedelta(days=BACKTEST_MAX_DAYS - 1)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }
    if threshold is not None:
        window["threshold"] = threshold
    page = panel(marketer, draft, {k: str(v) for k, v in window.items()})
    response = api_client(marketer, token=True).post(url(draft.pk), window, format="json")
    assert response.status_code == 200, response.content
    body = response.json()

    page_result = page.context["backtest"]
    assert body["candidate"] == page_result.candidate.as_dict()
    assert body["active"] == page_result.active.as_dict()
    assert body["candidate"]["mqls"] and body["candidate"]["won_total"]  # real figures
    if threshold is not None:
        assert body["candidate"]["threshold"] == threshold != body["active"]["threshold"]
    # What the page shows, number by number.
    html = page.content.decode()
    for metric in COUNTS:
        assert shown(html, metric) == str(body["candidate"][metric]), metric
    candidate = body["candidate"]
    assert shown(html, "won_missed") == f"{candidate['won_missed']} / {candidate['won_total']}"
    for rate in ("precision", "recall"):
        assert shown(html, rate) == f"{candidate[rate] * 100:.1f}%", rate
    # The window: midnight to midnight in the deployment's time zone.
    assert body["start"].startswith(window["start"] + "T00:00:00")
    assert body["end"].startswith(window["end"] + "T00:00:00")


def test_the_active_version_backtests_against_itself(active_agreement, api_client, rep):
    LeadFactory(company_size=100, title="Head of IT", source="referral")  # 45 points
    today = deployment_date()
    window = {"start": (today - timedelta(days=7)).isoformat(), "end": str(today + timedelta(1))}
    body = api_client(rep).post(url(active_agreement.pk), window, format="json").json()
    assert body["candidate"] == body["active"]
    assert body["candidate"]["leads"] == 1 and body["candidate"]["mqls"] == 0
    assert body["candidate"]["precision"] is None
    lower = api_client(rep).post(
        url(active_agreement.pk), {**window, "threshold": 40}, format="json"
    )
    assert lower.json()["candidate"]["mqls"] == 1 and lower.json()["active"]["mqls"] == 0
    assert not Agreement.objects.exclude(mql_threshold=50).exists()  # a preview saves nothing


def _window(days_from: int, days_to: int) -> dict:
    today = deployment_date()
    return {
        "start": (today + timedelta(days=days_from)).isoformat(),
        "end": (today + timedelta(days=days_to)).isoformat(),
    }


BAD = [
    pytest.param(_window(0, -1), "end", id="end-before-start"),
    pytest.param(_window(0, 0), "end", id="empty-window"),
    pytest.param({"start": "0001-01-01", "end": "2026-01-01"}, "start", id="year-1"),
    pytest.param({"start": "2026-01-01", "end": "9999-12-31"}, "end", id="year-9999"),
    pytest.param({"start": "1970-01-01", "end": "2026-01-01"}, "end", id="absurd-window"),
    pytest.param(_window(-BACKTEST_MAX_DAYS - 1, 0), "end", id="a-day-too-long"),
    pytest.param({**_window(-7, 1), "threshold": "fifty"}, "threshold", id="threshold-words"),
    pytest.param({**_window(-7, 1), "threshold": -1}, "threshold", id="threshold-negative"),
    pytest.param({**_window(-7, 1), "threshold": 10**30}, "threshold", id="threshold-huge"),
    pytest.param({**_window(-7, 1), "threshold": 4.5}, "threshold", id="threshold-fraction"),
    pytest.param({"end": "2026-01-01"}, "start", id="no-start"),
    pytest.param({"start": "1 Jan 2026", "end": "2026-02-01"}, "start", id="not-iso"),
    pytest.param({"start": "10000-01-01", "end": "2026-02-01"}, "start", id="year-10000"),
]


@pytest.mark.parametrize(("data", "field"), BAD)
def test_a_bad_window_or_threshold_is_a_400_naming_the_field(
    active_agreement, api_client, marketer, data, field
):
    response = api_client(marketer).post(url(active_agreement.pk), data, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors and all(isinstance(m, str) for m in errors[field]), errors


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "0001-01-01", "end": "2026-01-01"}, "start"),
        ({"start": "1970-01-01", "end": "2026-01-01"}, "end"),
        ({**_window(-7, 1), "threshold": "fifty"}, "threshold"),
    ],
)
def test_the_page_refuses_the_same_window(active_agreement, marketer, params, field):
    context = panel(marketer, active_agreement, params).context
    assert field in context["backtest_form"].errors and context["backtest"] is None


@pytest.mark.parametrize("pk", [999_999, 10**30])
def test_an_unknown_agreement_is_a_404(active_agreement, api_client, marketer, pk):
    response = api_client(marketer).post(url(pk), _window(-7, 1), format="json")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_backtest_as_on_the_page(active_agreement, api_client, role):
    user = UserFactory(username=f"bt-{role}", role=role)
    response = api_client(user, token=True).post(
        url(active_agreement.pk), _window(-7, 1), format="json"
    )
    assert response.status_code == 200, response.content


def test_without_a_login_or_a_role_it_is_refused(active_agreement, api_client):
    anonymous = api_client().post(url(active_agreement.pk), _window(-7, 1), format="json")
    assert anonymous.status_code == 401
    nobody = UserFactory(username="no-role")  # a login with no team yet
    refused = api_client(nobody).post(url(active_agreement.pk), _window(-7, 1), format="json")
    assert refused.status_code == 403 and set(refused.json()) == {"detail"}


def test_only_post_is_answered(active_agreement, api_client, marketer):
    assert api_client(marketer).get(url(active_agreement.pk)).status_code == 405


def test_the_schema_documents_the_request_and_the_figures():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/agreements/{id}/backtest/"]["post"]
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    assert set(components[request.rpartition("/")[2]]["properties"]) == {
        "start",
        "end",
        "threshold",
    }
    counts = components["BacktestCounts"]["properties"]
    assert {*COUNTS, "precision", "recall", "won_missed", "won_total"} <= set(counts)
