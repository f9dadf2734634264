from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from alignment.roles import Role, user_has_role, user_primary_role


def navigation(request: HttpRequest) -> dict:
    """The header navigation for the user's role; pages still check permissions themselves."""
    user = request.user
    if not user.is_authenticated:
        return {}
    items = [(_("Home"), reverse("home"))]
    if user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER):
        items.append((_("My queue"), reverse("leads:queue")))
    items.append((_("Leads"), reverse("leads:list")))
    items.append((_("Campaigns"), reverse("campaigns:list")))
    items.append((_("Agreement"), reverse("alignment:agreement")))
    if user.is_staff:
        items.append((_("Admin"), reverse("admin:index")))
    role = user_primary_role(user)
    return {
        "nav_items": items,
        "nav_role": Role(role).label if role else (_("Administrator") if user.is_superuser else ""),
    }
