"""Thin HTML views: the shared dashboard, drill-downs and CSV, targets and the meeting pack."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from alignment.agreement.selectors import COMPONENT_LABELS
from config.dates import WEEK, PeriodDateField, deployment_date, planned_date_validator
from config.exports import csv_response
from config.replicas import replica_page
from metrics.definitions import (
    METRIC_NAMES,
    REGISTRY,
    TARGET_DRILL,
    MetricFilter,
    metric_filter_read,
    metric_is_known,
    metric_label,
    metric_records,
    metric_unit,
    metric_value,
    metric_values,
)
from metrics.models import Target, Territory
from metrics.reporting import charts, selectors
from metrics.reporting.presentation import (
    alias,
    delta_display,
    display,
    figures,
    record_cells,
    record_header,
    record_link,
    records_for,
    records_url,
)
from metrics.reporting.services import last_complete_week, target_set
from metrics.tasks import compute_weekly_scorecards

RECORDS_PER_PAGE = 100


def _filters(request: HttpRequest, **defaults: Any) -> tuple[MetricFilter, dict[str, list[str]]]:
    """The filter from the query string; on bad input the default period and the errors."""
    try:
        return metric_filter_read(request.GET, **defaults), {}
    except ValidationError as exc:
        return metric_filter_read({}, **defaults), exc.message_dict


def _filter_context(f: MetricFilter, errors: dict) -> dict[str, Any]:
    return {
        "f": f,
        "filter_errors": errors,
        "territories": Territory.objects.order_by("name"),
        "end_inclusive": f.end - timedelta(days=1),
    }


@replica_page
def dashboard_view(request: HttpRequest) -> HttpResponse:
    f, errors = _filters(request)
    data = selectors.dashboard_build(f=f)
    fig = figures(data.values, f)
    funnel = [{**row, "fig": fig[_alias(row["name"])],
               "conv": fig[_alias(row["conversion_name"])] if row["conversion_name"] else None}
              for row in data.funnel]  # fmt: skip
    history = data.history
    points = [
        (
            date_format(c.week_start, "MONTH_DAY_FORMAT"),  # the reader's month names
            None if c.alignment_score is None else float(c.alignment_score),
        )
        for c in history
    ]
    weekly: dict[str, list[float | None]] = {}  # a component's value week by week
    for index, card in enumerate(history):
        for comp in card.components:
            series = weekly.setdefault(comp["key"], [None] * len(history))
            series[index] = comp.get("value")
    latest = history[-1] if history else None
    for row in data.campaigns:
        row["url"] = records_url("spend", f, campaign=row["campaign"])
        row["roi_display"] = display(row["roi"], "ratio")
        row["spend_display"] = display(row["spend"], "money")
        row["revenue_display"] = display(row["attributed_revenue"], "money")
        row["mqls_url"] = records_url("mqls", f, campaign=row["campaign"])
        row["roi_url"] = records_url("roi", f, campaign=row["campaign"])
        row["revenue_url"] = records_url("attributed_revenue", f, campaign=row["campaign"])
    for row in data.ledger:
        row["credits_url"] = records_url("follow_ups_within_sla", f, owner=row["owner"])
        row["breaches_url"] = records_url("sla_breaches", f, owner=row["owner"])
    context = {
        **_filter_context(f, errors),
        "data": data,
        "fig": fig,
        "funnel": funnel,
        "revenue_target": display(data.revenue_target, "money"),
        "funnel_svg": charts.funnel_chart(data.funnel),
        "score_svg": charts.score_chart(points) if points else "",
        "latest": latest,
        "latest_components": [
            _component_row(c, weekly.get(c["key"], []), weeks=len(history))
            for c in (latest.components if latest else [])
        ],
        "all_figures": [fig[_alias(name)] for name in METRIC_NAMES],
        "pack_url": reverse("metrics:pack"),
        "can_recompute": request.user.has_perm("metrics.recompute_scorecard"),
    }
    return render(request, "metrics/dashboard.html", context)


def _component_row(component: dict[str, Any], series: list, *, weeks: int) -> dict[str, Any]:
    """A score component's row: its latest value, weight and a sparkline of its weeks."""
    label = str(COMPONENT_LABELS.get(component["key"], component["label"]))
    return {
        **component,
        "label": label,
        "value_display": display(component.get("value"), "rate"),
        "spark": charts.sparkline(
            series,
            label=ngettext(
                "%(component)s over the last %(n)s week",
                "%(component)s over the last %(n)s weeks",
                weeks,
            )
            % {"component": label, "n": weeks},
        ),
    }


