"""Reads of the alignment app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Prefetch, QuerySet
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from alignment.models import (
    Agreement,
    AgreementStatus,
    FollowUpKind,
    FollowUpOutcome,
    FunnelStage,
    QualificationRule,
    ReasonCode,
    ReasonKind,
    RuleKind,
    RuleOperator,
    StageKey,
)
from campaigns.models import TouchKind
from config.errors import NotConfigured
from config.generations import memo
from leads.models import Lead

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# The agreement's own texts people write in every offered language: the field holds the
# deployment's language (LANGUAGE_CODE), `translations` the others.
TRANSLATED_FIELDS: dict[type[Model], tuple[str, ...]] = {
    FunnelStage: ("name", "entry_criteria", "exit_criteria"),
    ReasonCode: ("label",),
    QualificationRule: ("description",),
}


def translation_languages() -> list[tuple[str, str]]:
    """The offered languages an agreement text may be translated into: all but the
    deployment's, whose text is the field itself."""
    return [
        (code, str(name)) for code, name in settings.LANGUAGES if code != settings.LANGUAGE_CODE
    ]


def localized(obj: FunnelStage | ReasonCode | QualificationRule, field: str) -> str:
    """An agreement text in the reader's (the active) language; the deployment's language
    where it has no translation. Every page, form, export and message shows it this way."""
    base = getattr(obj, field)
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    if language == settings.LANGUAGE_CODE:
        return base
    text = ((obj.translations or {}).get(language) or {}).get(field) or ""
    return text if text.strip() else base


def _with_contents(qs: QuerySet[Agreement]) -> QuerySet[Agreement]:
    return qs.prefetch_related(
        Prefetch("stages", queryset=FunnelStage.objects.prefetch_related("next_stages")),
        "rules",
        "reason_codes",
        "signatures__signed_by",
    )


# What the stage service (leads/services/criteria.py) itself checks before a lead enters
# a stage. A stage not listed has an entry criterion in words that people check; the
# agreement page says which is which.
STAGE_ENTRY_CHECKS: dict[str, StrOrPromise] = {
    StageKey.MQL: _lazy(
        "Score at or above the threshold with every must rule passing (a recycled lead: "
        "after its rest period, on engagement since its rejection), or a marketing "
        "manager's override with a written reason."
    ),
    StageKey.SAL: _lazy("Accepted by the lead's owner or a sales manager."),
    StageKey.OPPORTUNITY: _lazy("The lead has an open deal."),
    StageKey.WON: _lazy("The lead has a won deal (closing a deal as won moves it)."),
    StageKey.LOST: _lazy("No deal of the lead is open; an agreed lost reason."),
    StageKey.RECYCLED: _lazy(
        "From an MQL: rejected by sales with an agreed reason (the lead then rests)."
    ),
    StageKey.DISQUALIFIED: _lazy("An agreed disqualification reason."),
}


def agreement_contact_in_words(*, agreement: Agreement) -> list[tuple[str, list[str]]]:
    """The agreement's contact definition as the page shows it: for each follow-up kind,
    the outcomes that count as contact (and so stop the SLA clock)."""
    outcomes = dict(FollowUpOutcome.choices)
    rules = agreement.contact_outcomes or {}
    return [
        (str(label), [str(outcomes[o]) for o in rules.get(kind, []) if o in outcomes])
        for kind, label in FollowUpKind.choices
    ]


def agreement_active() -> Agreement | None:
    return _with_contents(Agreement.objects.filter(status=AgreementStatus.ACTIVE)).first()


def agreement_in_force(*, at: datetime) -> Agreement | None:
    """The version that was active just before `at`: the last one activated before it
    (activating a version supersedes the one before in the same moment). Past weeks are
    judged by the rules of their time.

    Before the first activation the teams had no other rulebook, so the first version
    activated stands in (records imported from before the installation). None when no
    version has ever been active.
    """
    pk = agreement_in_force_id(at=at)
    return None if pk is None else _with_contents(Agreement.objects.filter(pk=pk)).first()


