"""Thin HTML views of the feedback loop: intel inbox, battlecards, disputes, notifications."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from alignment.agreement.forms import errors_into
from alignment.feedback.forms import (
    BattlecardForm,
    DisputeFilterForm,
    DisputeRaiseForm,
    DisputeResolveForm,
    IntelFilterForm,
    IntelRespondForm,
    IntelSubmitForm,
    NotificationPreferencesForm,
    ObjectionFormSet,
    resolve_confirmation,
)
from alignment.feedback.selectors import (
    battlecard_linkable_intel,
    battlecard_linked_intel,
    battlecard_list,
    battlecards_for_lead,
    dispute_detail,
    dispute_effect_summary,
    dispute_evidence,
    dispute_list,
    disputes_for_lead,
    due_times_mark,
    intel_detail,
    intel_for_lead,
    intel_inbox,
    notification_list,
)
from alignment.feedback.services import (
    battlecard_can_edit,
    battlecard_save,
    dispute_can_raise,
    dispute_can_resolve,
    dispute_raise,
    dispute_resolve,
    intel_acknowledge,
    intel_action,
    intel_can_respond,
    intel_can_submit,
    intel_submit,
)
from alignment.models import DisputeStatus, IntelStatus, Notification
from alignment.notifications.services import (
    notification_email_choices,
    notification_mark_read,
    notification_preferences_get,
    notification_preferences_set,
    notification_unread_count,
)
from config.confirm import confirmation_page
from leads.models import Lead

PANEL = "alignment/_lead_feedback_panel.html"


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _lead_from(request: HttpRequest) -> Lead | None:
    raw = request.POST.get("lead") or request.GET.get("lead") or ""
    if not raw.isdigit():
        return None
    return Lead.objects.select_related("owner", "campaign").filter(pk=int(raw)).first()


def lead_feedback_context(
    *,
    lead: Lead,
    user,
    intel_form: IntelSubmitForm | None = None,
    dispute_form: DisputeRaiseForm | None = None,
    notice: str = "",
) -> dict:
    """What the lead page's feedback panel shows: forms, the relevant cards, intel, disputes."""
    can_submit = intel_can_submit(user=user)
    can_raise = dispute_can_raise(user=user)
    return {
        "intel": list(intel_for_lead(lead=lead)),
        "disputes": list(disputes_for_lead(lead=lead)),
        "battlecards": battlecards_for_lead(lead=lead),
        "can_submit": can_submit,
        "can_raise": can_raise,
        "intel_form": (intel_form or IntelSubmitForm(lead=lead)) if can_submit else None,
        "dispute_form": (dispute_form or DisputeRaiseForm(lead=lead)) if can_raise else None,
        "open_form": "intel" if intel_form else ("dispute" if dispute_form else ""),
        "notice": notice,
    }


def _panel(request: HttpRequest, lead: Lead, **kwargs) -> HttpResponse:
    """The lead page's feedback panel alone, for htmx to swap in place."""
    context = {
        "lead": lead,
        "feedback": lead_feedback_context(lead=lead, user=request.user, **kwargs),
    }
    return render(request, PANEL, context)


# --- field intelligence ---------------------------------------------------------------------


def intel_list_view(request: HttpRequest) -> HttpResponse:
    """Marketing's inbox (waiting items first); everyone may read it, reps see their own."""
    data = request.GET.copy()
    if not request.GET and intel_can_submit(user=request.user):
        data["mine"] = "on"
    form = IntelFilterForm(data)
    filters: dict = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "", False)}
        if filters.pop("mine", False):
            filters["author"] = request.user.pk
    page = Paginator(intel_inbox(filters=filters), 50).get_page(request.GET.get("page"))
    due_times_mark(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "is_marketing": intel_can_respond(user=request.user),
    }
    return render(request, "alignment/feedback/intel_list.html", context)


