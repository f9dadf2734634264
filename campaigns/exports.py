"""The campaigns list as CSV: every campaign with its KPIs for the page's period and model.

The figures are the list page's own (campaigns.selectors' campaign_kpis), raw numbers
rather than formatted money, so a spreadsheet can add them up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import selectors
from campaigns.forms import PeriodForm
from campaigns.models import Campaign
from campaigns.views import LIST_DEFAULT_DAYS
from config.exports import csv_response
from config.formats import person_name
from config.replicas import replica_page
from metrics.definitions import MetricFilter

KPI_COLUMNS = (
    "spend",
    "new_leads",
    "mqls",
    "mqls_accepted",
    "pipeline_created",
    "won_revenue",
    "cost_per_lead",
    "cost_per_mql",
    "cac",
    "roi",
)


def _header() -> list[str]:
    return [
        _("Campaign"), _("Channel"), _("Status"), _("Owner"), _("Spend"), _("Leads"),
        _("MQLs"), _("Accepted"), _("Pipeline"), _("Won revenue"), _("CPL"), _("Cost / MQL"),
        _("CAC"), _("ROI"),
    ]  # fmt: skip


def _rows(table: Any, campaigns: list[Campaign]) -> Iterator[list[Any]]:
    for campaign in campaigns:
        kpi = table.row(campaign.pk)
        yield [
            campaign.name,
            campaign.get_channel_display(),
            campaign.get_status_display(),
            person_name(campaign.owner),
            *(kpi[name] for name in KPI_COLUMNS),
        ]
    yield [_("All campaigns"), "", "", "", *(table.totals[name] for name in KPI_COLUMNS)]


@replica_page
def campaign_list_csv_view(request: HttpRequest) -> HttpResponse:
    """The list page's period (`start`, `end`, `model`); a bad period goes back to the page,
    which says what is wrong."""
    form = PeriodForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return redirect(reverse("campaigns:list") + "?" + request.GET.urlencode())
    today = timezone.localdate()
    start, end, model = form.period(
        default_start=today - timedelta(days=LIST_DEFAULT_DAYS - 1),
        default_end=today + timedelta(days=1),
    )
    f = MetricFilter(start=start, end=end)
    table = selectors.campaign_kpis(f=f, by="campaign", model=model)
    campaigns = list(Campaign.objects.select_related("owner").order_by("-starts_on", "name"))
    last = end - timedelta(days=1)
    return csv_response(
        filename=f"campaigns_{start.isoformat()}_{last.isoformat()}_{model}.csv",
        header=_header(),
        rows=_rows(table, campaigns),
    )
