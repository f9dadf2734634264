"""Writes of the alignment app: the agreement, its default version, housekeeping."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Model
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, user_has_role
from alignment.agreement import defaults
from alignment.agreement.events import AgreementActivated
from alignment.agreement.scoring import CUSTOM_FIELD, SCORABLE_FIELDS
from alignment.agreement.selectors import (
    HANDOFF_FIELDS,
    TRANSLATED_FIELDS,
    WEIGHT_FIELDS,
    rule_in_words,
    translation_languages,
)
from alignment.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    FunnelStage,
    IdempotencyKey,
    QualificationRule,
    ReasonCode,
    ReasonKind,
    RuleKind,
    RuleOperator,
    Team,
)
from campaigns.models import TouchKind
from config.events import publish

logger = logging.getLogger(__name__)


@transaction.atomic
def agreement_create_default(*, title: str = "") -> Agreement:
    """Install the default agreement as the active version when none exists yet.

    Used on a fresh installation (there is nobody to sign yet). Running it twice
    returns the active version and creates nothing. Its texts are written in the
    deployment's language (LANGUAGE_CODE), whoever runs the installation.
    """
    active = Agreement.objects.filter(status=AgreementStatus.ACTIVE).first()
    if active is not None:
        return active
    return defaults.install(django_apps, title=title)


@transaction.atomic
def agreement_default_propose(*, user: Any, title: str = "") -> Agreement:
    """The default agreement as a proposal for both managers to sign (agreement_sign).

    How an installation with people in it starts (the demo): the version comes into force
    by the two signatures, as every later one does. Each call makes a new proposal.
    """
    _require_role(
        user,
        (*CRITERIA_ROLES, *MANAGER_ROLES),
        _("Only marketers and managers may propose an agreement."),
    )
    return defaults.install(django_apps, title=title, proposed=True)


def idempotency_keys_purge(*, older_than: timedelta = timedelta(hours=48)) -> int:
    """Delete replay records past their retention; safe to run any number of times."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


# --- the lifecycle: draft → proposed → active → superseded -------------------------------

CRITERIA_ROLES = (Role.MARKETER, Role.MARKETING_MANAGER)
MANAGER_ROLES = (Role.SALES_MANAGER, Role.MARKETING_MANAGER)
STAGE_EDITABLE_FIELDS = ["name", "owner_team", "sla_hours", "entry_criteria", "exit_criteria"]
RULE_FIELDS = ["kind", "field", "operator", "value", "touch_kind", "half_life_days", "points"]


def _require_role(user: Any, roles: tuple[str, ...], message: str) -> None:
    if not (user is not None and (user.is_superuser or user_has_role(user, *roles))):
        raise PermissionDenied(message)


def _require_draft(agreement: Agreement) -> None:
    if agreement.status != AgreementStatus.DRAFT:
        raise ValidationError(
            _("Only a draft can be changed; version %(v)s is %(status)s.")
            % {"v": agreement.version, "status": agreement.get_status_display()}
        )


def agreement_can_edit_criteria(*, user: Any) -> bool:
    return bool(user and (user.is_superuser or user_has_role(user, *CRITERIA_ROLES)))


def agreement_can_edit_funnel(*, user: Any) -> bool:
    return bool(user and (user.is_superuser or user_has_role(user, *MANAGER_ROLES)))


def agreement_sign_team(*, user: Any) -> str | None:
    """The team a user signs for: sales managers for sales, marketing managers for marketing."""
    if user is None or not user.is_authenticated:
        return None
    if user_has_role(user, Role.SALES_MANAGER) and user.has_perm("alignment.sign_for_sales"):
        return Team.SALES
    if user_has_role(user, Role.MARKETING_MANAGER) and user.has_perm(
        "alignment.sign_for_marketing"
    ):
        return Team.MARKETING
    return None