def agreement_in_force_id(*, at: datetime) -> int | None:
    """The id of agreement_in_force(at=at), from the versions' activations cached in the
    process until an agreement changes: one list whatever the moments asked about."""
    activations = memo(AGREEMENT_GENERATION, "activations", _activations)
    if not activations:
        return None
    before = [pk for activated_at, pk in activations if activated_at < at]
    return before[-1] if before else activations[0][1]


def _activations() -> list[tuple[datetime, int]]:
    """Every version ever activated, (activated at, id), in activation order."""
    activated = Agreement.objects.filter(activated_at__isnull=False)
    rows = activated.order_by("activated_at", "version").values_list("activated_at", "pk")
    return [(activated_at, pk) for activated_at, pk in rows if activated_at is not None]


@dataclass(frozen=True)
class Funnel:
    """The agreed funnel of one agreement version, ready for the stage service."""

    agreement: Agreement
    stages: dict[str, FunnelStage]
    transitions: dict[str, frozenset[str]]
    reason_codes: dict[str, dict[str, str]]  # kind -> code -> label
    rules: tuple[QualificationRule, ...] = ()

    def allows(self, from_stage: str, to_stage: str) -> bool:
        return to_stage in self.transitions.get(from_stage, frozenset())

    def sla_hours(self, stage: str) -> int | None:
        spec = self.stages.get(stage)
        return spec.sla_hours if spec else None


def funnel_for(*, agreement: Agreement) -> Funnel:
    stages = {
        stage.key: stage
        for stage in FunnelStage.objects.filter(agreement=agreement).prefetch_related("next_stages")
    }
    transitions = {
        key: frozenset(n.key for n in stage.next_stages.all()) for key, stage in stages.items()
    }
    codes: dict[str, dict[str, str]] = {kind: {} for kind in ReasonKind.values}
    for code in agreement.reason_codes.all():
        codes[code.kind][code.code] = localized(code, "label")
    return Funnel(
        agreement=agreement,
        stages=stages,
        transitions=transitions,
        reason_codes=codes,
        rules=tuple(agreement.rules.all()),
    )


class NoActiveAgreement(NotConfigured):
    """No agreement version is active, so no lead can be created, scored or moved."""


# The active agreement's funnel is read on every create, move and score: cached in each
# process (config.generations) until an agreement, its stages, rules or reason codes change.
AGREEMENT_GENERATION = "agreement"


def _funnel_active_load() -> Funnel | None:
    agreement = Agreement.objects.filter(status=AgreementStatus.ACTIVE).first()
    return funnel_for(agreement=agreement) if agreement is not None else None


def funnel_active() -> Funnel:
    """The active agreement's funnel; NoActiveAgreement (a LookupError) when none is."""
    funnel = memo(AGREEMENT_GENERATION, ("active", get_language()), _funnel_active_load)
    if funnel is None:
        raise NoActiveAgreement(
            _(
                "No agreement is active, so leads can be neither created nor moved. An "
                "administrator activates one (`python manage.py install_agreement` installs "
                "the default)."
            )
        )
    return funnel


def reason_kind_for(*, from_stage: str, to_stage: str) -> str | None:
    """Which reason codes a transition needs: rejecting an MQL, losing, disqualifying."""
    if to_stage == StageKey.LOST:
        return ReasonKind.LOST
    if to_stage == StageKey.DISQUALIFIED:
        return ReasonKind.DISQUALIFIED
    if from_stage == StageKey.MQL and to_stage == StageKey.RECYCLED:
        return ReasonKind.REJECTION
    return None


def _rule_field(name: str) -> tuple[str, dict]:
    """A rule's lead field in the reader's language, and its choice labels by key."""

    if name.startswith("custom."):
        return _("custom field %(name)s") % {"name": name.removeprefix("custom.")}, {}
    try:
        field = Lead._meta.get_field(name)
    except FieldDoesNotExist:
        return name.replace("_", " "), {}
    return str(getattr(field, "verbose_name", name)), dict(getattr(field, "choices", None) or [])


