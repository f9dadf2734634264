"""Thin HTML views of the leads app; rules live in services and selectors."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from alignment.models import Dispute, DisputeStatus, FieldIntel, IntelStatus
from alignment.roles import Role, user_has_role, user_primary_role
from campaigns.models import Campaign, CampaignStatus
from leads.filters import LeadFilter
from leads.models import Lead
from leads.selectors import OPEN_STAGES, lead_queue, lead_stage_counts, lead_timeline


def home(request: HttpRequest) -> HttpResponse:
    """A home page that fits the role: reps see their queue, managers their team, …"""
    user = request.user
    role = user_primary_role(user)
    context: dict = {"role": role, "now": timezone.now(), "stage_counts": lead_stage_counts()}
    if user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER):
        queue = lead_queue(rep=user)
        context["queue"] = queue[:10]
        context["queue_total"] = queue.count()
        context["overdue_total"] = queue.filter(sla_due_at__lt=timezone.now()).count()
    if user_has_role(user, Role.SALES_MANAGER, Role.EXECUTIVE) or user.is_superuser:
        context["unassigned_mqls"] = Lead.objects.filter(stage="mql", owner__isnull=True).count()
        context["open_overdue"] = Lead.objects.filter(
            stage__in=OPEN_STAGES, sla_due_at__lt=timezone.now()
        ).count()
    if (
        user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER, Role.EXECUTIVE)
        or user.is_superuser
    ):
        context["live_campaigns"] = Campaign.objects.filter(
            status=CampaignStatus.LIVE
        ).select_related("owner")[:10]
        context["new_intel"] = FieldIntel.objects.filter(status=IntelStatus.NEW).count()
    context["open_disputes"] = Dispute.objects.filter(status=DisputeStatus.OPEN).count()
    return render(request, "leads/home.html", context)


def lead_list_view(request: HttpRequest) -> HttpResponse:
    queryset = Lead.objects.select_related("owner", "territory", "campaign")
    lead_filter = LeadFilter(request.GET or None, queryset=queryset)
    leads = lead_filter.qs if lead_filter.is_bound else queryset
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    return render(request, "leads/list.html", {"filter": lead_filter, "page": page})


def queue_view(request: HttpRequest) -> HttpResponse:
    page = Paginator(lead_queue(rep=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "leads/queue.html", {"page": page, "now": timezone.now()})


def lead_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(
        Lead.objects.select_related("owner", "territory", "campaign", "qualified_under"), pk=pk
    )
    context = {
        "lead": lead,
        "timeline": lead_timeline(lead=lead),
        "deals": lead.deals.all(),
        "now": timezone.now(),
    }
    return render(request, "leads/detail.html", context)