@transaction.atomic
def agreement_draft_create(
    *, user: Any, base: Agreement | None = None, title: str = ""
) -> Agreement:
    """A new draft: a full copy of `base` (default: the active version).

    Copies stages, transitions, reason codes, rules, threshold and weights, so the
    draft starts as the agreement in force. Each call makes a new draft.
    """
    _require_role(
        user,
        (*CRITERIA_ROLES, *MANAGER_ROLES),
        _("Only marketers and managers may draft an agreement."),
    )
    if base is None:
        base = Agreement.objects.filter(status=AgreementStatus.ACTIVE).first()
    if base is None:
        raise ValidationError(_("There is no agreement to start a draft from."))
    copied = {
        name: getattr(base, name)
        for name in [
            "mql_threshold",
            *WEIGHT_FIELDS,
            "acceptance_floor",
            "readiness_threshold",
            *HANDOFF_FIELDS,
            "business_hours",
            "contact_outcomes",
            "notes",
        ]
    }
    # Versions are numbered by creation; two drafts started at once collide on the
    # unique version, and the later one takes the next number.
    for attempt in range(5):
        version = (Agreement.objects.aggregate(m=Max("version"))["m"] or 0) + 1 + attempt
        try:
            with transaction.atomic():
                draft = Agreement.objects.create(
                    version=version,
                    title=title or base.title,
                    status=AgreementStatus.DRAFT,
                    based_on=base,
                    created_by=user,
                    **copied,
                )
            break
        except IntegrityError:
            continue
    else:
        raise ValidationError(_("Could not number the new draft; please try again."))
    old_stages = list(base.stages.prefetch_related("next_stages"))
    new_stages = {
        stage.key: FunnelStage.objects.create(
            agreement=draft,
            key=stage.key,
            name=stage.name,
            order=stage.order,
            owner_team=stage.owner_team,
            sla_hours=stage.sla_hours,
            entry_criteria=stage.entry_criteria,
            exit_criteria=stage.exit_criteria,
            win_probability=stage.win_probability,
            translations=stage.translations,
        )
        for stage in old_stages
    }
    for stage in old_stages:
        new_stages[stage.key].next_stages.set([new_stages[n.key] for n in stage.next_stages.all()])
    ReasonCode.objects.bulk_create(
        ReasonCode(
            agreement=draft,
            kind=c.kind,
            code=c.code,
            label=c.label,
            rest_days=c.rest_days,
            translations=c.translations,
        )
        for c in base.reason_codes.all()
    )
    QualificationRule.objects.bulk_create(
        QualificationRule(
            agreement=draft,
            description=r.description,
            translations=r.translations,
            **{name: getattr(r, name) for name in RULE_FIELDS},
        )
        for r in base.rules.all()
    )
    return draft


def _translations_clean(
    model: type[Model], current: dict[str, Any] | None, given: Any
) -> dict[str, dict[str, str]]:
    """`current` translations with those `given` ({language: {field: text}}) written over
    them: only offered languages other than the deployment's and the model's translated
    texts; an empty text removes a translation (the reader then sees the base text)."""
    fields = TRANSLATED_FIELDS[model]
    languages = [code for code, _name in translation_languages()]
    result = {
        lang: {f: str(t) for f, t in texts.items() if f in fields and t}
        for lang, texts in (current or {}).items()
        if lang in languages and isinstance(texts, dict)
    }
    for lang, texts in (given or {}).items():
        if lang not in languages or not isinstance(texts, dict):
            continue
        for field, text in texts.items():
            if field not in fields:
                continue
            limit = getattr(model._meta.get_field(field), "max_length", None)
            cleaned = str(text or "").strip()[:limit]
            if cleaned:
                result.setdefault(lang, {})[field] = cleaned
            else:
                result.get(lang, {}).pop(field, None)
    return {lang: texts for lang, texts in result.items() if texts}


