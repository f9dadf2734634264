"""New lead, edit a lead's details, merge a duplicate: thin views over leads.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alignment.accounts.roles import (
    Role,
    lead_can_edit,
    lead_create_refusal,
    lead_merge_refusal,
    user_has_role,
)
from config.confirm import confirmation_page
from config.formats import lead_label
from leads.editing.forms import CONTACT_FIELDS, LeadCreateForm, LeadFieldsForm, LeadMergeForm
from leads.models import Lead
from leads.selectors import lead_likely_duplicates
from leads.services import LeadConflict, lead_create, lead_update
from leads.services.merge import lead_merge, lead_merge_preview


def _form_errors(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, problems in error.message_dict.items():
            form.add_error(name if name in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


def lead_create_view(request: HttpRequest) -> HttpResponse:
    """A lead met at an event, a call, a referral: typed in by a rep or a marketer.

    Before saving, likely duplicates (the same e-mail, the same name at the same company)
    are shown; the same e-mail is refused (open that lead instead), a namesake may be
    created anyway once the person says it is someone else.
    """
    refusal = lead_create_refusal(user=request.user)
    if refusal:
        messages.error(request, refusal)  # sent back, told why (the page walk for every role)
        return redirect("leads:list")
    may_claim = user_has_role(request.user, Role.SALES_REP, Role.SALES_MANAGER)
    duplicates: list = []
    if request.method == "POST":
        form = LeadCreateForm(request.POST, may_claim=may_claim)
        if form.is_valid():
            data = form.cleaned_data
            duplicates = lead_likely_duplicates(
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                company=data["company"],
            )
            same_email = [d for d in duplicates if d.lead.email.lower() == data["email"].lower()]
            if same_email:
                form.add_error(
                    "email",
                    _("%(lead)s already has this e-mail: open that lead instead.")
                    % {"lead": lead_label(same_email[0].lead)},
                )
            elif duplicates and not data.get("create_anyway"):
                form.add_error(
                    None,
                    _(
                        "This may be someone Accord already knows (below). If it is a "
                        "different person, tick “create the lead anyway”."
                    ),
                )
            else:
                try:
                    lead = lead_create(
                        data={k: v for k, v in data.items() if k not in ("claim", "create_anyway")},
                        actor=request.user,
                        claim=bool(data.get("claim")),
                    )
                except LeadConflict as exc:
                    form.add_error("email", str(exc))
                except PermissionDenied as exc:
                    form.add_error(None, str(exc))
                except ValidationError as exc:
                    _form_errors(form, exc)
                else:
                    messages.success(
                        request, _("%(lead)s is in Accord.") % {"lead": lead_label(lead)}
                    )
                    return redirect("leads:detail", pk=lead.pk)
    else:
        form = LeadCreateForm(may_claim=may_claim)
    return render(
        request,
        "leads/lead_form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
    )


def lead_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a lead's contact details (owner, managers, marketing); each change is
    recorded on the lead's timeline."""
    lead = get_object_or_404(Lead, pk=pk)
    if not lead_can_edit(user=request.user, lead=lead):
        messages.error(
            request, _("Only the lead's owner, a sales manager or marketing may edit it.")
        )
        return redirect("leads:detail", pk=lead.pk)
    if request.method == "POST":
        form = LeadFieldsForm(request.POST, instance=Lead.objects.get(pk=pk))
        if form.is_valid():
            try:
                lead_update(
                    lead=lead,
                    data={name: form.cleaned_data[name] for name in CONTACT_FIELDS},
                    actor=request.user,
                )
            except LeadConflict as exc:
                form.add_error("email", str(exc))
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Details saved."))
                return redirect("leads:detail", pk=lead.pk)
    else:
        form = LeadFieldsForm(instance=lead)
    return render(request, "leads/lead_form.html", {"form": form, "lead": lead, "creating": False})


def lead_merge_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge a duplicate into this lead (a manager): pick it, say why, confirm."""
    survivor = get_object_or_404(Lead.objects.select_related("owner"), pk=pk)
    refusal = lead_merge_refusal(user=request.user)
    if refusal:
        messages.error(request, refusal)
        return redirect("leads:detail", pk=survivor.pk)
    suggestions = lead_likely_duplicates(
        email=survivor.email,
        first_name=survivor.first_name,
        last_name=survivor.last_name,
        company=survivor.company,
        exclude_pk=survivor.pk,
    )
    form = LeadMergeForm(request.POST or None, initial={"duplicate": request.GET.get("duplicate")})
    if request.method == "POST" and form.is_valid():
        duplicate = Lead.objects.filter(pk=form.cleaned_data["duplicate"]).first()
        if duplicate is None:
            form.add_error("duplicate", _("There is no lead with this number."))
        elif duplicate.pk == survivor.pk:
            form.add_error("duplicate", _("A lead cannot be merged into itself."))
        else:
            moving = lead_merge_preview(survivor=survivor, duplicate=duplicate)
            counts = ", ".join(f"{count} {label}" for label, count in moving.items())
            asking = confirmation_page(
                request,
                title=_("Merge %(duplicate)s into %(survivor)s?")
                % {"duplicate": lead_label(duplicate), "survivor": lead_label(survivor)},
                consequence=" ".join(
                    filter(
                        None,
                        [
                            _("Lead #%(id)s (%(email)s) stops existing as a record of its own.")
                            % {"id": duplicate.pk, "email": duplicate.email},
                            _("Its history moves to this lead: %(counts)s.") % {"counts": counts}
                            if counts
                            else "",
                            _(
                                "Blank details here are filled from it; its page and API "
                                "id forward here. This cannot be undone."
                            ),
                        ],
                    )
                ),
                confirm_label=_("Merge the leads"),
                cancel_url=reverse("leads:merge", args=[survivor.pk]),
            )
            if asking is not None:
                return asking
            try:
                result = lead_merge(
                    survivor=survivor,
                    duplicate=duplicate,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                moved = sum(result.merge.moved.values())
                messages.success(
                    request,
                    ngettext(
                        "Merged: %(count)d record moved to this lead.",
                        "Merged: %(count)d records moved to this lead.",
                        moved,
                    )
                    % {"count": moved},
                )
                return redirect("leads:detail", pk=survivor.pk)
    return render(
        request,
        "leads/merge.html",
        {"lead": survivor, "form": form, "suggestions": suggestions},
    )