def _alias(name: str) -> str:

    return alias(name)


@replica_page
def records_view(request: HttpRequest) -> HttpResponse:
    """The records a figure counts, as many rows as the figure says; CSV from here."""
    f, errors = _filters(request)
    name = request.GET.get("metric", "")
    context = {**_filter_context(f, errors), "metric": name, "choices": []}
    if not name or not metric_is_known(name):
        if name:
            errors = {**errors, "metric": [_("Unknown metric “%(n)s”.") % {"n": name}]}
            context["filter_errors"] = errors
        context["choices"] = [(metric_label(n), records_url(n, f)) for n in METRIC_NAMES]
        return render(request, "metrics/records.html", context, status=400 if name else 200)
    base, qs = records_for(_drill_name(name), metric_records(name=name, f=f))
    page = Paginator(qs, RECORDS_PER_PAGE).get_page(request.GET.get("page"))
    value = metric_value(name=name, f=f)

    context.update(
        {
            "label": metric_label(name),
            "description": _description(name),
            "value": display(value, metric_unit(name)),
            "count": page.paginator.count,
            "header": record_header(base),
            "rows": [(record_link(base, obj), record_cells(base, obj)) for obj in page],
            "page": page,
            "csv_url": reverse("metrics:records-csv") + "?" + request.GET.urlencode(),
        }
    )
    return render(request, "metrics/records.html", context)


def _drill_name(name: str) -> str:

    return TARGET_DRILL.get(name, name)


def _description(name: str) -> str:
    metric = REGISTRY.get(_drill_name(name))
    return str(metric.description) if metric else ""