def intel_new_view(request: HttpRequest) -> HttpResponse:
    """Send intelligence from a lead (the panel's form posts here; this page is its fallback)."""
    lead = _lead_from(request)
    if request.method == "POST":
        if not intel_can_submit(user=request.user):
            raise PermissionDenied(_("Only sales sends field intelligence."))
        form = IntelSubmitForm(request.POST, lead=lead)
        if lead is None:
            form.add_error(None, _("Send intelligence from a lead's page."))
        elif form.is_valid():
            try:
                intel = intel_submit(
                    author=request.user,
                    lead=lead,
                    deal=form.cleaned_data.get("deal"),
                    kind=form.cleaned_data["kind"],
                    text=form.cleaned_data["text"],
                    competitor=form.cleaned_data["competitor"],
                    competitor_name=form.cleaned_data["competitor_name"],
                )
            except ValidationError as exc:
                errors_into(form, exc)
            else:
                if request.htmx:
                    return _panel(request, lead, notice=_("Sent to marketing. Thank you!"))
                messages.success(request, _("Sent to marketing. Thank you!"))
                return redirect(_back(request, reverse("feedback:intel-detail", args=[intel.pk])))
        if request.htmx and lead is not None:
            return _panel(request, lead, intel_form=form)
    else:
        form = IntelSubmitForm(lead=lead)
    context = {"form": form, "lead": lead, "can_submit": intel_can_submit(user=request.user)}
    return render(request, "alignment/feedback/intel_new.html", context)


def intel_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    intel = intel_detail(pk=pk)
    if intel is None:
        raise Http404
    return _intel_detail(request, intel)


def _intel_detail(
    request: HttpRequest, intel, form: IntelRespondForm | None = None
) -> HttpResponse:
    can_respond = intel_can_respond(user=request.user)
    forms = {}
    if can_respond:
        if intel.status == IntelStatus.NEW:
            forms["acknowledge"] = IntelRespondForm(
                initial={"status": IntelStatus.ACKNOWLEDGED, "response": intel.response}
            )
        if intel.status != IntelStatus.ACTIONED:
            forms["action"] = IntelRespondForm(initial={"status": IntelStatus.ACTIONED})
        if form is not None:
            forms[
                "action" if form.data.get("status") == IntelStatus.ACTIONED else "acknowledge"
            ] = form
    context = {"intel": intel, "can_respond": can_respond, "forms": forms}
    return render(request, "alignment/feedback/intel_detail.html", context)


