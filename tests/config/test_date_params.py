"""Report-period dates out of range are refused, never a server error.

Every page and API endpoint is asked for periods that end past year 9999, start before
1970 or are no date Python knows (`?start=99999-01-01`): a page answers with a form error or
a message, the API with a 400 naming the parameter. A campaign whose end was stored as
9999-12-31 (before the window was enforced, or by another system) keeps its page; the
services, forms and admin refuse such a date from now on.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.authtoken.models import Token

from campaigns.models import Campaign, SpendEntry
from campaigns.services import campaign_update
from metrics.models import Target
from metrics.reporting.services import target_set
from tests.factories import CampaignFactory, LeadFactory, UserFactory
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = ["9999-12-31", "0001-01-01", "99999-01-01", "1969-12-31"]
PERIOD_PARAMS = ("start", "end", "week")
# The API endpoints that read a period from the query string, and the pages that do.
PERIOD_API = ["/api/v1/metrics/", "/api/v1/campaigns/kpis/", "/api/v1/campaigns/{c}/"]
PERIOD_PAGES = {
    "/metrics/": PERIOD_PARAMS,
    "/metrics/records/": PERIOD_PARAMS,
    "/metrics/targets/": ("start", "end"),
    "/metrics/pack/": ("week",),
    "/campaigns/": ("start", "end"),
    "/campaigns/{c}/": ("start", "end"),
    "/leads/team/": ("week",),
}


@pytest.fixture
def world(db, active_agreement):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    campaign = CampaignFactory(owner=root)
    SpendEntry.objects.create(campaign=campaign, date=date(2026, 1, 6), amount="10.00")
    return {"root": root, "campaign": campaign, "lead": LeadFactory(campaign=campaign)}


def _url(route: str, world: dict) -> str:
    """A route with real ids: the campaign's under campaigns, the lead's under leads."""

    def value(match: re.Match) -> str:
        if "campaign" in route:
            return str(world["campaign"].pk)
        if "lead" in route:
            return str(world["lead"].pk)
        return "1"

    return "/" + re.sub(r"<(?:\w+:)?\w+>", value, route)


def _clients(world: dict) -> tuple[Client, Client]:
    page = Client(raise_request_exception=False)
    page.force_login(world["root"])
    token = Token.objects.create(user=world["root"]).key
    return page, Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


def test_no_url_answers_a_server_error_to_a_date_out_of_range(world):
    page, api = _clients(world)
    failures = {}
    for name, route in all_routes():
        if name in ("logout", "healthz") or "<str:token>" in route:
            continue
        url = _url(route, world)
        client = api if url.startswith("/api/") else page
        for param in PERIOD_PARAMS:
            for value in OUT_OF_RANGE:
                query = {param: value, "metric": "new_leads"}
                status = client.get(url, query).status_code
                if status >= 500:
                    failures.setdefault(url, []).append(f"{param}={value}: {status}")
    assert failures == {}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("param", PERIOD_PARAMS)
def test_the_api_answers_400_naming_the_parameter(world, param, value):
    _page, api = _clients(world)
    for path in PERIOD_API:
        response = api.get(path.format(c=world["campaign"].pk), {param: value})
        assert response.status_code == 400, (path, response.content)
        assert list(response.json()) == [param], path
    response = api.get("/api/v1/scorecards/", {"week": value})
    assert response.status_code == 400 and list(response.json()) == ["week"]


def test_the_api_names_every_bad_parameter_at_once(world):
    _page, api = _clients(world)
    response = api.get("/api/v1/metrics/", {"start": "0001-01-01", "territory": "999999"})
    assert response.status_code == 400
    assert set(response.json()) == {"start", "territory"}
    assert "1970-01-01" in response.json()["start"][0]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_pages_show_the_reason_and_the_default_period(world, value):
    page, _api = _clients(world)
    for path, params in PERIOD_PAGES.items():
        for param in params:
            query = {param: value, "metric": "new_leads"}
            response = page.get(path.format(c=world["campaign"].pk), query)
            assert response.status_code == 200, (path, param)
            body = response.content.decode()
            assert "Enter a date" in body or "Enter a valid date" in body, (path, param)


def test_a_campaign_stored_with_an_end_in_year_9999_keeps_its_page_and_api(world):
    campaign = world["campaign"]
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_on=date(1, 1, 1), ends_on=date(9999, 12, 31)
    )
    page, api = _clients(world)
    response = page.get(f"/campaigns/{campaign.pk}/")
    assert response.status_code == 200 and campaign.name in response.content.decode()
    assert page.get("/campaigns/").status_code == 200
    response = api.get(f"/api/v1/campaigns/{campaign.pk}/")
    assert response.status_code == 200 and response.json()["ends_on"] == "9999-12-31"


def test_the_campaign_service_and_admin_refuse_an_end_in_year_9999(world):
    campaign = world["campaign"]
    with pytest.raises(ValidationError) as raised:
        campaign_update(
            campaign=campaign, actor=world["root"], data={"ends_on": date(9999, 12, 31)}
        )
    assert "five years" in raised.value.message_dict["ends_on"][0]
    campaign.refresh_from_db()
    assert campaign.ends_on is None

    page, _api = _clients(world)
    response = page.post(
        f"/admin/campaigns/campaign/{campaign.pk}/change/",
        {"name": campaign.name, "channel": campaign.channel, "status": campaign.status,
         "starts_on": "2026-01-05", "ends_on": "9999-12-31", "budget": "1000.00",
         "owner": world["root"].pk, "spend_entries-TOTAL_FORMS": "0",
         "spend_entries-INITIAL_FORMS": "0", "collateral-TOTAL_FORMS": "0",
         "collateral-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 200 and "five years ahead" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.ends_on is None


def test_targets_and_the_scorecard_recompute_refuse_a_date_out_of_range(world):
    with pytest.raises(ValidationError) as raised:
        target_set(territory=None, period="month", starts_on=date(9999, 12, 1),
                   revenue_target=1, actor=world["root"])  # fmt: skip
    assert "starts_on" in raised.value.message_dict
    page, _api = _clients(world)
    response = page.post(
        "/metrics/targets/", {"period": "quarter", "starts_on": "9999-12-01", "revenue_target": "5"}
    )
    assert response.status_code == 200 and "five years ahead" in response.content.decode()
    assert not Target.objects.exists()
    response = page.post("/metrics/scorecards/recompute/", {"week": "9999-12-31"}, follow=True)
    assert response.status_code == 200 and "Enter a date between 1970-01-01" in (
        response.content.decode()
    )
