"""Thin HTML views of campaigns; the services decide, the selectors read."""

from __future__ import annotations

from datetime import date, timedelta
from functools import wraps
from pathlib import PurePosixPath

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import touch_record_refusal
from alignment.agreement.selectors import agreement_active
from campaigns import selectors, services
from campaigns.charts import spend_revenue_chart
from campaigns.forms import (
    BriefingForm,
    CampaignForm,
    CollateralForm,
    LaunchForm,
    PeriodForm,
    SpendCorrectForm,
    SpendForm,
    SpendRemoveForm,
    TouchForm,
    collateral_delete_confirmation,
    errors_into,
    spend_remove_confirmation,
)
from campaigns.models import Campaign, Channel, Collateral, SpendCorrection, SpendEntry
from config.confirm import confirmation_page
from config.formats import date_text, money_format
from config.replicas import replica_page
from leads.models import Lead
from metrics.definitions import MetricFilter

LIST_DEFAULT_DAYS = 90


def can_edit(user) -> bool:
    return user.has_perm("campaigns.change_campaign")


def post_only(view):
    """A form target: a GET (a reload, a bookmark) goes back to the campaign page."""

    @wraps(view)
    def wrapped(request: HttpRequest, pk: int, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return redirect("campaigns:detail", pk=pk)
        return view(request, pk, **kwargs)

    return wrapped


def marketers_only(view):
    """Reps and executives see campaigns; a GET of an edit page sends them back, a POST is 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_edit(request.user):
            if request.method == "POST":
                raise PermissionDenied(_("Only marketing can change campaigns."))
            messages.error(request, _("Only marketing can change campaigns."))
            pk = kwargs.get("pk")
            return redirect("campaigns:detail", pk=pk) if pk else redirect("campaigns:list")
        return view(request, *args, **kwargs)

    return wrapped


def _show_period(form: PeriodForm, *, start, end, model: str) -> None:
    """An unbound period form shows the period in use."""
    if not form.is_bound:
        form.initial = {"start": start, "end": end - timedelta(days=1), "model": model}


# --- list --------------------------------------------------------------------------------


@replica_page
def campaign_list_view(request: HttpRequest) -> HttpResponse:
    """Every campaign with its KPIs for a period, and the same KPIs per channel."""
    today = timezone.localdate()
    form = PeriodForm(request.GET or None)
    start, end, model = form.period(
        default_start=today - timedelta(days=LIST_DEFAULT_DAYS - 1),
        default_end=today + timedelta(days=1),
    )
    _show_period(form, start=start, end=end, model=model)
    f = MetricFilter(start=start, end=end)
    table = selectors.campaign_kpis(f=f, by="campaign", model=model)
    channels = selectors.campaign_kpis(f=f, by="channel", model=model)
    campaigns = Campaign.objects.select_related("owner").order_by("-starts_on", "name")
    context = {
        "form": form,
        "start": start,
        "end_inclusive": end - timedelta(days=1),
        "model_label": table.model_label,
        "rows": [(campaign, table.row(campaign.pk)) for campaign in campaigns],
        "channel_rows": [
            (Channel(key).label, row)
            for key, row in sorted(channels.rows.items())
            if key in Channel.values
        ],
        "totals": table.totals,
        "can_edit": can_edit(request.user),
    }
    return render(request, "campaigns/list.html", context)


# --- the campaign page -------------------------------------------------------------------


def _detail_context(request: HttpRequest, campaign: Campaign) -> dict:
    lifetime = selectors.campaign_period(campaign=campaign)
    period = PeriodForm(request.GET or None)
    start, end, model = period.period(default_start=lifetime.start, default_end=lifetime.end)
    _show_period(period, start=start, end=end, model=model)
    f = MetricFilter(start=start, end=end, campaign=campaign.pk)
    kpis = selectors.campaign_kpis(f=f, by="campaign", model=model)
    row = kpis.row(campaign.pk)
    agreement = agreement_active()
    floor = agreement.acceptance_floor if agreement else None
    rate = row["acceptance_rate"]
    readiness = selectors.campaign_readiness(campaign=campaign, agreement=agreement)
    briefing = selectors.briefing_for(campaign=campaign)
    expected = selectors.campaign_expected_reps(campaign=campaign)
    acked = set(briefing.acknowledgments.values_list("user_id", flat=True) if briefing else [])
    reps = sorted({m.user_id: m.user for m in expected}.values(), key=lambda u: u.username)
    user = request.user
    return {
        "campaign": campaign,
        "period": period,
        "start": start,
        "end_inclusive": end - timedelta(days=1),
        "model_label": kpis.model_label,
        "kpi": row,
        "has_roi": selectors.campaign_has_roi(campaign=campaign),
        "funnel": selectors.campaign_funnel(f=f),
        "chart": spend_revenue_chart(
            selectors.campaign_spend_revenue_weekly(campaign=campaign, f=f, model=model)
        ),
        "acceptance_floor": floor,
        "below_floor": rate is not None and floor is not None and rate < float(floor),
        "rejections": selectors.campaign_rejection_reasons(campaign=campaign),
        "rejections_upheld": selectors.campaign_rejections_upheld(f=f),
        "collateral": [
            (item, collateral_delete_confirmation(collateral=item))
            for item in campaign.collateral.order_by("stage_key", "title")
        ],
        "spend_entries": campaign.spend_entries.order_by("-date", "-pk")[:20],
        "spend_corrections": [
            (correction, _correction_summary(correction))
            for correction in selectors.spend_corrections(campaign=campaign)[:20]
        ],
        "territories": campaign.target_territories.all(),
        "readiness": readiness,
        "briefing": briefing,
        "reps": [(rep, rep.pk in acked) for rep in reps],
        "can_acknowledge": briefing is not None
        and user.has_perm("campaigns.add_briefingacknowledgment")
        and user.pk not in acked,
        "acknowledged": user.pk in acked,
        "can_edit": can_edit(user),
        "spend_form": SpendForm(),
        "collateral_form": CollateralForm(),
        "briefing_form": BriefingForm(initial={"body": briefing.body if briefing else ""}),
        "launch_form": LaunchForm(),
    }


def _correction_summary(correction: SpendCorrection) -> str:
    """What a spend correction changed, in the reader's formats: "$500.00 → $450.00;
    2 Nov 2026 → 3 Nov 2026", or what a removal removed: "$500.00 dated 2 Nov 2026"."""

    def shown(name: str, value: str | None) -> str:
        if value is None:
            return "—"
        return money_format(value) if name == "amount" else date_text(date.fromisoformat(value))

    changes = correction.changes
    if correction.action == SpendCorrection.Action.REMOVED:
        return _("%(amount)s dated %(date)s") % {
            "amount": shown("amount", changes["amount"]["before"]),
            "date": shown("date", changes["date"]["before"]),
        }
    return "; ".join(
        f"{shown(name, change['before'])} → {shown(name, change['after'])}"
        for name, change in changes.items()
    )


def campaign_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("owner", "launched_by"), pk=pk)
    return render(request, "campaigns/detail.html", _detail_context(request, campaign))