def rule_in_words(rule: QualificationRule) -> str:
    """A rule as a sentence both teams can read, e.g. "company size is at least 50: +20"."""
    if rule.kind == RuleKind.ENGAGEMENT:
        kind = dict(TouchKind.choices).get(rule.touch_kind, rule.touch_kind)
        return ngettext(
            "each “%(kind)s” touch: +%(points)s points, halving every %(days)s day",
            "each “%(kind)s” touch: +%(points)s points, halving every %(days)s days",
            rule.half_life_days or 0,
        ) % {
            "kind": kind,
            "points": rule.points,
            "days": rule.half_life_days,
        }
    field, choices = _rule_field(rule.field)
    operator = RuleOperator(rule.operator).label if rule.operator in RuleOperator.values else ""
    if rule.operator == RuleOperator.EXISTS:
        test = f"{field} {operator}"
    else:
        value = rule.value
        values = value if isinstance(value, list) else [value]
        shown = ", ".join(str(choices.get(v, v)) for v in values)
        test = f"{field} {operator} {shown}"
    if rule.kind == RuleKind.MUST:
        return _("must: %(test)s") % {"test": test}
    return _("%(test)s: %(sign)s%(points)s points") % {
        "test": test,
        "sign": "+" if rule.points >= 0 else "",
        "points": rule.points,
    }


def agreement_versions() -> list[Agreement]:
    """Every version, newest first, with signatures (for the history table)."""
    return list(Agreement.objects.order_by("-version").prefetch_related("signatures__signed_by"))


def agreement_detail(*, pk: int) -> Agreement | None:
    return (
        Agreement.objects.filter(pk=pk)
        .prefetch_related(
            Prefetch("stages", queryset=FunnelStage.objects.prefetch_related("next_stages")),
            "rules",
            "reason_codes",
            "signatures__signed_by",
        )
        .first()
    )


@dataclass(frozen=True)
class ScoreComponent:
    """One component of the alignment score (DESIGN.md "Alignment score"): a share 0–1,
    higher is better, weighted by the agreement."""

    key: str  # as Agreement.weights() and every scorecard key it
    weight_field: str  # the Agreement field that holds its weight
    default_weight: int
    label: Any  # lazy: the scorecard, the pack, the dashboard, the agreement and its form
    metric: str  # the common metric it reads (the plan's MQL→won rate is the yardstick)


# The alignment-score components, in the order every page lists them: the one list.
SCORE_COMPONENTS: tuple[ScoreComponent, ...] = (
    ScoreComponent(
        "sla_compliance", "weight_sla_compliance", 25, _lazy("SLA compliance"), "sla_compliance"
    ),
    ScoreComponent(
        "acceptance_rate",
        "weight_acceptance_rate",
        20,
        _lazy("Acceptance rate"),
        "acceptance_rate",
    ),
    ScoreComponent(
        "mql_to_won_vs_plan",
        "weight_conversion",
        20,
        _lazy("MQL→won conversion against plan (capped at 1)"),
        "stage_conversion[mql→won]",
    ),
    ScoreComponent(
        "target_attainment",
        "weight_target_attainment",
        15,
        _lazy("Revenue target attainment (capped at 1)"),
        "target_attainment",
    ),
    ScoreComponent(
        "intel_ack_within_5d",
        "weight_intel_ack",
        10,
        _lazy("Intel acknowledged within 5 days"),
        "intel_ack_within_5d",
    ),
    ScoreComponent(
        "disputes_resolved_within_5d",
        "weight_disputes_resolved",
        10,
        _lazy("Disputes resolved within 5 days"),
        "disputes_resolved_within_5d",
    ),
)
COMPONENT_LABELS: dict[str, Any] = {c.key: c.label for c in SCORE_COMPONENTS}
DEFAULT_WEIGHTS: dict[str, int] = {c.key: c.default_weight for c in SCORE_COMPONENTS}
WEIGHT_FIELDS: list[str] = [c.weight_field for c in SCORE_COMPONENTS]
# The agreement's hand-off times (alignment.handoffs), as its editor and page show them.
HANDOFF_FIELDS: list[str] = [
    "intel_ack_days",
    "briefing_ack_days",
    "dispute_resolution_days",
    "handoff_reminder_hours",
    "follow_up_grace_hours",
]


def agreement_weights_labelled(*, agreement: Agreement) -> list[tuple[str, int]]:
    """The alignment-score weights with readable names, in SCORE_COMPONENTS' order."""
    return [(str(c.label), getattr(agreement, c.weight_field)) for c in SCORE_COMPONENTS]
