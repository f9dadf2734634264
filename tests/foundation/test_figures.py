"""Figures people can read: one formatter that rounds (never truncates), every figure
names its period, no ROI for a campaign not yet live, right plurals, one date format per
language, an alignment chart whose legend is never cut."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from campaigns.models import CampaignStatus, SpendEntry
from config.formats import date_text, number_format, percent_format, period_format
from metrics.reporting import charts
from metrics.reporting.presentation import delta_display, display
from tests.factories import CampaignFactory, DisputeFactory, ScorecardFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, user) -> Client:
    client.force_login(user)
    return client


# --- one formatter, rounding --------------------------------------------------------------------


def test_the_formatter_rounds_half_up_and_never_truncates():
    with translation.override("en"):
        assert percent_format(0.6666) == "66.7%"
        assert percent_format(2 / 3) == "66.7%"
        assert number_format(66.66, 1) == "66.7"
        assert number_format(2.25, 1) == "2.3"
        assert number_format(-0.00004, 1) == "0.0"
        assert display(2.66, "hours") == "2.7 h"  # Django's number_format says 2.6
        assert delta_display(0.6666, "rate") == "+66.7 pp"
    with translation.override("pl"):
        assert percent_format(2 / 3) == "66,7%"
        assert number_format(66.66, 1) == "66,7"


def test_one_date_format_per_language():
    day = date(2026, 11, 23)
    with translation.override("en"):
        assert date_text(day) == "23 Nov 2026"
        assert period_format(date(2026, 10, 1), date(2026, 12, 31)) == "1 Oct 2026 – 31 Dec 2026"
    for language in ("en", "id", "pl"):
        with translation.override(language):
            formats = {date_format(day, name) for name in ("DATE_FORMAT", "SHORT_DATE_FORMAT")}
            assert formats == {date_text(day)}, language


# --- ROI: its period, and none before a campaign is live ---------------------------------------


def _planned_with_spend(owner):
    today = timezone.localdate()
    campaign = CampaignFactory(
        owner=owner, status=CampaignStatus.PLANNED, name="Spring fair", starts_on=today
    )
    SpendEntry.objects.create(campaign=campaign, date=today, amount=Decimal("500.00"))
    return campaign


def test_a_planned_campaign_shows_no_roi_anywhere(client, marketer):
    campaign = _planned_with_spend(marketer)
    _login(client, marketer)
    listing = client.get(reverse("campaigns:list")).content.decode()
    row = listing[listing.index("Spring fair") :].split("</tr>")[0]
    assert "-100%" not in row and "not live" in row
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    roi_tile = detail[detail.index('id="roi"') :].split("</div>")[0]
    assert "-100%" not in roi_tile and "Not live yet" in roi_tile
    dashboard = client.get(reverse("metrics:dashboard")).content.decode()
    returns = dashboard[dashboard.index('id="campaign-returns"') :].split("</table>")[0]
    assert "Spring fair" in returns and "-100%" not in returns
    api = client.get(f"/api/v1/campaigns/{campaign.pk}/")
    assert api.json()["roi"] is None


def test_a_live_campaign_shows_its_roi_with_the_period_on_dashboard_and_campaigns(client, marketer):
    campaign = _planned_with_spend(marketer)
    campaign.status, campaign.launched_at = CampaignStatus.LIVE, timezone.now()
    campaign.save()
    _login(client, marketer)
    today = timezone.localdate()
    with translation.override("en"):
        listing = client.get(reverse("campaigns:list")).content.decode()
        period = period_format(today - timedelta(days=89), today)
        assert re.search(r"ROI <small[^>]*>" + re.escape(period) + "</small>", listing)
        assert "-100%" in listing[listing.index("Spring fair") :].split("</tr>")[0]
        dashboard = client.get(reverse("metrics:dashboard")).content.decode()
        period = period_format(today - timedelta(days=27), today)
        returns = dashboard[dashboard.index('id="campaign-returns-period"') :].split("</p>")[0]
        assert returns.endswith(f"ROI · {period}")
        assert f'<span class="tile-period small muted">{period}</span>' in dashboard


# --- plurals ----------------------------------------------------------------------------------


def test_one_open_dispute_reads_in_the_singular(client, marketer):
    DisputeFactory()
    page = _login(client, marketer).get(reverse("home")).content.decode()
    assert "open dispute<" in page.replace("</span>", "<") and "open disputes" not in page


# --- the alignment chart ------------------------------------------------------------------------


def test_the_score_chart_is_one_line_without_a_legend_and_components_are_sparklines(
    client, marketer
):
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday() + 7)
    for weeks_back in range(3):
        ScorecardFactory(
            week_start=monday - timedelta(weeks=weeks_back),
            territory=None,
            components=[
                {"key": "sla_compliance", "label": "SLA", "weight": 25, "value": 0.75},
                {"key": "acceptance_rate", "label": "Acc", "weight": 20, "value": 2 / 3},
            ],
        )
    page = _login(client, marketer).get(reverse("metrics:dashboard")).content.decode()
    svg = page[page.index('class="pygal-chart chart-score') :].split("</svg>")[0]
    assert 'class="legends"' not in svg and "legend" not in svg.lower().replace("legends", "")
    assert set(re.findall(r'class="series serie-(\d+)', svg)) == {"0"}  # one line
    table = page[page.index('id="score-components"') :].split("</table>")[0]
    assert table.count('<svg class="sparkline"') == 2
    assert "66.7%" in table


def test_a_sparkline_breaks_at_a_missing_week_and_names_itself():
    svg = str(charts.sparkline([0.5, 0.6, None, 0.7, 0.8], label="SLA <compliance>"))
    assert svg.count("<polyline") == 2
    assert 'aria-label="SLA &lt;compliance&gt;"' in svg