def _detail_with(request: HttpRequest, campaign: Campaign, **forms) -> HttpResponse:
    """The campaign page again, with a failed form and its errors (status 400)."""
    context = _detail_context(request, campaign)
    context.update(forms)
    return render(request, "campaigns/detail.html", context, status=400)


# --- create and edit ---------------------------------------------------------------------


@marketers_only
def campaign_create_view(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(
        request.POST or None,
        user=request.user,
        statuses=services.campaign_statuses_allowed(campaign=None),
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            errors_into(form, error)
        else:
            messages.success(request, _("Campaign created."))
            return redirect("campaigns:detail", pk=campaign.pk)
    status = 400 if form.is_bound else 200
    return render(request, "campaigns/form.html", {"form": form, "campaign": None}, status=status)


@marketers_only
def campaign_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    # The form validates a copy, so a rejected edit never touches the campaign.
    form = CampaignForm(
        request.POST or None,
        instance=Campaign.objects.get(pk=pk),
        user=request.user,
        statuses=services.campaign_statuses_allowed(campaign=campaign),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(campaign=campaign, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            errors_into(form, error)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaigns:detail", pk=campaign.pk)
    status = 400 if form.is_bound else 200
    context = {"form": form, "campaign": campaign}
    return render(request, "campaigns/form.html", context, status=status)


# --- actions on the campaign page --------------------------------------------------------


@post_only
@marketers_only
def campaign_spend_add_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    form = SpendForm(request.POST)
    if form.is_valid():
        try:
            services.spend_entry_add(campaign=campaign, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            errors_into(form, error)
        else:
            messages.success(request, _("Spend recorded."))
            return redirect("campaigns:detail", pk=pk)
    return _detail_with(request, campaign, spend_form=form)


def _spend_entry_page(
    request: HttpRequest, entry: SpendEntry, *, status: int = 200, **forms
) -> HttpResponse:
    """The page of one spend entry: correct it, or remove it, with a reason."""
    context = {
        "campaign": entry.campaign,
        "entry": entry,
        "correct_form": SpendCorrectForm(initial={"date": entry.date, "amount": entry.amount}),
        "remove_form": SpendRemoveForm(),
        "remove": spend_remove_confirmation(entry=entry),
        **forms,
    }
    return render(request, "campaigns/spend_entry.html", context, status=status)


@marketers_only
def campaign_spend_correct_view(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    """GET: the entry and its two forms; POST: correct its amount or date, with a reason."""
    entry = get_object_or_404(
        SpendEntry.objects.select_related("campaign"), pk=entry_pk, campaign_id=pk
    )
    if request.method != "POST":
        return _spend_entry_page(request, entry)
    form = SpendCorrectForm(request.POST)
    if form.is_valid():
        try:
            services.spend_entry_correct(entry=entry, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            errors_into(form, error)
        else:
            messages.success(request, _("Spend corrected; the correction is recorded."))
            return redirect(reverse("campaigns:detail", args=[pk]) + "#spend")
    return _spend_entry_page(request, entry, status=400, correct_form=form)


@post_only
@marketers_only
def campaign_spend_remove_view(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    """Remove a spend entry, once confirmed, with a reason (a second post finds it gone: 404)."""
    entry = get_object_or_404(
        SpendEntry.objects.select_related("campaign"), pk=entry_pk, campaign_id=pk
    )
    form = SpendRemoveForm(request.POST)
    if not form.is_valid():
        return _spend_entry_page(request, entry, status=400, remove_form=form)
    asked = spend_remove_confirmation(entry=entry)
    page = confirmation_page(
        request,
        title=asked.title,
        consequence=asked.consequence,
        confirm_label=asked.label,
        cancel_url=reverse("campaigns:spend-entry", args=[pk, entry_pk]),
    )
    if page is not None:
        return page
    try:
        services.spend_entry_remove(entry=entry, actor=request.user, **form.cleaned_data)
    except ValidationError as error:
        errors_into(form, error)
        return _spend_entry_page(request, entry, status=400, remove_form=form)
    except SpendEntry.DoesNotExist:
        raise Http404(_("This spend entry has already been removed.")) from None
    messages.success(request, _("Spend removed; the removal is recorded."))
    return redirect(reverse("campaigns:detail", args=[pk]) + "#spend")


@post_only
@marketers_only
def campaign_collateral_add_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CollateralForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.collateral_add(actor=request.user, campaign=campaign, **form.cleaned_data)
        except ValidationError as error:
            errors_into(form, error)
        else:
            messages.success(request, _("Collateral added."))
            return redirect("campaigns:detail", pk=pk)
    return _detail_with(request, campaign, collateral_form=form)


@post_only
@marketers_only
def campaign_collateral_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a collateral item, once confirmed (a second post finds it gone: 404)."""
    item = get_object_or_404(Collateral, pk=request.POST.get("collateral") or 0, campaign_id=pk)
    asked = collateral_delete_confirmation(collateral=item)
    page = confirmation_page(
        request,
        title=asked.title,
        consequence=asked.consequence,
        confirm_label=asked.label,
        cancel_url=reverse("campaigns:detail", args=[pk]) + "#collateral",
    )
    if page is not None:
        return page
    services.collateral_delete(collateral=item, actor=request.user)
    messages.success(request, _("Collateral removed."))
    return redirect("campaigns:detail", pk=pk)


def collateral_download_view(request: HttpRequest, pk: int) -> FileResponse:
    """A collateral file as a download, for a signed-in user who may view collateral.

    Uploads are never served from MEDIA_URL (that is debug-only, unchecked, and absent in
    production): the file is read through its field's storage, the local disk or an
    S3-compatible bucket, and streamed as an attachment that browsers do not sniff.
    """
    if not request.user.has_perm("campaigns.view_collateral"):
        raise PermissionDenied(_("You may not open collateral."))
    item = get_object_or_404(Collateral, pk=pk)
    if not item.file:
        raise Http404(_("This collateral is a link, not a file."))
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file of this collateral is missing from storage.")) from None
    response = FileResponse(handle, as_attachment=True, filename=PurePosixPath(item.file.name).name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@post_only
@marketers_only
def campaign_briefing_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    form = BriefingForm(request.POST)
    if form.is_valid():
        try:
            services.briefing_save(campaign=campaign, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            errors_into(form, error)
        else:
            messages.success(request, _("Briefing saved."))
            return redirect("campaigns:detail", pk=pk)
    return _detail_with(request, campaign, briefing_form=form)


@post_only
def campaign_acknowledge_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        services.briefing_acknowledge(campaign=campaign, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Thanks: you acknowledged the briefing."))
    return redirect("campaigns:detail", pk=pk)


@post_only
@marketers_only
def campaign_launch_view(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    form = LaunchForm(request.POST)
    form.is_valid()
    try:
        result = services.campaign_launch(
            campaign=campaign,
            actor=request.user,
            confirm_below_threshold=bool(form.cleaned_data.get("confirm")),
        )
    except ValidationError as error:
        errors_into(form, error)
        return _detail_with(request, campaign, launch_form=form)
    if result.below_threshold:
        messages.warning(request, _("Campaign launched below the agreed readiness; recorded."))
    else:
        messages.success(request, _("Campaign launched."))
    return redirect("campaigns:detail", pk=pk)


def touch_record_view(request: HttpRequest, lead_pk: int) -> HttpResponse:
    """Record an engagement touch on a lead (marketing), through the one touch service."""
    lead = get_object_or_404(Lead, pk=lead_pk)
    refusal = touch_record_refusal(user=request.user)
    if refusal and request.method != "POST":
        messages.info(request, refusal)  # the lead page offers the form only to marketing
        return redirect("leads:detail", pk=lead.pk)
    if request.method == "POST":
        form = TouchForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.touch_record(
                    actor=request.user,
                    lead=lead,
                    kind=data["kind"],
                    occurred_at=data["occurred_at"],
                    campaign=data["campaign"],
                    metadata={"note": data["note"]} if data["note"] else {},
                )
            except PermissionDenied as error:
                form.add_error(None, str(error))
            except ValidationError as error:
                errors_into(form, error)
            else:
                messages.success(request, _("Touch recorded; the lead is rescored."))
                return redirect("leads:detail", pk=lead.pk)
    else:
        form = TouchForm(initial={"occurred_at": timezone.localtime().replace(second=0)})
    return render(request, "campaigns/touch_form.html", {"lead": lead, "form": form})
