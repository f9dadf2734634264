"""The intel list and the dispute list as CSV: the records the list page shows under the
same filters (all of them, not one page), with the full texts the page truncates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from alignment.feedback.forms import DisputeFilterForm, IntelFilterForm
from alignment.feedback.selectors import dispute_list, intel_inbox
from alignment.feedback.services import intel_can_submit
from alignment.models import Dispute, FieldIntel
from config.exports import csv_response
from config.formats import lead_label, person_name

CHUNK = 2000


def _back(name: str, request: HttpRequest) -> HttpResponse:
    """A bad filter goes back to the list page, which says what is wrong."""
    return redirect(reverse(name) + "?" + request.GET.urlencode())


def _person(user: Any) -> str:
    return person_name(user) if user else ""


def _lead(lead: Any) -> list[str]:
    return [lead_label(lead), lead.email] if lead else ["", ""]


# --- intel ------------------------------------------------------------------------------------


def _intel_rows(items: Iterator[FieldIntel]) -> Iterator[list[Any]]:
    for intel in items:
        yield [
            intel.get_status_display(),
            intel.get_kind_display(),
            intel.text,
            intel.response,
            str(intel.competitor) if intel.competitor else "",
            _person(intel.author),
            *_lead(intel.lead),
            str(intel.campaign) if intel.campaign else "",
            intel.created_at,
            intel.acknowledged_at,
            intel.actioned_at,
        ]


def intel_csv_view(request: HttpRequest) -> HttpResponse:
    """The intel page's filters; like the page, sales sees its own items when it asks for
    nothing in particular."""
    data = request.GET.copy()
    if not request.GET and intel_can_submit(user=request.user):
        data["mine"] = "on"
    form = IntelFilterForm(data)
    if not form.is_valid():
        return _back("feedback:intel", request)
    filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "", False)}
    if filters.pop("mine", False):
        filters["author"] = request.user.pk
    return csv_response(
        filename="intel.csv",
        header=[
            _("Status"),
            _("Kind"),
            _("What was heard"),
            _("Response"),
            _("Competitor"),
            _("From"),
            _("Lead"),
            _("Email"),
            _("Campaign"),
            _("Sent"),
            _("Acknowledged"),
            _("Actioned"),
        ],
        rows=_intel_rows(intel_inbox(filters=filters).iterator(chunk_size=CHUNK)),
    )


# --- disputes ---------------------------------------------------------------------------------


def _dispute_rows(items: Iterator[Dispute]) -> Iterator[list[Any]]:
    for dispute in items:
        yield [
            dispute.get_status_display(),
            dispute.get_kind_display(),
            *_lead(dispute.lead),
            _person(dispute.raised_by),
            dispute.get_raised_by_team_display(),
            dispute.reason,
            dispute.created_at,
            dispute.get_decision_display() if dispute.decision else "",
            dispute.resolution_note,
            _person(dispute.resolved_by),
            dispute.resolved_at,
        ]


def dispute_csv_view(request: HttpRequest) -> HttpResponse:
    """The dispute page's filters."""
    form = DisputeFilterForm(request.GET)
    if not form.is_valid():
        return _back("feedback:disputes", request)
    filters = {k: v for k, v in form.cleaned_data.items() if v}
    return csv_response(
        filename="disputes.csv",
        header=[
            _("Status"),
            _("Kind"),
            _("Lead"),
            _("Email"),
            _("Raised by"),
            _("Team"),
            _("Reason"),
            _("Raised"),
            _("Decision"),
            _("Resolution note"),
            _("Resolved by"),
            _("Resolved"),
        ],
        rows=_dispute_rows(dispute_list(filters=filters).iterator(chunk_size=CHUNK)),
    )
