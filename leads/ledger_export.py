"""The SLA ledger as CSV: the weeks and reps the ledger page shows, one row per rep and week."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from alignment.accounts.roles import user_in_sales, user_sees_team
from config.exports import csv_response
from config.replicas import replica_page
from leads.selectors import sla_ledger, team_reps
from leads.views import LEDGER_WEEKS, week_param


@replica_page
def ledger_csv_view(request: HttpRequest) -> HttpResponse:
    """The same reps (a rep's own, a manager's team) and weeks (`?week=`) as the page."""
    user = request.user
    if not (user_in_sales(user) or user_sees_team(user)):
        messages.info(request, _("The ledger is for the sales team."))
        return redirect("home")
    last = week_param(request)
    first = last - timedelta(weeks=LEDGER_WEEKS - 1)
    rows = sla_ledger(reps=team_reps(user=user), start=first, weeks=LEDGER_WEEKS)
    rows.sort(key=lambda row: (row.rep_name.casefold(), row.rep_id, row.week_start))
    return csv_response(
        filename=f"sla-ledger_{first.isoformat()}_{last.isoformat()}.csv",
        header=[_("Rep"), _("Week"), _("Credits"), _("Breaches")],
        rows=([row.rep_name, row.week_start, row.credits, row.breaches] for row in rows),
    )
