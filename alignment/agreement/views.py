"""Thin HTML views of the agreement: read it, compare versions, sign, edit a draft."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from alignment.agreement import services
from alignment.agreement.backtest import agreement_backtest
from alignment.agreement.forms import (
    BacktestForm,
    CompareForm,
    HandoffTimesForm,
    ReasonCodeForm,
    RuleForm,
    StageForm,
    ThresholdForm,
    TranslatedTextsForm,
    WeightsForm,
    errors_into,
    sign_confirmation,
)
from alignment.agreement.selectors import (
    HANDOFF_FIELDS,
    STAGE_ENTRY_CHECKS,
    agreement_active,
    agreement_contact_in_words,
    agreement_detail,
    agreement_versions,
    agreement_weights_labelled,
    rule_in_words,
)
from alignment.models import Agreement, AgreementStatus, RuleKind
from config.confirm import confirmation_page


def post_only(view):
    """A form target: a GET (a reload, a bookmark) goes back to the agreement page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return redirect("alignment:agreement")
        return view(request, *args, **kwargs)

    return wrapped


def _rules_in_words(agreement: Agreement) -> list[dict]:
    return [
        {"rule": rule, "words": rule_in_words(rule), "must": rule.kind == RuleKind.MUST}
        for rule in agreement.rules.all()
    ]


def agreement_view(request: HttpRequest) -> HttpResponse:
    """The agreement in force (or ?version=<id>), its history, a diff, sign buttons."""
    versions = agreement_versions()
    shown = None
    if request.GET.get("version", "").isdigit():
        shown = agreement_detail(pk=int(request.GET["version"]))
    shown = shown or agreement_active()
    compare = CompareForm(request.GET if "a" in request.GET else None)
    diff = None
    if compare.is_bound and compare.is_valid():
        by_pk = {v.pk: v for v in versions}
        a, b = by_pk.get(compare.cleaned_data["a"]), by_pk.get(compare.cleaned_data["b"])
        if a is None or b is None:
            compare.add_error(None, _("Choose two existing versions."))
        else:
            diff = {"a": a, "b": b, "sections": services.agreement_diff(a=a, b=b)}
    team = services.agreement_sign_team(user=request.user)
    can_draft = services.agreement_can_edit_criteria(
        user=request.user
    ) or services.agreement_can_edit_funnel(user=request.user)
    rows = []
    for version in versions:
        signed = {s.team for s in version.signatures.all()}
        can_sign = (
            team is not None and version.status == AgreementStatus.PROPOSED and team not in signed
        )
        rows.append(
            {
                "agreement": version,
                "signatures": list(version.signatures.all()),
                "can_sign": can_sign,
                "sign_confirm": sign_confirmation(
                    agreement=version, team=team, other_signed=bool(signed - {team})
                )
                if can_sign and team is not None
                else None,
            }
        )
    context = {
        "agreement": shown,
        "rules": _rules_in_words(shown) if shown else [],
        "weights": agreement_weights_labelled(agreement=shown) if shown else [],
        "versions": rows,
        "compare": compare,
        "diff": diff,
        "sign_team": team,
        "can_draft": can_draft,
        "contact_rules": agreement_contact_in_words(agreement=shown) if shown else [],
        "stage_rows": [(stage, STAGE_ENTRY_CHECKS.get(stage.key)) for stage in shown.stages.all()]
        if shown
        else [],
    }
    return render(request, "alignment/agreement.html", context)


