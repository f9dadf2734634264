"""Thin HTML views of the leads app; rules live in services and selectors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from alignment.accounts.roles import (
    Role,
    lead_can_edit,
    lead_can_work,
    lead_claim_refusal,
    lead_reassign_refusal,
    lead_work_refusal,
    may_override,
    move_refusal,
    stage_revert_refusal,
    user_has_role,
    user_in_sales,
    user_primary_role,
    user_sees_team,
)
from alignment.agreement.selectors import Funnel, funnel_active
from alignment.models import Dispute, DisputeStatus, FieldIntel, IntelStatus, StageKey
from campaigns.models import Campaign, CampaignStatus
from config.confirm import confirmation_page
from config.dates import period_param_parse
from config.errors import NotConfigured
from config.exports import csv_response
from config.formats import lead_name, person_name
from config.pagination import CappedPaginator
from config.replicas import replica_page
from config.widgets import Confirmation
from leads.filters import SORTS, LeadFilter, lead_sort
from leads.forms import (
    BulkReassignForm,
    DealCloseForm,
    DealForm,
    FollowUpForm,
    MoveStageForm,
    QueueFilterForm,
    ReassignForm,
    RejectForm,
    RevertForm,
    SavedViewForm,
    deal_close_confirmation,
    move_confirmation,
    reject_confirmation,
    revert_confirmation,
)
from leads.models import Deal, DealOutcome, Lead, StageEvent
from leads.selectors import (
    OPEN_STAGES,
    agenda_for,
    lead_earlier_rejection,
    lead_queue,
    lead_stage_counts,
    lead_timeline,
    sla_ledger,
    team_reps,
    team_week,
    week_start_of,
)
from leads.services import LeadConflict
from leads.services.assignment import lead_claim, lead_claimable, lead_reassign, leads_reassign
from leads.services.calendar import (
    calendar_feed_ics,
    calendar_feed_of,
    calendar_feed_owner,
    calendar_feed_reset,
)
from leads.services.deals import deal_can_open, deal_create, deal_update
from leads.services.follow_ups import follow_up_log
from leads.services.merge import lead_forwarded_to
from leads.services.moves import (
    deal_deciding,
    lead_move,
    stage_move_revert,
    stage_move_revertable,
)
from leads.services.saved_views import (
    saved_view_delete,
    saved_view_save,
    saved_views_of,
    view_query,
)


def home(request: HttpRequest) -> HttpResponse:
    """A home page that fits the role: reps see their queue, managers their team, …"""
    user = request.user
    role = user_primary_role(user)
    context: dict = {"role": role, "now": timezone.now(), "stage_counts": lead_stage_counts()}
    if user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER):
        queue = lead_queue(rep=user)
        context["queue"] = queue[:10]
        total = CappedPaginator(queue, 1)
        overdue = CappedPaginator(queue.filter(sla_due_at__lt=timezone.now()), 1)
        context["queue_total"], context["queue_capped"] = total.count, total.capped
        context["overdue_total"], context["overdue_capped"] = overdue.count, overdue.capped
    if user_has_role(user, Role.SALES_MANAGER, Role.EXECUTIVE) or user.is_superuser:
        context["unassigned_mqls"] = Lead.objects.filter(stage="mql", owner__isnull=True).count()
        context["open_overdue"] = Lead.objects.filter(
            stage__in=OPEN_STAGES, sla_due_at__lt=timezone.now()
        ).count()
    if (
        user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER, Role.EXECUTIVE)
        or user.is_superuser
    ):
        context["live_campaigns"] = Campaign.objects.filter(
            status=CampaignStatus.LIVE
        ).select_related("owner")[:10]
        context["new_intel"] = FieldIntel.objects.filter(status=IntelStatus.NEW).count()
    context["open_disputes"] = Dispute.objects.filter(status=DisputeStatus.OPEN).count()
    return render(request, "leads/home.html", context)


_LIST_PARAMS = {*LeadFilter.base_filters, "o"}


def _filtered_leads(request: HttpRequest) -> tuple[LeadFilter, QuerySet[Lead], str]:
    """The lead list as the request filters and sorts it (the page, its CSV, its views)."""
    queryset = Lead.objects.select_related("owner", "territory", "campaign")
    lead_filter = LeadFilter(request.GET or None, queryset=queryset)
    leads = lead_filter.qs if lead_filter.is_bound and lead_filter.is_valid() else queryset
    leads, sort = lead_sort(leads, request.GET.get("o", ""))
    return lead_filter, leads, sort


def _sort_links(request: HttpRequest, sort: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the URL that sorts by it (again: the other way round)."""
    links = {}
    for key in SORTS:
        params = request.GET.copy()
        params.pop("page", None)
        params["o"] = f"-{key}" if sort == key else key
        links[key] = {
            "url": "?" + params.urlencode(),
            "state": "ascending" if sort == key else "descending" if sort == f"-{key}" else "",
        }
    return links


