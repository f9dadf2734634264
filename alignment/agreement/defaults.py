"""The default agreement: the demand waterfall with owners, SLAs and starter criteria.

Its texts are written as in the code and installed in the deployment's language
(LANGUAGE_CODE); from then on they are the agreement's own, edited like any version.
`install` writes it; migration alignment 0008 runs it on a fresh database, so `migrate`
alone leaves a usable installation (agreement_create_default is the service's door).
"""

from __future__ import annotations

from typing import Any

from django.apps.registry import Apps
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from alignment.models import ReasonKind, RuleKind, StageKey, Team

MQL_THRESHOLD = 50

NOTES = gettext_noop(
    "The starting contract between marketing and sales: marketing passes on only leads "
    "that meet these criteria; sales answers every MQL within the SLA and says why it "
    "rejects one."
)
TITLE = gettext_noop("Default demand waterfall")

STAGES: list[dict] = [
    {
        "key": StageKey.INQUIRY,
        "name": gettext_noop("Inquiry"),
        "owner_team": Team.MARKETING,
        "sla_hours": None,
        "entry_criteria": gettext_noop(
            "A person has raised a hand: form fill, event scan, inbound email."
        ),
        "exit_criteria": gettext_noop(
            "Score reaches the MQL threshold and every must rule passes."
        ),
        "win_probability": "0",
    },
    {
        "key": StageKey.MQL,
        "name": gettext_noop("Marketing qualified lead"),
        "owner_team": Team.MARKETING,
        "sla_hours": 24,
        "entry_criteria": gettext_noop("Meets the agreed qualification criteria; routed to a rep."),
        "exit_criteria": gettext_noop(
            "The rep follows up and accepts or rejects it with a reason."
        ),
        "win_probability": "0.02",
    },
    {
        "key": StageKey.SAL,
        "name": gettext_noop("Sales accepted lead"),
        "owner_team": Team.SALES,
        "sla_hours": 72,
        "entry_criteria": gettext_noop("A rep has accepted the MQL and owns the next step."),
        "exit_criteria": gettext_noop("Discovery call held: need, budget and timing confirmed."),
        "win_probability": "0.05",
    },
    {
        "key": StageKey.SQL,
        "name": gettext_noop("Sales qualified lead"),
        "owner_team": Team.SALES,
        "sla_hours": 168,
        "entry_criteria": gettext_noop("Need, budget, authority and timing confirmed."),
        "exit_criteria": gettext_noop("A proposal or quote is being prepared."),
        "win_probability": "0.15",
    },
    {
        "key": StageKey.OPPORTUNITY,
        "name": gettext_noop("Opportunity"),
        "owner_team": Team.SALES,
        "sla_hours": 720,
        "entry_criteria": gettext_noop("A deal with an amount and expected close date exists."),
        "exit_criteria": gettext_noop("Contract signed (won) or the buyer says no (lost)."),
        "win_probability": "0.40",
    },
    {
        "key": StageKey.WON,
        "name": gettext_noop("Won"),
        "owner_team": Team.SALES,
        "sla_hours": None,
        "entry_criteria": gettext_noop("Contract signed."),
        "exit_criteria": "",
        "win_probability": "1",
    },
    {
        "key": StageKey.LOST,
        "name": gettext_noop("Lost"),
        "owner_team": Team.SALES,
        "sla_hours": None,
        "entry_criteria": gettext_noop("The buyer chose not to buy; a reason is recorded."),
        "exit_criteria": gettext_noop("May be recycled to marketing nurture later."),
        "win_probability": "0",
    },
    {
        "key": StageKey.RECYCLED,
        "name": gettext_noop("Recycled to nurture"),
        "owner_team": Team.MARKETING,
        "sla_hours": None,
        "entry_criteria": gettext_noop("Not ready now; sent back to marketing with a reason."),
        "exit_criteria": gettext_noop("Re-qualifies as an MQL."),
        "win_probability": "0",
    },
    {
        "key": StageKey.DISQUALIFIED,
        "name": gettext_noop("Disqualified"),
        "owner_team": Team.SALES,
        "sla_hours": None,
        "entry_criteria": gettext_noop(
            "Never a fit (student, competitor, spam); a reason is recorded."
        ),
        "exit_criteria": "",
        "win_probability": "0",
    },
]

