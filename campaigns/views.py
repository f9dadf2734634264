"""Thin HTML views of campaigns."""

from __future__ import annotations

from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from campaigns.models import Campaign


def campaign_list_view(request: HttpRequest) -> HttpResponse:
    campaigns = (
        Campaign.objects.select_related("owner")
        .annotate(lead_count=Count("first_touch_leads", distinct=True))
        .order_by("-starts_on", "name")
    )
    return render(request, "campaigns/list.html", {"campaigns": campaigns})


def campaign_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("owner"), pk=pk)
    context = {
        "campaign": campaign,
        "spend_total": campaign.spend_entries.aggregate(total=Sum("amount"))["total"] or 0,
        "spend_entries": campaign.spend_entries.all()[:50],
        "collateral": campaign.collateral.all(),
        "territories": campaign.target_territories.all(),
        "lead_count": campaign.first_touch_leads.count(),
    }
    return render(request, "campaigns/detail.html", context)