def lead_list_view(request: HttpRequest) -> HttpResponse:
    """Every lead, filtered, sorted, selectable for bulk actions; saved views per user."""
    user = request.user
    if not request.GET:
        default = next(
            (v for v in saved_views_of(user=user, list_key="leads") if v.is_default), None
        )
        if default is not None and default.query:
            return redirect(reverse("leads:list") + "?" + default.query)
    lead_filter, leads, sort = _filtered_leads(request)
    page = CappedPaginator(leads, 50).get_page(request.GET.get("page"))
    query = view_query(request.GET, allowed=_LIST_PARAMS)
    views = saved_views_of(user=user, list_key="leads")
    return render(
        request,
        "leads/list.html",
        {
            "filter": lead_filter,
            "page": page,
            "sort": sort,
            "sort_links": _sort_links(request, sort),
            "query": query,
            "active_filters": sum(
                1 for name in LeadFilter.base_filters if (request.GET.get(name) or "").strip()
            ),
            "saved_views": views,
            "current_view": next((v for v in views if v.query == query and query), None),
            "save_form": SavedViewForm(),
            "bulk_form": BulkReassignForm(),
            "can_reassign": lead_reassign_refusal(user=user) is None,
            "export_url": reverse("leads:export") + ("?" + query if query else ""),
        },
    )


_EXPORT_HEADER = [
    "id", "name", "company", "email", "phone", "stage", "score", "source", "owner",
    "territory", "campaign", "country", "sla_due_at", "next_follow_up_at", "created_at",
]  # fmt: skip


def _export_rows(leads: Iterable[Lead]) -> Iterator[list[object]]:
    for lead in leads:
        yield [
            lead.pk,
            lead_name(lead),
            lead.company,
            lead.email,
            lead.phone,
            lead.get_stage_display(),
            lead.score,
            lead.get_source_display(),
            person_name(lead.owner) if lead.owner_id else "",
            lead.territory.name if lead.territory_id else "",
            lead.campaign.name if lead.campaign_id else "",
            lead.country,
            lead.sla_due_at,
            lead.next_follow_up_at,
            lead.created_at,
        ]


@require_GET
@replica_page
def lead_list_export_view(request: HttpRequest) -> HttpResponse:
    """The lead list as CSV, with the filters and sort of the page it came from."""
    lead_filter, leads, _sort = _filtered_leads(request)
    if lead_filter.is_bound and not lead_filter.is_valid():
        messages.error(request, _("Correct the filters before exporting."))
        return redirect(reverse("leads:list") + "?" + request.GET.urlencode())
    stamp = timezone.localdate().isoformat()
    return csv_response(
        filename=f"leads_{stamp}.csv",
        header=_EXPORT_HEADER,
        rows=_export_rows(leads.iterator(chunk_size=2000)),
    )