@require_POST
def intel_respond_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge, or mark actioned, with a response the author is notified of (marketing)."""
    intel = intel_detail(pk=pk)
    if intel is None:
        raise Http404
    if not intel_can_respond(user=request.user):
        raise PermissionDenied(_("Only marketing answers field intelligence."))
    form = IntelRespondForm(request.POST)
    if form.is_valid():
        # Each button moves the status once; a stale or repeated submit is refused.
        move = (
            intel_action
            if form.cleaned_data["status"] == IntelStatus.ACTIONED
            else intel_acknowledge
        )
        try:
            move(intel=intel, user=request.user, response=form.cleaned_data["response"])
        except ValidationError as exc:
            errors_into(form, exc)
        else:
            if form.cleaned_data["status"] == IntelStatus.ACTIONED:
                messages.success(request, _("Marked as actioned; the rep has been told."))
            else:
                messages.success(request, _("Acknowledged; the rep has been told."))
            return redirect(_back(request, reverse("feedback:intel-detail", args=[pk])))
    return _intel_detail(request, intel_detail(pk=pk), form=form)


# --- battlecards ----------------------------------------------------------------------------


def battlecard_list_view(request: HttpRequest) -> HttpResponse:
    context = {"cards": battlecard_list(), "can_edit": battlecard_can_edit(user=request.user)}
    return render(request, "alignment/feedback/battlecard_list.html", context)


def battlecard_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(battlecard_list(), pk=pk)
    context = {
        "card": card,
        "intel": battlecard_linked_intel(battlecard=card),
        "can_edit": battlecard_can_edit(user=request.user),
    }
    return render(request, "alignment/feedback/battlecard_detail.html", context)


def battlecard_edit_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Marketing writes the card; anyone else is sent to read it (and refused on POST)."""
    card = get_object_or_404(battlecard_list(), pk=pk) if pk is not None else None
    if not battlecard_can_edit(user=request.user):
        if request.method == "POST":
            raise PermissionDenied(_("Only marketing edits battlecards."))
        messages.info(request, _("Only marketing edits battlecards; here is the card to read."))
        return (
            redirect("feedback:battlecard-detail", pk=pk)
            if card
            else redirect("feedback:battlecards")
        )
    linkable = battlecard_linkable_intel()
    if request.method == "POST":
        form = BattlecardForm(request.POST, linkable=linkable)
        formset = ObjectionFormSet(request.POST, prefix="objections")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                saved = battlecard_save(
                    user=request.user,
                    competitor=card.competitor if card else None,
                    competitor_name=data["competitor_name"],
                    website=data["website"],
                    summary=data["summary"],
                    differentiators=data["differentiators"],
                    table_stakes=data["table_stakes"],
                    objections=[
                        (f.cleaned_data.get("objection", ""), f.cleaned_data.get("answer", ""))
                        for f in formset.forms
                        if f.cleaned_data
                    ],
                    link_intel=[int(pk) for pk in data.get("link_intel") or []],
                )
            except ValidationError as exc:
                errors_into(form, exc)
            else:
                if card is not None and data["competitor_name"] != card.competitor.name:
                    messages.info(request, _("The competitor's name is changed in the admin only."))
                messages.success(request, _("Battlecard saved."))
                return redirect("feedback:battlecard-detail", pk=saved.pk)
    else:
        initial = {}
        if card is not None:
            initial = {
                "competitor_name": card.competitor.name,
                "website": card.competitor.website,
                "summary": card.summary,
                "differentiators": card.differentiators,
                "table_stakes": card.table_stakes,
            }
        form = BattlecardForm(initial=initial, linkable=linkable)
        formset = ObjectionFormSet(
            prefix="objections",
            initial=[{"objection": o.objection, "answer": o.answer} for o in card.objections.all()]
            if card
            else None,
        )
    context = {"card": card, "form": form, "formset": formset}
    return render(request, "alignment/feedback/battlecard_edit.html", context)


# --- disputes -------------------------------------------------------------------------------


def dispute_list_view(request: HttpRequest) -> HttpResponse:
    form = DisputeFilterForm(request.GET)
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    page = Paginator(dispute_list(filters=filters), 50).get_page(request.GET.get("page"))
    due_times_mark(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "alignment/feedback/dispute_list.html", context)


def dispute_new_view(request: HttpRequest) -> HttpResponse:
    """Raise a dispute on a lead (the panel's form posts here; this page is its fallback)."""
    lead = _lead_from(request)
    if request.method == "POST":
        if not dispute_can_raise(user=request.user):
            raise PermissionDenied(_("Disputes are raised by sales or marketing."))
        form = DisputeRaiseForm(request.POST, lead=lead)
        if lead is None:
            form.add_error(None, _("Raise a dispute from a lead's page."))
        elif form.is_valid():
            try:
                dispute = dispute_raise(
                    user=request.user,
                    lead=lead,
                    kind=form.cleaned_data["kind"],
                    reason=form.cleaned_data["reason"],
                    deal=form.cleaned_data.get("deal"),
                )
            except ValidationError as exc:
                errors_into(form, exc)
            else:
                if request.htmx:
                    return _panel(
                        request, lead, notice=_("Dispute raised; an executive will decide.")
                    )
                messages.success(request, _("Dispute raised; an executive will decide."))
                return redirect(
                    _back(request, reverse("feedback:dispute-detail", args=[dispute.pk]))
                )
        if request.htmx and lead is not None:
            return _panel(request, lead, dispute_form=form)
    else:
        form = DisputeRaiseForm(lead=lead)
    context = {"form": form, "lead": lead, "can_raise": dispute_can_raise(user=request.user)}
    return render(request, "alignment/feedback/dispute_new.html", context)