@post_only
def agreement_draft_new_view(request: HttpRequest) -> HttpResponse:
    try:
        draft = services.agreement_draft_create(user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("alignment:agreement")
    messages.success(
        request, _("Draft v%(v)s started from the agreement in force.") % {"v": draft.version}
    )
    return redirect("alignment:edit", pk=draft.pk)


@post_only
def agreement_sign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Sign for the manager's team, once confirmed (the service refuses anyone else)."""
    agreement = get_object_or_404(Agreement, pk=pk)
    team = services.agreement_sign_team(user=request.user)
    signed = set(agreement.signatures.values_list("team", flat=True))
    if team is not None and agreement.status == AgreementStatus.PROPOSED and team not in signed:
        asked = sign_confirmation(agreement=agreement, team=team, other_signed=bool(signed))
        page = confirmation_page(
            request,
            title=asked.title,
            consequence=asked.consequence,
            confirm_label=asked.label,
            cancel_url=reverse("alignment:agreement") + f"?version={pk}#history",
        )
        if page is not None:
            return page
    try:
        result = services.agreement_sign(agreement=agreement, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if result.activated:
            messages.success(
                request,
                _("Signed. Version %(v)s is now in force; every lead is being rescored under it.")
                % {"v": agreement.version},
            )
        else:
            messages.success(
                request,
                _("Signed for your team. Version %(v)s waits for the other team's signature.")
                % {"v": agreement.version},
            )
    return HttpResponseRedirect(reverse("alignment:agreement") + f"?version={pk}")


@post_only
def agreement_propose_view(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = get_object_or_404(Agreement, pk=pk)
    try:
        services.agreement_propose(agreement=agreement, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("alignment:edit", pk=pk)
    messages.success(
        request,
        _("Version %(v)s is proposed and frozen; both managers can now sign it.")
        % {"v": agreement.version},
    )
    return HttpResponseRedirect(reverse("alignment:agreement") + f"?version={pk}")


def _backtest_context(request: HttpRequest, agreement: Agreement) -> dict:
    data = request.GET if "start" in request.GET else None
    form = BacktestForm(data, initial=BacktestForm.default_initial())
    if data is None:
        form = BacktestForm(BacktestForm.default_initial())
    result = None
    if form.is_valid():
        start, end = form.cleaned_data["window"]  # backtest_window: the API's rule too
        result = agreement_backtest(
            agreement=agreement, start=start, end=end, threshold=form.cleaned_data.get("threshold")
        )
    return {"backtest_form": form, "backtest": result, "draft": agreement}


def agreement_backtest_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The backtest panel alone (htmx swaps it in place); without htmx, the editor page."""
    agreement = get_object_or_404(Agreement, pk=pk)
    if not request.htmx:
        query = request.GET.urlencode()
        return HttpResponseRedirect(
            reverse("alignment:edit", args=[pk]) + (f"?{query}" if query else "")
        )
    return render(request, "alignment/_backtest.html", _backtest_context(request, agreement))


EDIT_FORMS = {
    "threshold": ThresholdForm,
    "rule_add": RuleForm,
    "stage": StageForm,
    "weights": WeightsForm,
    "handoffs": HandoffTimesForm,
    "reason_add": ReasonCodeForm,
}


def agreement_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The draft editor: criteria for marketers, funnel/SLAs/reasons/weights for managers."""
    agreement = agreement_detail(pk=pk)
    if agreement is None or agreement.status != AgreementStatus.DRAFT:
        if agreement is not None:
            messages.info(
                request,
                _("Only a draft can be edited; this is version %(v)s as signed.")
                % {"v": agreement.version},
            )
        return HttpResponseRedirect(
            reverse("alignment:agreement") + (f"?version={pk}" if agreement else "")
        )
    user = request.user
    can_criteria = services.agreement_can_edit_criteria(user=user)
    can_funnel = services.agreement_can_edit_funnel(user=user)
    bound: dict[str, object] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if _edit_apply(request, agreement, action, bound):
            return redirect("alignment:edit", pk=pk)
        agreement = agreement_detail(pk=pk)
    context = {
        "agreement": agreement,
        "rules": _rules_in_words(agreement),
        "weights": agreement_weights_labelled(agreement=agreement),
        "can_criteria": can_criteria,
        "can_funnel": can_funnel,
        "threshold_form": bound.get("threshold")
        or ThresholdForm(initial={"mql_threshold": agreement.mql_threshold}),
        "rule_form": bound.get("rule_add") or RuleForm(),
        "weights_form": bound.get("weights")
        or WeightsForm(initial={f: getattr(agreement, f) for f in services.WEIGHT_FIELDS}),
        "reason_form": bound.get("reason_add") or ReasonCodeForm(),
        "handoffs_form": bound.get("handoffs")
        or HandoffTimesForm(initial={f: getattr(agreement, f) for f in HANDOFF_FIELDS}),
        "stage_forms": [
            bound["stage"]
            if isinstance(bound.get("stage"), StageForm) and bound["stage"].prefix == stage.key
            else StageForm(
                initial={
                    "key": stage.key,
                    "name": stage.name,
                    "owner_team": stage.owner_team,
                    "sla_hours": stage.sla_hours,
                    "entry_criteria": stage.entry_criteria,
                    "exit_criteria": stage.exit_criteria,
                    "next": [n.key for n in stage.next_stages.all()],
                    **StageForm.translation_initial(stage, StageForm.translated),
                },
                prefix=stage.key,
            )
            for stage in agreement.stages.all()
        ],
        **_backtest_context(request, agreement),
    }
    return render(request, "alignment/agreement_edit.html", context)


def _edit_apply(request: HttpRequest, agreement: Agreement, action: str, bound: dict) -> bool:
    """Apply one editor form; True when it worked, else the bound form lands in `bound`."""
    user = request.user
    if action == "rule_delete":
        services.agreement_rule_delete(
            agreement=agreement, user=user, rule_id=int(request.POST.get("rule", 0) or 0)
        )
        messages.success(request, _("Rule removed."))
        return True
    if action == "reason_delete":
        services.agreement_reason_code_delete(
            agreement=agreement, user=user, code_id=int(request.POST.get("code", 0) or 0)
        )
        messages.success(request, _("Reason code removed."))
        return True
    form_class = EDIT_FORMS.get(action)
    if form_class is None:
        messages.error(request, _("Unknown change."))
        return True
    prefix = request.POST.get("prefix") if action == "stage" else None
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        data = form.base_data() if isinstance(form, TranslatedTextsForm) else form.cleaned_data
        translations = form.translations() if isinstance(form, TranslatedTextsForm) else {}
        try:
            if action == "threshold":
                services.agreement_threshold_set(
                    agreement=agreement, user=user, threshold=data["mql_threshold"]
                )
            elif action == "rule_add":
                services.agreement_rule_add(
                    agreement=agreement, user=user, data={**data, "translations": translations}
                )
            elif action == "stage":
                services.agreement_stage_update(
                    agreement=agreement,
                    user=user,
                    key=data["key"],
                    data={
                        **{k: v for k, v in data.items() if k != "key"},
                        "translations": translations,
                    },
                )
            elif action == "weights":
                services.agreement_weights_set(agreement=agreement, user=user, weights=data)
            elif action == "handoffs":
                services.agreement_handoff_times_set(agreement=agreement, user=user, times=data)
            elif action == "reason_add":
                services.agreement_reason_code_add(
                    agreement=agreement, user=user, translations=translations, **data
                )
        except ValidationError as exc:
            errors_into(form, exc)
        else:
            messages.success(request, _("Saved to draft v%(v)s.") % {"v": agreement.version})
            return True
    bound[action] = form
    return False