def _rule_clean(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a rule's fields; raise ValidationError with field errors."""
    errors: dict[str, list[str]] = {}
    kind = data.get("kind")
    if kind not in RuleKind.values:
        errors["kind"] = [_("Choose fit, must or engagement.")]
    clean: dict[str, Any] = {
        "kind": kind,
        "field": "",
        "operator": "",
        "value": None,
        "touch_kind": "",
        "half_life_days": None,
        "points": 0,
        "description": (data.get("description") or "").strip()[:200],
        "translations": _translations_clean(QualificationRule, {}, data.get("translations")),
    }
    if kind in (RuleKind.FIT, RuleKind.MUST):
        field = (data.get("field") or "").strip()
        if field not in SCORABLE_FIELDS and not CUSTOM_FIELD.fullmatch(field):
            errors["field"] = [
                _("Choose a lead field (%(fields)s) or custom.<key> (letters, digits, _ and -).")
                % {"fields": ", ".join(SCORABLE_FIELDS)}
            ]
        operator = data.get("operator") or ""
        if operator not in RuleOperator.values:
            errors["operator"] = [_("Choose an operator.")]
        value: Any = data.get("value")
        if operator in (RuleOperator.IN, RuleOperator.NOT_IN) and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if operator in (RuleOperator.GTE, RuleOperator.LTE):
            try:
                value = float(value) if "." in str(value) else int(value)
            except (TypeError, ValueError):
                errors["value"] = [_("Enter a number for this operator.")]
        if operator == RuleOperator.EXISTS:
            value = None
        elif value in (None, "", []) and "value" not in errors:
            errors["value"] = [_("Enter the value to compare with.")]
        clean.update(field=field, operator=operator, value=value)
    if kind == RuleKind.ENGAGEMENT:
        if data.get("touch_kind") not in TouchKind.values:
            errors["touch_kind"] = [_("Choose a touch kind.")]
        try:
            half_life = int(data.get("half_life_days", ""))
            if half_life <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors["half_life_days"] = [_("Enter a half-life of at least one day.")]
            half_life = None
        clean.update(touch_kind=data.get("touch_kind") or "", half_life_days=half_life)
    if kind in (RuleKind.FIT, RuleKind.ENGAGEMENT):
        try:
            clean["points"] = int(data.get("points", ""))
        except (TypeError, ValueError):
            errors["points"] = [_("Enter whole points.")]
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def agreement_rule_add(*, agreement: Agreement, user: Any, data: dict[str, Any]) -> Any:
    _require_role(user, CRITERIA_ROLES, _("Only marketers write qualification criteria."))
    _require_draft(agreement)
    return QualificationRule.objects.create(agreement=agreement, **_rule_clean(data))


@transaction.atomic
def agreement_rule_delete(*, agreement: Agreement, user: Any, rule_id: int) -> None:
    _require_role(user, CRITERIA_ROLES, _("Only marketers write qualification criteria."))
    _require_draft(agreement)
    QualificationRule.objects.filter(agreement=agreement, pk=rule_id).delete()


@transaction.atomic
def agreement_threshold_set(*, agreement: Agreement, user: Any, threshold: Any) -> Agreement:
    _require_role(user, CRITERIA_ROLES, _("Only marketers write qualification criteria."))
    _require_draft(agreement)
    try:
        value = int(threshold)
        if value < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationError(
            {"mql_threshold": [_("Enter a whole number of points, 0 or more.")]}
        ) from None
    agreement.mql_threshold = value
    agreement.save(update_fields=["mql_threshold"])
    return agreement


@transaction.atomic
def agreement_stage_update(
    *, agreement: Agreement, user: Any, key: str, data: dict[str, Any]
) -> FunnelStage:
    """Change one stage's name, owner, SLA, criteria, their translations ({language:
    {field: text}}) or (with `next`) its allowed moves."""
    _require_role(user, MANAGER_ROLES, _("Only managers change stages and SLAs."))
    _require_draft(agreement)
    stage = FunnelStage.objects.filter(agreement=agreement, key=key).first()
    if stage is None:
        raise ValidationError({"key": [_("This draft has no stage %(key)s.") % {"key": key}]})
    errors: dict[str, list[str]] = {}
    for name in STAGE_EDITABLE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "sla_hours":
            if value in (None, ""):
                value = None
            else:
                try:
                    value = int(value)
                    if value <= 0:
                        raise ValueError
                except (TypeError, ValueError):
                    errors["sla_hours"] = [_("Enter whole hours above 0, or leave it empty.")]
                    continue
        if name == "owner_team" and value not in Team.values:
            errors["owner_team"] = [_("Choose marketing or sales.")]
            continue
        if name == "name" and not str(value).strip():
            errors["name"] = [_("A stage needs a name.")]
            continue
        setattr(stage, name, value)
    if "translations" in data:
        stage.translations = _translations_clean(
            FunnelStage, stage.translations, data["translations"]
        )
    if "next" in data:
        keys = [k for k in data["next"] if k]
        targets = list(FunnelStage.objects.filter(agreement=agreement, key__in=keys))
        if len(targets) != len(set(keys)) or key in keys:
            errors["next"] = [_("Choose other stages of this draft.")]
        else:
            stage.next_stages.set(targets)
    if errors:
        raise ValidationError(errors)
    stage.save()
    return stage


@transaction.atomic
def agreement_weights_set(*, agreement: Agreement, user: Any, weights: dict[str, Any]) -> Agreement:
    _require_role(user, MANAGER_ROLES, _("Only managers change the alignment-score weights."))
    _require_draft(agreement)
    errors: dict[str, list[str]] = {}
    for name in WEIGHT_FIELDS:
        if name not in weights:
            continue
        try:
            value = int(weights[name])
            if not 0 <= value <= 100:
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = [_("Enter a whole number from 0 to 100.")]
            continue
        setattr(agreement, name, value)
    if errors:
        raise ValidationError(errors)
    if not any(getattr(agreement, n) for n in WEIGHT_FIELDS):
        raise ValidationError({WEIGHT_FIELDS[0]: [_("At least one weight must be above 0.")]})
    agreement.save(update_fields=WEIGHT_FIELDS)
    return agreement


@transaction.atomic
def agreement_handoff_times_set(
    *, agreement: Agreement, user: Any, times: dict[str, Any]
) -> Agreement:
    """Managers set when hand-offs are due, reminded and escalated (the model's bounds)."""
    _require_role(user, MANAGER_ROLES, _("Only managers change the hand-off times."))
    _require_draft(agreement)
    for name in HANDOFF_FIELDS:
        if name in times:
            setattr(agreement, name, times[name])
    try:
        agreement.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise ValidationError(
            {k: v for k, v in error.message_dict.items() if k in HANDOFF_FIELDS} or error.messages
        ) from error
    agreement.save(update_fields=HANDOFF_FIELDS)
    return agreement


@transaction.atomic
def agreement_reason_code_add(
    *,
    agreement: Agreement,
    user: Any,
    kind: str,
    code: str,
    label: str,
    translations: dict[str, dict[str, str]] | None = None,
) -> ReasonCode:
    _require_role(user, MANAGER_ROLES, _("Only managers change reason codes."))
    _require_draft(agreement)
    errors: dict[str, list[str]] = {}
    if kind not in ReasonKind.values:
        errors["kind"] = [_("Choose rejection, lost or disqualified.")]
    slug = slugify(code or label)[:40]
    if not slug:
        errors["code"] = [_("Enter a code.")]
    if not (label or "").strip():
        errors["label"] = [_("Enter a label.")]
    if not errors and ReasonCode.objects.filter(agreement=agreement, kind=kind, code=slug).exists():
        errors["code"] = [_("This code already exists for this kind.")]
    if errors:
        raise ValidationError(errors)
    return ReasonCode.objects.create(
        agreement=agreement,
        kind=kind,
        code=slug,
        label=label.strip()[:120],
        translations=_translations_clean(ReasonCode, {}, translations),
    )


@transaction.atomic
def agreement_reason_code_delete(*, agreement: Agreement, user: Any, code_id: int) -> None:
    _require_role(user, MANAGER_ROLES, _("Only managers change reason codes."))
    _require_draft(agreement)
    ReasonCode.objects.filter(agreement=agreement, pk=code_id).delete()


@transaction.atomic
def agreement_propose(*, agreement: Agreement, user: Any) -> Agreement:
    """Freeze a draft so the managers can sign it; proposing twice changes nothing."""
    _require_role(
        user,
        (*CRITERIA_ROLES, *MANAGER_ROLES),
        _("Only marketers and managers may propose an agreement."),
    )
    locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if locked.status == AgreementStatus.PROPOSED:
        return locked
    _require_draft(locked)
    if not locked.stages.exists():
        raise ValidationError(_("A proposal needs funnel stages."))
    locked.status = AgreementStatus.PROPOSED
    locked.proposed_at = timezone.now()
    locked.save(update_fields=["status", "proposed_at"])
    agreement.status, agreement.proposed_at = locked.status, locked.proposed_at
    return locked


@dataclass(frozen=True)
class SignResult:
    agreement: Agreement
    signature: AgreementSignature
    activated: bool
    superseded: Agreement | None = None


def agreement_sign(*, agreement: Agreement, user: Any) -> SignResult:
    """A manager signs a proposal for their own team, once.

    When both teams have signed, the proposal becomes active and the previous active
    version superseded, in the same transaction; after the commit every lead is rescored
    under the new version (set-based). Two final signatures at the same instant on two
    proposals both lock the active row first, so they run one after the other: the
    second supersedes the version the first just activated, leaving exactly one active
    version (the partial unique index `agreement_one_active` enforces it as well).
    Signing twice for one team is refused; a non-manager gets PermissionDenied.
    """
    team = agreement_sign_team(user=user)
    if team is None:
        raise PermissionDenied(_("Only a sales or marketing manager may sign the agreement."))
    with transaction.atomic():
        # Lock order: the active row (the one two activations would both change), then
        # the proposal. Every signer takes the same order, so there is no deadlock.
        current = _active_locked()
        locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if locked.status != AgreementStatus.PROPOSED:
            raise ValidationError(
                _("Only a proposed version can be signed; version %(v)s is %(status)s.")
                % {"v": locked.version, "status": locked.get_status_display()}
            )
        if AgreementSignature.objects.filter(agreement=locked, team=team).exists():
            raise ValidationError(
                _("%(team)s has already signed version %(v)s.")
                % {"team": Team(team).label, "v": locked.version}
            )
        now = timezone.now()
        signature = AgreementSignature.objects.create(
            agreement=locked, team=team, signed_by=user, signed_at=now
        )
        signed = set(
            AgreementSignature.objects.filter(agreement=locked).values_list("team", flat=True)
        )
        activated = signed >= {Team.SALES, Team.MARKETING}
        if activated:
            if current is not None:
                current.status = AgreementStatus.SUPERSEDED
                current.superseded_at = now
                current.save(update_fields=["status", "superseded_at"])
            locked.status = AgreementStatus.ACTIVE
            locked.activated_at = now
            try:
                with transaction.atomic():
                    locked.save(update_fields=["status", "activated_at"])
            except IntegrityError:
                # Only possible when no version was active to lock (a fresh install):
                # the partial unique index let the other signature win.
                raise ValidationError(
                    _("Another version became active at the same moment; please try again.")
                ) from None
            publish(AgreementActivated(agreement_id=locked.pk))
    agreement.status, agreement.activated_at = locked.status, locked.activated_at
    return SignResult(
        agreement=locked,
        signature=signature,
        activated=activated,
        superseded=current if activated else None,
    )


def _active_locked() -> Agreement | None:
    """Lock the active version's row, following it if it changed while we waited.

    Under READ COMMITTED a waiting `SELECT ... FOR UPDATE WHERE status = 'active'`
    returns nothing when the row it waited for was superseded meanwhile; a fresh
    statement then sees the version that became active, which we lock in turn.
    """
    for _attempt in range(10):
        current = (
            Agreement.objects.select_for_update().filter(status=AgreementStatus.ACTIVE).first()
        )
        if (
            current is not None
            or not Agreement.objects.filter(status=AgreementStatus.ACTIVE).exists()
        ):
            return current
    raise ValidationError(_("The agreement is changing right now; please try again."))


# --- comparing two versions ---------------------------------------------------------------


@dataclass
class DiffSection:
    title: str
    changes: list[str]


def _rule_identity(rule: QualificationRule) -> tuple:
    if rule.kind == RuleKind.ENGAGEMENT:
        return (rule.kind, rule.touch_kind)
    return (rule.kind, rule.field, rule.operator, repr(rule.value))


def agreement_diff(*, a: Agreement, b: Agreement) -> list[DiffSection]:
    """What changes from version `a` to version `b`, in words, section by section.

    Sections: threshold, stages (name, owner, SLA, criteria), transitions, criteria,
    weights, reason codes. A section with no change is left out.
    """

    sections: list[DiffSection] = []

    def stage_map(agreement: Agreement) -> dict[str, FunnelStage]:
        return {s.key: s for s in agreement.stages.prefetch_related("next_stages")}

    sa, sb = stage_map(a), stage_map(b)
    changes: list[str] = []
    for key in sorted(sa.keys() - sb.keys()):
        changes.append(_("Stage %(key)s removed.") % {"key": key})
    for key in sorted(sb.keys() - sa.keys()):
        changes.append(_("Stage %(key)s added.") % {"key": key})
    for key in [k for k in sb if k in sa]:
        old, new = sa[key], sb[key]
        if old.sla_hours != new.sla_hours:
            changes.append(
                _("%(key)s: SLA %(old)s → %(new)s hours.")
                % {"key": key, "old": old.sla_hours or "—", "new": new.sla_hours or "—"}
            )
        if old.owner_team != new.owner_team:
            changes.append(
                _("%(key)s: owner %(old)s → %(new)s.")
                % {
                    "key": key,
                    "old": old.get_owner_team_display(),
                    "new": new.get_owner_team_display(),
                }
            )
        for name, label in (
            ("name", _("name")),
            ("entry_criteria", _("entry criteria")),
            ("exit_criteria", _("exit criteria")),
        ):
            if getattr(old, name) != getattr(new, name):
                changes.append(
                    _("%(key)s: %(what)s “%(old)s” → “%(new)s”.")
                    % {
                        "key": key,
                        "what": label,
                        "old": getattr(old, name),
                        "new": getattr(new, name),
                    }
                )
    if changes:
        sections.append(DiffSection(_("Stages and SLAs"), changes))

    changes = []
    for key in [k for k in sb if k in sa]:
        old_next = {n.key for n in sa[key].next_stages.all()}
        new_next = {n.key for n in sb[key].next_stages.all()}
        for added in sorted(new_next - old_next):
            changes.append(_("%(a)s → %(b)s now allowed.") % {"a": key, "b": added})
        for removed in sorted(old_next - new_next):
            changes.append(_("%(a)s → %(b)s no longer allowed.") % {"a": key, "b": removed})
    if changes:
        sections.append(DiffSection(_("Transitions"), changes))

    changes = []
    if a.mql_threshold != b.mql_threshold:
        changes.append(
            _("MQL threshold %(old)s → %(new)s points.")
            % {"old": a.mql_threshold, "new": b.mql_threshold}
        )
    ra = {_rule_identity(r): r for r in a.rules.all()}
    rb = {_rule_identity(r): r for r in b.rules.all()}
    for ident, rule in ra.items():
        if ident not in rb:
            changes.append(_("Removed: %(rule)s.") % {"rule": rule_in_words(rule)})
    for ident, rule in rb.items():
        if ident not in ra:
            changes.append(_("Added: %(rule)s.") % {"rule": rule_in_words(rule)})
        elif rule_in_words(ra[ident]) != rule_in_words(rule):
            changes.append(
                _("Changed: %(old)s → %(new)s.")
                % {"old": rule_in_words(ra[ident]), "new": rule_in_words(rule)}
            )
    if changes:
        sections.append(DiffSection(_("Qualification criteria"), changes))

    changes = [
        _("%(name)s weight %(old)s → %(new)s.")
        % {"name": name.replace("_", " "), "old": a.weights()[name], "new": weight}
        for name, weight in b.weights().items()
        if a.weights()[name] != weight
    ]
    if changes:
        sections.append(DiffSection(_("Alignment-score weights"), changes))

    ca = {(c.kind, c.code): c.label for c in a.reason_codes.all()}
    cb = {(c.kind, c.code): c.label for c in b.reason_codes.all()}
    changes = []
    for (kind, code), label in sorted(ca.items()):
        if (kind, code) not in cb:
            changes.append(
                _("Removed %(kind)s reason “%(label)s” (%(code)s).")
                % {"kind": ReasonKind(kind).label, "label": label, "code": code}
            )
    for (kind, code), label in sorted(cb.items()):
        if (kind, code) not in ca:
            changes.append(
                _("Added %(kind)s reason “%(label)s” (%(code)s).")
                % {"kind": ReasonKind(kind).label, "label": label, "code": code}
            )
        elif ca[(kind, code)] != label:
            changes.append(
                _("Relabelled %(code)s: “%(old)s” → “%(new)s”.")
                % {"code": code, "old": ca[(kind, code)], "new": label}
            )
    if changes:
        sections.append(DiffSection(_("Reason codes"), changes))
    return sections