def dispute_detail_view(request: HttpRequest, pk: int, form: DisputeResolveForm | None = None):
    dispute = dispute_detail(pk=pk)
    if dispute is None:
        raise Http404
    can_resolve = dispute_can_resolve(user=request.user) and dispute.status == "open"
    context = {
        "dispute": dispute,
        "evidence": dispute_evidence(dispute=dispute),
        "effect_summary": dispute_effect_summary(dispute=dispute),
        "can_resolve": can_resolve,
        "form": (form or DisputeResolveForm(dispute=dispute)) if can_resolve else None,
    }
    return render(request, "alignment/feedback/dispute_detail.html", context)


@require_POST
def dispute_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Only an executive decides (403 for everyone else), with a decision and a note."""
    dispute = dispute_detail(pk=pk)
    if dispute is None:
        raise Http404
    if not dispute_can_resolve(user=request.user):
        raise PermissionDenied(_("Only an executive resolves disputes."))
    form = DisputeResolveForm(request.POST, dispute=dispute)
    if form.is_valid():
        if dispute.status == DisputeStatus.OPEN:  # a resolved one is refused by the service
            asked = resolve_confirmation(dispute=dispute, decision=form.cleaned_data["decision"])
            page = confirmation_page(
                request,
                title=asked.title,
                consequence=asked.consequence,
                confirm_label=asked.label,
                cancel_url=reverse("feedback:dispute-detail", args=[pk]),
            )
            if page is not None:
                return page
        try:
            resolved = dispute_resolve(
                dispute=dispute,
                user=request.user,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["resolution_note"],
            )
        except ValidationError as exc:
            if "status" in getattr(exc, "message_dict", {}):
                messages.error(request, " ".join(exc.message_dict["status"]))
                return redirect("feedback:dispute-detail", pk=pk)
            errors_into(form, exc)
        else:
            done = _("Dispute resolved; both sides have been told.")
            messages.success(request, f"{done} {dispute_effect_summary(dispute=resolved)}")
            return redirect("feedback:dispute-detail", pk=pk)
    return dispute_detail_view(request, pk, form=form)


# --- notifications --------------------------------------------------------------------------


def notification_list_view(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(notification_list(user=request.user, unread_only=unread_only), 50).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "unread_only": unread_only}
    return render(request, "alignment/feedback/notification_list.html", context)


@require_POST
def notification_read_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one as read; htmx swaps the row and the header badge in place."""
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    notification_mark_read(user=request.user, ids=[notification.pk])
    if request.htmx:
        notification.refresh_from_db()
        context = {
            "n": notification,
            "unread_notifications": notification_unread_count(user=request.user),
        }
        return render(request, "alignment/feedback/_notification_read.html", context)
    if notification.url and request.POST.get("open"):
        return redirect(notification.url)
    return redirect(_back(request, reverse("feedback:notifications")))


@require_POST
def notification_read_all_view(request: HttpRequest) -> HttpResponse:
    count = notification_mark_read(user=request.user)
    messages.success(
        request,
        ngettext("%(n)s notification marked as read.", "%(n)s notifications marked as read.", count)
        % {"n": count},
    )
    return redirect("feedback:notifications")


def notification_preferences_view(request: HttpRequest) -> HttpResponse:
    """Which events also email me (every notification always shows in the app)."""
    choices = notification_email_choices(user=request.user)
    if request.method == "POST":
        form = NotificationPreferencesForm(request.POST, choices=choices)
        if form.is_valid():
            try:
                notification_preferences_set(
                    user=request.user, email_events=form.cleaned_data["email_events"]
                )
            except ValidationError as exc:
                errors_into(form, exc)
            else:
                messages.success(request, _("Your email preferences are saved."))
                return redirect("feedback:notification-preferences")
    else:
        form = NotificationPreferencesForm(
            initial={"email_events": notification_preferences_get(user=request.user)},
            choices=choices,
        )
    return render(request, "alignment/feedback/notification_preferences.html", {"form": form})