TRANSITIONS: dict[str, list[str]] = {
    StageKey.INQUIRY: [StageKey.MQL, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    StageKey.MQL: [StageKey.SAL, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    StageKey.SAL: [StageKey.SQL, StageKey.RECYCLED, StageKey.DISQUALIFIED],
    StageKey.SQL: [StageKey.OPPORTUNITY, StageKey.RECYCLED, StageKey.DISQUALIFIED, StageKey.LOST],
    StageKey.OPPORTUNITY: [StageKey.WON, StageKey.LOST],
    StageKey.WON: [],
    StageKey.LOST: [StageKey.RECYCLED],
    StageKey.RECYCLED: [StageKey.MQL, StageKey.DISQUALIFIED],
    StageKey.DISQUALIFIED: [],
}

REASON_CODES: dict[str, list[tuple[str, str]]] = {
    ReasonKind.REJECTION: [
        ("no-budget", gettext_noop("No budget")),
        ("no-authority", gettext_noop("Not a decision maker")),
        ("bad-timing", gettext_noop("Not buying in the next 6 months")),
        ("wrong-fit", gettext_noop("Outside our ideal customer profile")),
        ("bad-contact-data", gettext_noop("Contact data wrong or unreachable")),
        ("existing-customer", gettext_noop("Already a customer")),
    ],
    ReasonKind.LOST: [
        ("price", gettext_noop("Price")),
        ("competitor", gettext_noop("Chose a competitor")),
        ("no-decision", gettext_noop("No decision / stalled")),
        ("product-gap", gettext_noop("Missing capability")),
        ("timing", gettext_noop("Timing")),
    ],
    ReasonKind.DISQUALIFIED: [
        ("spam", gettext_noop("Spam or fake")),
        ("student", gettext_noop("Student or job seeker")),
        ("competitor", gettext_noop("Works for a competitor")),
        ("duplicate", gettext_noop("Duplicate person")),
    ],
}

RULES: list[dict] = [
    {
        "kind": RuleKind.FIT,
        "field": "company_size",
        "operator": "gte",
        "value": 50,
        "points": 20,
        "description": gettext_noop("Company of 50+ employees"),
    },
    {
        "kind": RuleKind.FIT,
        "field": "title",
        "operator": "contains",
        "value": "head",
        "points": 15,
        "description": gettext_noop("Head-of title"),
    },
    {
        "kind": RuleKind.FIT,
        "field": "title",
        "operator": "contains",
        "value": "director",
        "points": 15,
        "description": gettext_noop("Director title"),
    },
    {
        "kind": RuleKind.FIT,
        "field": "source",
        "operator": "in",
        "value": ["referral", "event", "paid_search"],
        "points": 10,
        "description": gettext_noop("High-intent source"),
    },
    {
        "kind": RuleKind.MUST,
        "field": "company",
        "operator": "exists",
        "value": None,
        "points": 0,
        "description": gettext_noop("Company is known"),
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "demo_request",
        "half_life_days": 30,
        "points": 40,
        "description": gettext_noop("Requested a demo"),
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "pricing_visit",
        "half_life_days": 14,
        "points": 10,
        "description": gettext_noop("Visited pricing"),
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "webinar",
        "half_life_days": 30,
        "points": 10,
        "description": gettext_noop("Attended a webinar"),
    },
    {
        "kind": RuleKind.ENGAGEMENT,
        "touch_kind": "content_download",
        "half_life_days": 21,
        "points": 5,
        "description": gettext_noop("Downloaded content"),
    },
]


def _default_texts() -> list[str]:
    """Every text of the default agreement people read, as written in the code."""
    stage_texts = [spec[f] for spec in STAGES for f in ("name", "entry_criteria", "exit_criteria")]
    reason_texts = [label for codes in REASON_CODES.values() for _code, label in codes]
    return [t for t in [*stage_texts, *reason_texts, *(r["description"] for r in RULES)] if t]


def translate(apps: Apps, *, agreement_ids: list[int] | None = None) -> int:
    """Give the default agreement's texts their translations into every other offered
    language (from the message catalogs), wherever a stage, reason code or rule still
    carries one as written in the deployment's language and has no translation of its own.

    Edited texts are left to the people who edited them. Running it twice changes nothing
    more; returns how many rows it changed. A model without `translations` yet (an older
    migration's) is skipped.
    """
    base_language = settings.LANGUAGE_CODE
    others = [code for code, _name in settings.LANGUAGES if code != base_language]
    known: dict[str, dict[str, str]] = {}
    for text in _default_texts():
        with translation.override(base_language):
            written = translation.gettext(text)
        by_language = {}
        for language in others:
            with translation.override(language):
                by_language[language] = translation.gettext(text)
        known[written] = by_language
    changed = 0
    for model_name, fields in (
        ("FunnelStage", ("name", "entry_criteria", "exit_criteria")),
        ("ReasonCode", ("label",)),
        ("QualificationRule", ("description",)),
    ):
        model = apps.get_model("alignment", model_name)
        if "translations" not in {f.name for f in model._meta.concrete_fields}:
            continue
        rows = model.objects.all()
        if agreement_ids is not None:
            rows = rows.filter(agreement_id__in=agreement_ids)
        for row in rows:
            translations = {lang: dict(texts) for lang, texts in (row.translations or {}).items()}
            for field in fields:
                for language, text in known.get(getattr(row, field), {}).items():
                    translations.setdefault(language, {}).setdefault(field, text)
            if translations != (row.translations or {}):
                row.translations = translations
                row.save(update_fields=["translations"])
                changed += 1
    return changed


def install(apps: Apps, *, title: str = "", proposed: bool = False) -> Any:
    """Create the default agreement as the active version, with the models of `apps`;
    `proposed`: as a proposal for both managers to sign instead (nothing becomes active).

    `apps` is Django's live registry (the service) or a migration's historical one (a
    data migration must not use today's models). The caller makes sure no version is
    active. Texts are translated into LANGUAGE_CODE, whoever runs it. A key of the
    specs above that the models do not have yet (a field added by a later migration) is
    left to the migration that adds the field.
    """
    agreement_model = apps.get_model("alignment", "Agreement")
    stage_model = apps.get_model("alignment", "FunnelStage")
    reason_model = apps.get_model("alignment", "ReasonCode")
    rule_model = apps.get_model("alignment", "QualificationRule")

    def text(value: str) -> str:
        return translation.gettext(value) if value else value

    def known(model: Any, spec: dict) -> dict:
        names = {field.name for field in model._meta.concrete_fields}
        return {key: value for key, value in spec.items() if key in names}

    version = (
        agreement_model.objects.order_by("-version").values_list("version", flat=True).first() or 0
    ) + 1
    with translation.override(settings.LANGUAGE_CODE):
        agreement = agreement_model.objects.create(
            version=version,
            title=title or text(TITLE),
            notes=text(NOTES),
            **(
                {"status": "proposed", "proposed_at": timezone.now()}
                if proposed
                else {"status": "active", "activated_at": timezone.now()}
            ),
            mql_threshold=MQL_THRESHOLD,
        )
        written = ("name", "entry_criteria", "exit_criteria")
        stages = {
            spec["key"]: stage_model.objects.create(
                agreement=agreement,
                order=order,
                **known(stage_model, {**spec, **{field: text(spec[field]) for field in written}}),
            )
            for order, spec in enumerate(STAGES, start=1)
        }
        for key, next_keys in TRANSITIONS.items():
            stages[key].next_stages.set([stages[k] for k in next_keys])
        reason_model.objects.bulk_create(
            reason_model(agreement=agreement, kind=kind, code=code, label=text(label))
            for kind, codes in REASON_CODES.items()
            for code, label in codes
        )
        rule_model.objects.bulk_create(
            rule_model(
                agreement=agreement,
                **known(rule_model, {**rule, "description": text(rule["description"])}),
            )
            for rule in RULES
        )
    translate(apps, agreement_ids=[agreement.pk])
    return agreement
