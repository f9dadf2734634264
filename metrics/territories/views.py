"""The territory pages: the list, a territory (its countries, reps in round-robin order,
who is away, its history) and, for sales managers, its edit page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from alignment.accounts.roles import territory_change_refusal
from config.countries import country_name
from config.dates import deployment_date
from metrics.models import Territory
from metrics.territories.forms import TerritoryForm
from metrics.territories.selectors import (
    member_availability,
    territory_countries,
    territory_history,
    territory_list,
    territory_members,
)
from metrics.territories.services import territory_reps_addable, territory_update


def territory_list_view(request: HttpRequest) -> HttpResponse:
    territories = list(territory_list())
    today = deployment_date()
    rows = [
        {
            "territory": territory,
            "countries": [(c.country, country_name(c.country)) for c in territory.countries.all()],
            "members": [(member, member.is_away_on(today)) for member in territory.active_members],
        }
        for territory in territories
    ]
    return render(
        request,
        "metrics/territories/list.html",
        {"rows": rows, "can_change": territory_change_refusal(user=request.user) is None},
    )


def territory_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    territory = get_object_or_404(Territory.objects.select_related("manager"), pk=pk)
    today = deployment_date()
    members = [
        (member, member_availability(member, today=today))
        for member in territory_members(territory=territory)
    ]
    return render(
        request,
        "metrics/territories/detail.html",
        {
            "territory": territory,
            "countries": territory_countries(territory=territory),
            "members": members,
            "history": territory_history(territory=territory),
            "can_change": territory_change_refusal(user=request.user) is None,
        },
    )


def territory_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    territory = get_object_or_404(Territory, pk=pk)
    refusal = territory_change_refusal(user=request.user)
    if refusal:
        messages.error(request, refusal)  # sent back to the territory, told why
        return redirect("territories:detail", pk=territory.pk)
    today = deployment_date()
    members = territory_members(territory=territory)
    addable = territory_reps_addable().exclude(pk__in=[m.user_id for m in members])
    initial = {
        "name": territory.name,
        "countries": ", ".join(code for code, _name in territory_countries(territory=territory)),
    }
    form = TerritoryForm(
        request.POST or None, initial=initial, members=members, addable=addable, today=today
    )
    if request.method == "POST" and form.is_valid():
        try:
            change = territory_update(
                territory=territory,
                actor=request.user,
                name=form.cleaned_data["name"],
                countries=form.country_codes(),
                members=form.plans(),
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            if change is None:
                messages.info(request, _("Nothing changed."))
            else:
                messages.success(
                    request, _("%(territory)s is saved.") % {"territory": territory.name}
                )
            return redirect("territories:detail", pk=territory.pk)
    return render(
        request,
        "metrics/territories/edit.html",
        {"territory": territory, "form": form, "rows": form.member_rows()},
    )
