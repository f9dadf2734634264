"""The reader's hand-offs: what waits on them, overdue first, and what was escalated to them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from alignment.handoffs.selectors import DUE_SOON, handoffs_for


def handoff_list_view(request: HttpRequest) -> HttpResponse:
    lists = handoffs_for(user=request.user)  # type: ignore[arg-type]
    return render(
        request,
        "alignment/handoffs.html",
        {"lists": lists, "now": lists.now, "due_soon_days": DUE_SOON.days},
    )