@replica_page
def records_csv_view(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("metric", "")
    if not metric_is_known(_drill_name(name)):
        return redirect(reverse("metrics:records") + "?" + request.GET.urlencode())
    f, errors = _filters(request)
    if errors:
        return redirect(reverse("metrics:records") + "?" + request.GET.urlencode())
    base, qs = records_for(_drill_name(name), metric_records(name=name, f=f))
    filename = f"{_drill_name(name).replace('[', '_').replace(']', '').replace('→', '-')}"
    return csv_response(
        filename=f"{filename}_{f.start.isoformat()}_{f.end.isoformat()}.csv",
        header=record_header(base),
        rows=(record_cells(base, obj, iso=True) for obj in qs.iterator(chunk_size=2000)),
    )


# --- targets and plans -------------------------------------------------------------------------


class TargetForm(forms.Form):
    territory = forms.ModelChoiceField(
        queryset=Territory.objects.order_by("name"),
        required=False,
        label=_lazy("Territory"),
        empty_label=_lazy("Overall (all territories)"),
    )
    period = forms.ChoiceField(choices=Target.Period.choices, label=_lazy("Period"))
    starts_on = forms.DateField(
        label=_lazy("First day"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[planned_date_validator],
    )
    revenue_target = forms.DecimalField(
        label=_lazy("Revenue target"), min_value=0, max_digits=14, decimal_places=2
    )


def targets_view(request: HttpRequest) -> HttpResponse:
    can_set = request.user.has_perm("metrics.add_target")
    form = TargetForm(request.POST or None)
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied(_("Only a sales manager sets targets."))
        if form.is_valid():
            try:
                target = target_set(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for field, errs in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                messages.success(
                    request,
                    _("Target saved: %(target)s.") % {"target": target.revenue_target},
                )
                return redirect(
                    reverse("metrics:targets")
                    + f"?period={target.period}&start={target.starts_on}"
                    + (f"&territory={target.territory_id}" if target.territory_id else "")
                )
    period = request.GET.get("period") or Target.Period.MONTH
    if period not in Target.Period.values:
        period = Target.Period.MONTH
    today = deployment_date()
    start, end = selectors.target_period_current(today=today, period=period)
    try:
        f = metric_filter_read(
            {"start": request.GET.get("start") or start.isoformat(),
             "end": request.GET.get("end") or "", "territory": request.GET.get("territory", "")},
            default_days=(end - start).days,
        )  # fmt: skip
        errors: dict = {}
    except ValidationError as exc:
        f, errors = MetricFilter(start=start, end=end), exc.message_dict
    if request.GET.get("start") and not request.GET.get("end"):
        _s, e = selectors.target_period_current(today=f.start, period=period)
        f = f.shifted(start=f.start, end=e)
    plan = selectors.plan_build(f=f)
    for row in plan["rows"]:
        row["url"] = records_url(row["metric"], f)
    forecast = selectors.forecast_weighted(territory=f.territory)
    for row in forecast["rows"]:
        row["amount_display"] = display(row["amount"], "money")
        row["weighted_display"] = display(row["weighted"], "money")
    forecast["total_display"] = display(forecast["total"], "money")
    context = {
        **_filter_context(f, errors),
        "form": form,
        "can_set": can_set,
        "period": period,
        "plan": plan["plan"],
        "plan_rows": plan["rows"],
        "revenue": display(plan["actuals"]["revenue"], "money"),
        "revenue_url": records_url("revenue", f),
        "attainment": display(plan["actuals"]["target_attainment"], "rate"),
        "target": display(plan["plan"].revenue_target, "money"),
        "avg_deal": display(plan["plan"].avg_deal_size, "money"),
        "rates": [(k, display(v, "rate")) for k, v in plan["plan"].rates.items()],
        "forecast": forecast,
        "targets": selectors.targets_list()[:50],
    }
    return render(request, "metrics/targets.html", context)


# --- the weekly meeting pack ----------------------------------------------------------------


@replica_page
def pack_view(request: HttpRequest) -> HttpResponse:
    errors: dict = {}
    params = {"week": request.GET.get("week") or last_complete_week().isoformat(),
              "territory": request.GET.get("territory", "")}  # fmt: skip
    try:
        f = metric_filter_read(params)
    except ValidationError as exc:
        errors = exc.message_dict
        f = metric_filter_read({"week": last_complete_week().isoformat()})
    data = selectors.pack_build(week_start=f.start, territory=f.territory)
    card = data["scorecard"] or data["live"]
    # A metric added after a week's scorecard was stored is computed from its definition.
    missing = [name for name in METRIC_NAMES if name not in card.metrics]
    values = {**card.metrics, **(metric_values(f=f, names=missing) if missing else {})}
    fig = figures({n: selectors.scorecard_value(n, values.get(n)) for n in METRIC_NAMES}, f)
    components = [
        {**c, "label": str(COMPONENT_LABELS.get(c["key"], c["label"])),
         "raw_display": _raw_display(c), "value_display": display(c["value"], "rate"),
         "share_display": display(c["effective_weight"], "rate")}
        for c in card.components
    ]  # fmt: skip
    delta = data["scorecard"].delta if data["scorecard"] else {}
    context = {
        **_filter_context(f, errors),
        **data,
        "card": card,
        "fig": fig,
        "components": components,
        "score": card.alignment_score,
        "score_delta": delta.get("alignment_score"),
        "published": data["scorecard"] is not None,
        "previous_week": f.start - WEEK,
        "next_week": f.start + WEEK,
        "key_rows": [
            (fig[k], delta_display(delta.get(fig[k].name), fig[k].unit))
            for k in selectors.PACK_METRICS
        ],
    }
    return render(request, "metrics/pack.html", context)


def _raw_display(component: dict[str, Any]) -> str:
    raw = component["raw"]
    if isinstance(raw, dict):
        return _("%(actual)s actual vs %(planned)s planned") % {
            "actual": display(raw.get("actual"), "rate"),
            "planned": display(raw.get("planned"), "rate"),
        }
    return display(raw, "rate")


class RecomputeForm(forms.Form):
    week = PeriodDateField(
        required=False,
        label=_lazy("Week"),
        help_text=_lazy("Any day of the week; empty means the last complete week."),
    )


@require_POST
def scorecards_recompute_view(request: HttpRequest) -> HttpResponse:
    """A manager queues the scorecards of a week (and its trailing 12 weeks) on the worker.

    Enqueuing needs the broker: while it is down the request answers 503 with a message
    (config.middleware.BrokerUnavailableMiddleware) and nothing is queued.
    """
    if not request.user.has_perm("metrics.recompute_scorecard"):
        raise PermissionDenied(_("Only a manager recomputes the scorecards."))
    form = RecomputeForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("metrics:dashboard")

    week = form.cleaned_data["week"] or last_complete_week()
    compute_weekly_scorecards.delay(week.isoformat())
    messages.success(
        request,
        _("The scorecards of the week of %(week)s and the 12 weeks before are being computed.")
        % {"week": week.strftime("%Y-%m-%d")},
    )
    return redirect("metrics:dashboard")
