"""Thin HTML views of the agreement."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from alignment.models import Agreement
from alignment.selectors import agreement_active


def agreement_view(request: HttpRequest) -> HttpResponse:
    context = {
        "agreement": agreement_active(),
        "versions": Agreement.objects.order_by("-version"),
    }
    return render(request, "alignment/agreement.html", context)
