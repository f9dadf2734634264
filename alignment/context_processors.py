from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from alignment.accounts.roles import Role, user_has_role, user_primary_role
from alignment.notifications.services import notification_unread_count


def navigation(request: HttpRequest) -> dict:
    """The header navigation for the user's role; pages still check permissions themselves."""
    user = request.user
    if not user.is_authenticated:
        return {}
    items = [(_("Home"), reverse("home")), (_("Waiting on me"), reverse("handoffs:list"))]
    if user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER):
        items.append((_("My queue"), reverse("leads:queue")))
    items.append((_("Leads"), reverse("leads:list")))
    items.append((_("Campaigns"), reverse("campaigns:list")))
    items.append((_("Agreement"), reverse("alignment:agreement")))
    if user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER):
        items.append((_("Agenda"), reverse("leads:agenda")))
    if user.is_superuser or user_has_role(user, Role.SALES_MANAGER, Role.EXECUTIVE):
        items.append((_("Team"), reverse("leads:team")))
    if user.is_superuser or user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER, Role.EXECUTIVE):
        items.append((_("Ledger"), reverse("leads:ledger")))
    if user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER):
        items.append((_("Intel inbox"), reverse("feedback:intel")))
    else:
        items.append((_("Intel"), reverse("feedback:intel")))
    items.append((_("Battlecards"), reverse("feedback:battlecards")))
    items.append((_("Disputes"), reverse("feedback:disputes")))
    items.append((_("Dashboard"), reverse("metrics:dashboard")))
    items.append((_("Targets"), reverse("metrics:targets")))
    if user.is_superuser or user_has_role(user, Role.SALES_MANAGER):
        items.append((_("Territories"), reverse("territories:list")))
    if user.has_perm("leads.add_leadimport"):
        items.append((_("Import"), reverse("leads:import")))
    if user.is_staff:
        items.append((_("Admin"), reverse("admin:index")))
    role = user_primary_role(user)
    return {
        "deployment_time_zone": settings.TIME_ZONE,  # SLA clocks, weeks and reports count in it
        "nav_items": items,
        "nav_role": Role(role).label if role else (_("Administrator") if user.is_superuser else ""),
    }


def unread_notifications(request: HttpRequest) -> dict:
    """The header's unread count: one query, run only when a page shows it."""
    user = request.user
    if not user.is_authenticated:
        return {}

    return {"unread_notifications": cache(lambda: notification_unread_count(user=user))}