def _back_to_list(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    if not target.startswith(reverse("leads:list")):
        target = reverse("leads:list")
    return redirect(target)


@require_POST
def lead_bulk_view(request: HttpRequest) -> HttpResponse:
    """The lead list's bulk actions on the ticked leads: reassign, or export as CSV."""
    ids = [int(v) for v in request.POST.getlist("lead") if v.isdigit() and len(v) < 19]
    if not ids:
        messages.error(request, _("Tick the leads first."))
        return _back_to_list(request)
    if request.POST.get("action") == "export":
        leads = Lead.objects.select_related("owner", "territory", "campaign").filter(pk__in=ids)
        return csv_response(
            filename="leads_selected.csv",
            header=_EXPORT_HEADER,
            rows=_export_rows(leads.order_by("pk")),
        )
    form = BulkReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return _back_to_list(request)
    owner = form.cleaned_data["owner"]
    try:
        changed = leads_reassign(lead_ids=ids, to_user=owner, actor=request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            ngettext(
                "%(count)d lead now belongs to %(owner)s.",
                "%(count)d leads now belong to %(owner)s.",
                len(changed),
            )
            % {"count": len(changed), "owner": person_name(owner)},
        )
    return _back_to_list(request)


@require_POST
def saved_view_save_view(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    query = view_query(QueryDict(request.POST.get("query", "")), allowed=_LIST_PARAMS)
    if form.is_valid():
        try:
            saved_view_save(
                user=request.user,
                list_key="leads",
                name=form.cleaned_data["name"],
                query=query,
                is_default=form.cleaned_data["is_default"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("View saved."))
    else:
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
    return redirect(reverse("leads:list") + ("?" + query if query else "?clear=1"))


@require_POST
def saved_view_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    if saved_view_delete(user=request.user, pk=pk):
        messages.success(request, _("View deleted."))
    return redirect(reverse("leads:list") + "?clear=1")


def queue_view(request: HttpRequest) -> HttpResponse:
    """My open leads, most urgent first, with filters (stage, SLA window, search)."""
    form = QueueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queue = lead_queue(
        rep=request.user,
        stage=filters.get("stage", ""),
        due=filters.get("due", ""),
        search=filters.get("search", ""),
    )
    page = CappedPaginator(queue, 50).get_page(request.GET.get("page"))
    return render(request, "leads/queue.html", {"page": page, "form": form, "now": timezone.now()})


def _funnel() -> Funnel | None:
    try:
        return funnel_active()
    except LookupError:
        return None


def _lead_page(request: HttpRequest, lead: Lead, **forms: object) -> HttpResponse:
    """The lead page, with any bound forms (and their errors) the caller passes."""
    return render(request, "leads/detail.html", _lead_page_context(request, lead, **forms))


def _lead_page_context(request: HttpRequest, lead: Lead, **forms: object) -> dict:
    user = request.user
    funnel = _funnel()
    can_work = lead_can_work(user=user, lead=lead)
    deals = list(lead.deals.select_related("owner"))
    may_revert = stage_revert_refusal(user=user) is None
    revertable = stage_move_revertable(lead=lead) if may_revert else None
    context = {
        "lead": lead,
        "timeline": lead_timeline(lead=lead),
        "deals": deals,
        "open_deals": [d for d in deals if d.outcome == DealOutcome.OPEN],
        "now": timezone.now(),
        "can_work": can_work,
        "can_edit": lead_can_edit(user=user, lead=lead),
        "can_open_deal": can_work and deal_can_open(lead=lead),
        "can_claim": lead_claimable(lead=lead) and lead_claim_refusal(user=user, lead=lead) is None,
        "can_reassign": lead_reassign_refusal(user=user) is None,
        "can_move": funnel is not None
        and any(
            move_refusal(user=user, lead=lead, from_stage=lead.stage, to_stage=to) is None
            for to in funnel.transitions.get(lead.stage, [])
        ),
        "can_override": may_override(user),
        "earlier_rejection": (rejection := lead_earlier_rejection(lead=lead)),
        "earlier_rejection_by": (
            person_name(rejection.actor)
            if rejection is not None and rejection.actor is not None
            else _("the system")
        ),
        "follow_up_form": FollowUpForm(),
        "move_form": MoveStageForm(funnel=funnel, lead=lead),
        "reject_form": RejectForm(funnel=funnel),
        "reject_confirm": reject_confirmation(lead=lead),
        "reassign_form": ReassignForm(initial={"owner": lead.owner_id}),
        "deal_form": DealForm(),
        "close_form": None,
        "close_deal_pk": None,
        "revert_event": revertable,
        "revert_form": RevertForm(),
        "revert_confirm": revert_confirmation(lead=lead, event=revertable) if revertable else None,
    }
    context.update(forms)
    # Each open deal's close form (the one the caller passes keeps its choice and errors).
    context["deal_rows"] = [
        (
            deal,
            context["close_form"]
            if deal.pk == context["close_deal_pk"] and context["close_form"] is not None
            else DealCloseForm(funnel=funnel, lead=lead, deal=deal)
            if deal.outcome == DealOutcome.OPEN
            else None,
        )
        for deal in deals
    ]
    return context


def _confirm(request: HttpRequest, lead: Lead, asked: Confirmation) -> HttpResponse | None:
    """None once the action is confirmed; else the page that asks, naming the consequence."""
    return confirmation_page(
        request,
        title=asked.title,
        consequence=asked.consequence,
        confirm_label=asked.label,
        cancel_url=reverse("leads:detail", args=[lead.pk]) + "#sales",
    )


def _add_errors(form: forms.Form, error: ValidationError, fields: dict[str, str]) -> None:
    """Put a service's ValidationError on the form: service field → form field."""
    messages_by_field = error.message_dict if hasattr(error, "error_dict") else {}
    if not messages_by_field:
        form.add_error(None, error.messages)
    for name, messages_ in messages_by_field.items():
        target = fields.get(name, name if name in form.fields else None)
        form.add_error(target, messages_)


def _detail(pk: int) -> Lead:
    return get_object_or_404(
        Lead.objects.select_related("owner", "territory", "campaign", "qualified_under"), pk=pk
    )


def lead_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead page; a merged duplicate's old address forwards to its survivor."""
    try:
        lead = _detail(pk)
    except Http404:
        survivor = lead_forwarded_to(lead_id=pk)
        if survivor is None:
            raise
        return redirect("leads:detail", pk=survivor, permanent=True)
    return _lead_page(request, lead)


def _back(lead: Lead, anchor: str = "") -> HttpResponse:
    return redirect(reverse("leads:detail", args=[lead.pk]) + (f"#{anchor}" if anchor else ""))


def follow_up_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a follow-up: htmx swaps the timeline section in place; without JS, PRG."""
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead, "timeline")
    form = FollowUpForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            follow_up_log(
                lead=lead,
                author=request.user,
                kind=data["kind"],
                outcome=data["outcome"],
                notes=data["notes"],
                occurred_at=data["occurred_at"],
                next_step=data["next_step"],
                next_follow_up_at=data["next_follow_up_at"],
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            _add_errors(form, exc, {})
        else:
            if request.htmx:
                lead.refresh_from_db()
                return render(
                    request,
                    "leads/_follow_up_section.html",
                    _lead_page_context(request, lead, follow_up_saved=True, oob=True),
                )
            messages.success(request, _("Follow-up logged."))
            return _back(lead, "timeline")
    if request.htmx:
        return render(
            request,
            "leads/_follow_up_section.html",
            _lead_page_context(request, lead, follow_up_form=form, oob=True),
        )
    return _lead_page(request, lead, follow_up_form=form)


def lead_claim_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _detail(pk)
    if request.method == "POST":
        try:
            lead_claim(lead_id=lead.pk, user=request.user)
        except (LeadConflict, PermissionDenied) as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The lead is yours."))
    return _back(lead)


def lead_reassign_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead)
    form = ReassignForm(request.POST)
    if form.is_valid():
        try:
            lead_reassign(lead=lead, to_user=form.cleaned_data["owner"], actor=request.user)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            _add_errors(form, exc, {})
        else:
            messages.success(
                request,
                _("The lead now belongs to %(owner)s.")
                % {"owner": person_name(form.cleaned_data["owner"])},
            )
            return _back(lead)
    return _lead_page(request, lead, reassign_form=form)


def lead_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the stage; a move the funnel refuses comes back as form errors."""
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead)
    funnel = _funnel()
    form = MoveStageForm(request.POST, funnel=funnel, lead=lead)
    if form.is_valid():
        data = form.cleaned_data
        open_deal = deal_deciding(lead=lead, to_stage=data["to_stage"])
        if open_deal is not None:
            # The stage follows the deal: winning or losing the lead is closing its deal.
            messages.info(
                request,
                _("Close the deal “%(deal)s”: the lead follows its outcome.") % {"deal": open_deal},
            )
            close_form = DealCloseForm(
                funnel=funnel,
                lead=lead,
                deal=open_deal,
                initial={"outcome": data["to_stage"], "amount": open_deal.amount},
            )
            return _lead_page(request, lead, close_form=close_form, close_deal_pk=open_deal.pk)
        asked = move_confirmation(
            lead=lead, to_stage=data["to_stage"], funnel=funnel, reason_code=data["reason_code"]
        )
        # Only a move this person may make asks first; the service refuses any other.
        may = (
            move_refusal(
                user=request.user, lead=lead, from_stage=lead.stage, to_stage=data["to_stage"]
            )
            is None
        )
        if asked is not None and may and (page := _confirm(request, lead, asked)):
            return page
        try:
            lead_move(
                lead=lead,
                to_stage=data["to_stage"],
                actor=request.user,
                reason_code=data["reason_code"],
                reason=data["reason"],
                override_reason=data.get("override_reason", ""),
            )
        except PermissionDenied as exc:
            messages.error(request, str(exc))  # the form is not shown to this role
            return _back(lead)
        except NotConfigured as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            _add_errors(
                form,
                exc,
                {"to": "to_stage", "reason": "reason_code", "override_reason": "override_reason"},
            )
        else:
            messages.success(
                request, _("Moved to %(stage)s.") % {"stage": lead.get_stage_display()}
            )
            return _back(lead)
    return _lead_page(request, lead, move_form=form)


def lead_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept an MQL: it becomes a sales-accepted lead."""
    lead = _detail(pk)
    if request.method == "POST":
        try:
            lead_move(lead=lead, to_stage=StageKey.SAL, actor=request.user)
        except (PermissionDenied, NotConfigured) as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Accepted: the lead is now sales-accepted."))
    return _back(lead)


def lead_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Reject an MQL back to marketing's nurture with an agreed reason code."""
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead)
    funnel = _funnel()
    form = RejectForm(request.POST, funnel=funnel)
    if form.is_valid():
        asked = reject_confirmation(
            lead=lead, funnel=funnel, reason_code=form.cleaned_data["reason_code"]
        )
        may = (
            move_refusal(
                user=request.user, lead=lead, from_stage=lead.stage, to_stage=StageKey.RECYCLED
            )
            is None
        )
        if may and (page := _confirm(request, lead, asked)):
            return page
        try:
            lead_move(
                lead=lead,
                to_stage=StageKey.RECYCLED,
                actor=request.user,
                reason_code=form.cleaned_data["reason_code"],
                reason=form.cleaned_data["reason"],
            )
        except (PermissionDenied, NotConfigured) as exc:
            messages.error(request, str(exc))  # the form is not shown to this role
            return _back(lead)
        except ValidationError as exc:
            _add_errors(form, exc, {"to": "reason_code", "reason": "reason_code"})
        else:
            messages.success(request, _("Rejected and sent back to marketing."))
            return _back(lead)
    return _lead_page(request, lead, reject_form=form)


def deal_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead, "deals")
    form = DealForm(request.POST)
    if form.is_valid():
        try:
            deal_create(lead=lead, actor=request.user, **form.cleaned_data)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            _add_errors(form, exc, {"lead": None})
        else:
            messages.success(request, _("Deal opened."))
            return _back(lead, "deals")
    return _lead_page(request, lead, deal_form=form)


