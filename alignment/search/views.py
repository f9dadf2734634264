"""The search page the header's box opens."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from alignment.search.selectors import PER_KIND, search
from config.replicas import replica_page

KIND_LABELS = {
    "leads": _("Leads"),
    "campaigns": _("Campaigns"),
    "deals": _("Deals"),
    "battlecards": _("Battlecards"),
    "intel": _("Field intelligence"),
}


@replica_page
def search_view(request: HttpRequest) -> HttpResponse:
    results = search(user=request.user, query=request.GET.get("q", ""))
    groups = [(kind, KIND_LABELS[kind], hits) for kind, hits in results.groups.items()]
    return render(
        request,
        "alignment/search.html",
        {"results": results, "groups": groups, "per_kind": PER_KIND},
    )
