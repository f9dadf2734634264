"""The campaigns list as CSV: the page's period and model, its KPI figures, names defused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from campaigns import selectors
from metrics.definitions import MetricFilter
from tests.exports import HOSTILE, column, safe_rows
from tests.factories import CampaignFactory, SpendEntryFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]

PERIOD = "start=2026-01-01&end=2026-01-31"


@pytest.fixture
def campaigns():
    owner = UserFactory(first_name=HOSTILE[2], last_name=HOSTILE[7])
    made = [CampaignFactory(name=name, owner=owner) for name in HOSTILE]
    SpendEntryFactory(campaign=made[0], date=date(2026, 1, 12), amount=Decimal("12.50"))
    SpendEntryFactory(campaign=made[0], date=date(2026, 2, 12), amount=Decimal("99.00"))
    return made


def test_every_campaign_with_its_kpis_and_the_totals(client, marketer, campaigns):
    client.force_login(marketer)
    response = client.get(f"/campaigns/campaigns.csv?{PERIOD}")
    assert response.status_code == 200
    rows = safe_rows(response)
    assert rows[0][:5] == ["Campaign", "Channel", "Status", "Owner", "Spend"]
    assert len(rows) == 1 + len(HOSTILE) + 1  # the campaigns and the totals
    assert "'=1+1" in column(rows, "Campaign") and rows[-1][0] == "All campaigns"
    by_name = {row[0]: row for row in rows[1:]}
    first = by_name["'=1+1"]
    assert first[rows[0].index("Spend")] == "12.50"  # February's spend is outside the period
    assert first[rows[0].index("Leads")] == "0"
    assert first[rows[0].index("Owner")] == "'@SUM(A1) a,'=b"


def test_the_figures_are_the_pages(client, marketer, campaigns):
    client.force_login(marketer)
    rows = safe_rows(client.get("/campaigns/campaigns.csv?start=2026-01-01&end=2026-02-28"))
    table = selectors.campaign_kpis(
        f=MetricFilter(start=date(2026, 1, 1), end=date(2026, 3, 1)), by="campaign"
    )
    assert column(rows, "Spend")[-1] == str(table.totals["spend"]) == "111.50"


@pytest.mark.parametrize("user", ["rep", "executive"])
def test_everyone_who_sees_the_list_may_download_it(client, campaigns, user, request):
    client.force_login(request.getfixturevalue(user))
    assert client.get(f"/campaigns/campaigns.csv?{PERIOD}").status_code == 200


def test_a_bad_period_goes_back_to_the_page(client, marketer, campaigns):
    client.force_login(marketer)
    response = client.get("/campaigns/campaigns.csv?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 302
    assert response["Location"].startswith("/campaigns/?")


def test_the_list_links_its_csv_with_its_period(client, marketer, campaigns):
    client.force_login(marketer)
    page = client.get(f"/campaigns/?{PERIOD}").content.decode()
    assert "/campaigns/campaigns.csv?start=2026-01-01&amp;end=2026-01-31" in page