def deal_close_view(request: HttpRequest, pk: int, deal_pk: int) -> HttpResponse:
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead, "deals")
    deal = get_object_or_404(Deal, pk=deal_pk, lead=lead)
    form = DealCloseForm(request.POST, funnel=_funnel(), lead=lead, deal=deal)
    if form.is_valid():
        asked = deal_close_confirmation(lead=lead, deal=deal, outcome=form.cleaned_data["outcome"])
        # A deal already closed, or one this person may not close, is refused by the service.
        may = (
            deal.outcome == DealOutcome.OPEN
            and lead_work_refusal(user=request.user, lead=lead) is None
        )
        if asked is not None and may and (page := _confirm(request, lead, asked)):
            return page
        try:
            deal = deal_update(deal=deal, actor=request.user, **form.cleaned_data)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            _add_errors(form, exc, {})
        else:
            messages.success(
                request, _("Deal closed as %(outcome)s.") % {"outcome": deal.get_outcome_display()}
            )
            return _back(lead, "deals")
    return _lead_page(request, lead, close_form=form, close_deal_pk=deal.pk)


def lead_revert_view(request: HttpRequest, pk: int, event_pk: int) -> HttpResponse:
    """A sales manager reverts the lead's latest move, with a reason, after confirming."""
    lead = _detail(pk)
    if request.method != "POST":
        return _back(lead, "sales")
    event = get_object_or_404(StageEvent, pk=event_pk, lead=lead)
    form = RevertForm(request.POST)
    if form.is_valid():
        may = stage_revert_refusal(user=request.user) is None
        if may and stage_move_revertable(lead=lead) == event:
            page = _confirm(request, lead, revert_confirmation(lead=lead, event=event))
            if page is not None:
                return page
        try:
            stage_move_revert(
                lead=lead, event=event, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except (PermissionDenied, NotConfigured) as exc:
            messages.error(request, str(exc))
            return _back(lead, "sales")
        except ValidationError as exc:
            by_field = exc.message_dict if hasattr(exc, "error_dict") else {}
            if set(by_field) != {"reason"}:
                messages.error(request, " ".join(exc.messages))
                return _back(lead, "sales")
            _add_errors(form, exc, {})
        else:
            messages.success(
                request,
                _("Move reverted: the lead is back in %(stage)s.")
                % {"stage": lead.get_stage_display()},
            )
            return _back(lead, "timeline")
    return _lead_page(request, lead, revert_form=form)


def agenda_view(request: HttpRequest) -> HttpResponse:
    """My next follow-ups and visits, by day."""
    if not user_in_sales(request.user):
        messages.info(request, _("The agenda is for the sales team."))
        return redirect("home")
    feed = calendar_feed_of(user=request.user)
    feed_url = (
        request.build_absolute_uri(
            reverse("leads:calendar-feed", args=[request.user.pk, feed.token])
        )
        if feed
        else ""
    )
    return render(
        request,
        "leads/agenda.html",
        {**agenda_for(rep=request.user), "now": timezone.now(), "feed_url": feed_url},
    )


@require_POST
def calendar_feed_reset_view(request: HttpRequest) -> HttpResponse:
    """Make (or remake) my calendar link: the old one stops working."""
    if not user_in_sales(request.user):
        messages.info(request, _("The agenda is for the sales team."))
        return redirect("home")
    calendar_feed_reset(user=request.user)
    messages.success(request, _("Your calendar link is new; the old one no longer works."))
    return redirect(f"{reverse('leads:agenda')}#calendar")


@login_not_required
@require_GET
def calendar_feed_view(request: HttpRequest, user_id: int, token: str) -> HttpResponse:
    """A user's planned follow-ups as iCalendar, opened by the secret in its URL (a
    calendar app has no session); any other token is a 404."""
    user = calendar_feed_owner(user_id=user_id, token=token)
    if user is None:
        raise Http404
    response = HttpResponse(
        calendar_feed_ics(user=user), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="accord.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def week_param(request: HttpRequest) -> date:
    """The week asked for (any day of it), or this week with a message saying why not: a
    week in year 9999 has no next week to count up to (config.dates' period window)."""
    try:
        day = period_param_parse(request.GET.get("week"), field="week")
    except ValidationError as exc:
        messages.error(request, f"{' '.join(exc.messages)} {_('Showing this week.')}")
        day = None
    return week_start_of(day or timezone.now())


class _RowWithLinks:
    """A team row and the URLs of the records behind its figures."""

    def __init__(self, row: object, links: dict[str, str]) -> None:
        self._row, self.links = row, links

    def __getattr__(self, name: str) -> object:
        return getattr(self._row, name)


@replica_page
def team_view(request: HttpRequest) -> HttpResponse:
    """A manager's week: what each rep did, who is behind."""
    if not user_sees_team(request.user):
        messages.info(request, _("The team view is for sales managers."))
        return redirect("home")
    week = week_param(request)
    rows = team_week(reps=team_reps(user=request.user), week=week)
    monday = week_start_of(week)
    leads_url, records_url = reverse("leads:list"), reverse("metrics:records")
    # Each figure opens the records it counts: the rep's leads, the week's metric records.
    links = {
        row.rep.pk: {
            "leads": f"{leads_url}?owner={row.rep.pk}",
            "records": f"{records_url}?owner={row.rep.pk}&week={monday.isoformat()}",
        }
        for row in rows
    }
    context = {
        "rows": [_RowWithLinks(row, links[row.rep.pk]) for row in rows],
        "week": week,
        "previous": week - timedelta(weeks=1),
        "next": week + timedelta(weeks=1),
        "behind": sum(1 for r in rows if r.behind),
    }
    return render(request, "leads/team.html", context)


LEDGER_WEEKS = 8


@replica_page
def ledger_view(request: HttpRequest) -> HttpResponse:
    """SLA credits and breaches per rep and week: a rep's own, a manager's team."""
    user = request.user
    if not (user_in_sales(user) or user_sees_team(user)):
        messages.info(request, _("The ledger is for the sales team."))
        return redirect("home")
    last = week_param(request)
    first = last - timedelta(weeks=LEDGER_WEEKS - 1)
    reps = team_reps(user=user)
    rows = sla_ledger(reps=reps, start=first, weeks=LEDGER_WEEKS)
    weeks = [first + timedelta(weeks=i) for i in range(LEDGER_WEEKS)]
    grid = {(r.rep_id, r.week_start): r for r in rows}
    table = [
        {
            "rep": rep,
            "weeks": [grid[(rep.pk, week)] for week in weeks],
            "credits": sum(grid[(rep.pk, week)].credits for week in weeks),
            "breaches": sum(grid[(rep.pk, week)].breaches for week in weeks),
        }
        for rep in reps
    ]
    context = {
        "table": table,
        "weeks": weeks,
        "last": last,
        "previous": last - timedelta(weeks=LEDGER_WEEKS),
        "next": last + timedelta(weeks=LEDGER_WEEKS),
        "own": reps == [user],
    }
    return render(request, "leads/ledger.html", context)
