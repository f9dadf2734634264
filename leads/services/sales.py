"""The sales side: claiming and reassigning leads, follow-ups, the SLA clock's
consequences (breaches and credits) and deals.

Pages, the API and the Celery beat job all call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, user_has_role
from alignment.agreement.selectors import Funnel, funnel_active
from alignment.models import ReasonKind, StageKey
from config.dates import history_moment_check, planned_date_check
from config.stored_text import DEAL_CLOSED, DEAL_OPENED, stored_text
from leads.models import (
    Deal,
    DealOutcome,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    SlaBreach,
    StageEvent,
)
from leads.selectors import OPEN_STAGES
from leads.services.lifecycle import LeadConflict, lead_transition
from metrics.models import Territory


def dates_collect(errors: dict[str, list[str]], check: Any, value: Any, field: str) -> None:
    """Collect config.dates' verdict on one date into a service's field errors."""
    try:
        check(value, field=field)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.message_dict[field])


def follow_up_is_contact(*, agreement: Any, kind: str, outcome: str) -> bool:
    """Whether a follow-up is a contact with the buyer as the agreement defines it (it
    stops the SLA clock and earns credit); anything else is an attempt, shown as effort."""
    return outcome in (agreement.contact_outcomes or {}).get(kind, [])


# A follow-up may be logged a little ahead of the server clock (a phone's clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)

SLA_BREACHED = "sla.breached"


# --- who may do what -----------------------------------------------------------------------


def user_is_sales_manager(user: AbstractBaseUser) -> bool:
    return bool(user.is_superuser or user_has_role(user, Role.SALES_MANAGER))


def lead_can_work(*, user: AbstractBaseUser, lead: Lead) -> bool:
    """Log follow-ups, move, make deals: the lead's owner (a rep) or a sales manager."""
    if not user.is_authenticated:
        return False
    if user_is_sales_manager(user):
        return True
    return user_has_role(user, Role.SALES_REP) and lead.owner_id == user.pk


def _require_can_work(*, user: AbstractBaseUser, lead: Lead) -> None:
    if not lead_can_work(user=user, lead=lead):
        raise PermissionDenied(_("Only the lead's owner or a sales manager may work on this lead."))


def _webhook(*, event: str, key: str, payload: dict[str, Any]) -> None:
    from alignment.webhooks.services import webhook_emit

    webhook_emit(event=event, key=key, payload=payload)


# --- assignment ----------------------------------------------------------------------------


def lead_claim(*, lead_id: int, user: AbstractBaseUser, at: datetime | None = None) -> Lead:
    """Make `user` the owner of an unowned open lead.

    One conditional UPDATE ... WHERE owner IS NULL: of any number of simultaneous
    claims the database lets exactly one change the row; every other one gets a
    LeadConflict naming the winner. Claiming twice is a conflict too (nothing changes).
    """
    if not user.has_perm("leads.claim_lead"):
        raise PermissionDenied(_("Your role may not claim leads."))
    at = at or timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(pk=lead_id, owner__isnull=True, stage__in=OPEN_STAGES).update(
            owner=user, assigned_at=at, updated_at=at
        )
        lead = Lead.objects.select_related("owner", "territory").get(pk=lead_id)
    if won:
        return lead
    if lead.owner_id == user.pk:
        raise LeadConflict(_("This lead is already yours."), lead_id=lead.pk)
    if lead.owner_id is not None:
        raise LeadConflict(
            _("%(owner)s claimed this lead first.")
            % {"owner": lead.owner.get_full_name() or lead.owner.get_username()},
            lead_id=lead.pk,
        )
    raise ValidationError(
        {
            "lead": [
                _("Only an open lead can be claimed; this one is %(stage)s.")
                % {"stage": lead.get_stage_display()}
            ]
        }
    )


def assignable_users() -> Any:
    """Active users who may own leads: sales reps and sales managers."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.SALES_REP, Role.SALES_MANAGER])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


@transaction.atomic
def lead_reassign(
    *, lead: Lead, to_user: AbstractBaseUser, actor: AbstractBaseUser, at: datetime | None = None
) -> Lead:
    """A manager gives a lead to another rep; the new owner is notified once.

    The SLA deadline is kept: handing a lead over does not reset a running clock.
    """
    if not actor.has_perm("leads.assign_lead"):
        raise PermissionDenied(_("Only a sales manager may reassign leads."))
    if not assignable_users().filter(pk=to_user.pk).exists():
        raise ValidationError(
            {"owner": [_("Leads can only go to an active sales rep or manager.")]}
        )
    at = at or timezone.now()
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.owner_id == to_user.pk:
        return locked
    locked.owner = to_user
    locked.assigned_at = at
    locked.save(update_fields=["owner", "assigned_at", "updated_at"])
    lead.owner, lead.assigned_at = to_user, at
    from alignment.notifications.services import notification_send

    notification_send(
        recipients=[to_user],
        event="lead.assigned",
        dedupe_key=f"lead:{locked.pk}:{at.isoformat()}",
        title=lambda: (
            _("%(actor)s gave you the lead %(lead)s")
            % {"actor": actor.get_full_name() or actor.get_username(), "lead": locked.full_name}
        ),
        url=reverse("leads:detail", args=[locked.pk]),
    )
    return locked


# --- follow-ups and the SLA clock ------------------------------------------------------------


@transaction.atomic
def follow_up_log(
    *,
    lead: Lead,
    author: AbstractBaseUser,
    kind: str,
    outcome: str,
    notes: str = "",
    occurred_at: datetime | None = None,
    next_step: str = "",
    next_follow_up_at: datetime | None = None,
    funnel: Funnel | None = None,
) -> FollowUp:
    """Record a rep's action on a lead (owner or sales manager only).

    A contact as the agreement defines it (by default a connected call, a meeting,
    visit, demo or joint call, an email the lead answered) stops the stage's running
    SLA clock: in time, it earns the rep credit (`within_sla`); late, the breach is
    recorded now (once, like the beat job would). The first contact after an MQL's
    assignment is the lead's first follow-up (the response time). An attempt (no
    answer, a left message, a note) is logged as effort; the clock runs on.
    """
    _require_can_work(user=author, lead=lead)
    now = timezone.now()
    occurred_at = occurred_at or now
    errors: dict[str, list[str]] = {}
    if kind not in FollowUpKind.values:
        errors["kind"] = [_("Choose one of the offered kinds.")]
    if outcome not in FollowUpOutcome.values:
        errors["outcome"] = [_("Choose what came of it.")]
    if occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [_("A follow-up cannot happen in the future.")]
    else:
        dates_collect(errors, history_moment_check, occurred_at, "occurred_at")
    dates_collect(errors, planned_date_check, next_follow_up_at, "next_follow_up_at")
    if (
        "next_follow_up_at" not in errors
        and next_follow_up_at is not None
        and next_follow_up_at <= occurred_at
    ):
        errors["next_follow_up_at"] = [_("The next follow-up must come after this one.")]
    if errors:
        raise ValidationError(errors)

    agreement = (funnel or funnel_active()).agreement
    is_contact = follow_up_is_contact(agreement=agreement, kind=kind, outcome=outcome)
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    within_sla: bool | None = None
    stops_clock = (
        is_contact
        and locked.sla_due_at is not None
        and (locked.stage_entered_at is None or occurred_at >= locked.stage_entered_at)
    )
    if stops_clock:
        due = locked.sla_due_at
        within_sla = occurred_at <= due
        if not within_sla:
            sla_breach_record(lead=locked, stage=locked.stage, due_at=due, detected_at=now)
        locked.sla_due_at = None
    if (
        is_contact
        and locked.stage == StageKey.MQL
        and locked.first_follow_up_at is None
        and (locked.assigned_at is None or occurred_at >= locked.assigned_at)
    ):
        locked.first_follow_up_at = occurred_at
    if locked.last_activity_at is None or occurred_at > locked.last_activity_at:
        locked.last_activity_at = occurred_at
    if next_follow_up_at is not None:
        locked.next_follow_up_at = next_follow_up_at
    elif (
        kind != FollowUpKind.NOTE
        and locked.next_follow_up_at is not None
        and timezone.localdate(locked.next_follow_up_at) <= timezone.localdate(occurred_at)
    ):
        # The planned follow-up was due by today and this is it: nothing is planned now.
        locked.next_follow_up_at = None
    locked.save(
        update_fields=[
            "sla_due_at",
            "first_follow_up_at",
            "last_activity_at",
            "next_follow_up_at",
            "updated_at",
        ]
    )
    for name in ("sla_due_at", "first_follow_up_at", "last_activity_at", "next_follow_up_at"):
        setattr(lead, name, getattr(locked, name))
    return FollowUp.objects.create(
        lead=locked,
        author=author,
        kind=kind,
        outcome=outcome,
        notes=notes,
        occurred_at=occurred_at,
        next_step=next_step,
        next_follow_up_at=next_follow_up_at,
        within_sla=within_sla,
        is_contact=is_contact,
    )


def _managers_of(*, lead: Lead, owner: AbstractBaseUser | None) -> list[AbstractBaseUser]:
    """The lead's territory manager, else the managers of the owner's territories."""
    if lead.territory_id:
        manager = Territory.objects.filter(pk=lead.territory_id).select_related("manager").first()
        if manager and manager.manager:
            return [manager.manager]
    if owner is None:
        return []
    return [
        t.manager
        for t in Territory.objects.filter(
            members__user=owner, members__is_active=True, manager__isnull=False
        ).select_related("manager")
    ]


def _local_time(moment: datetime) -> str:
    """A moment as the active language writes it, in the active time zone, zone named."""
    local = timezone.localtime(moment)
    return f"{date_format(local, 'SHORT_DATETIME_FORMAT')} {local.strftime('%Z')}"


def sla_breach_record(
    *, lead: Lead, stage: str, due_at: datetime, detected_at: datetime
) -> tuple[SlaBreach, bool]:
    """Record one breach of (lead, stage, deadline), and notify rep and manager once.

    The unique constraint decides: of two simultaneous calls one inserts, the other
    waits for it and finds the row, so only the inserting call notifies. Runs inside
    the caller's transaction (the notice and the webhook commit with the breach).
    """
    with transaction.atomic():
        breach, created = SlaBreach.objects.get_or_create(
            lead_id=lead.pk,
            stage=stage,
            due_at=due_at,
            defaults={
                "detected_at": detected_at,
                "owner_id": lead.owner_id,
                "territory_id": lead.territory_id,
            },
        )
        if not created:
            return breach, False
        owner = get_user_model().objects.filter(pk=lead.owner_id).first() if lead.owner_id else None
        from alignment.notifications.services import notification_send

        stage_label = dict(StageKey.choices).get(stage, stage)  # lazy: the recipient's language
        notification_send(
            recipients=[owner, *_managers_of(lead=lead, owner=owner)],
            event=SLA_BREACHED,
            dedupe_key=f"breach:{breach.pk}",
            title=lambda: (
                _("SLA breached: %(lead)s waited too long in %(stage)s")
                % {"lead": lead.full_name, "stage": stage_label}
            ),
            body=lambda: (
                _("%(lead)s (%(company)s) was due for action by %(due)s; owner: %(owner)s.")
                % {
                    "lead": lead.full_name,
                    "company": lead.company or "—",
                    "due": _local_time(due_at),
                    "owner": (owner.get_full_name() or owner.get_username())
                    if owner
                    else _("nobody"),
                }
            ),
            url=reverse("leads:detail", args=[lead.pk]),
        )
        _webhook(
            event=SLA_BREACHED,
            key=f"breach:{breach.pk}",
            payload={
                "lead": lead.pk,
                "stage": stage,
                "due_at": due_at.isoformat(),
                "detected_at": detected_at.isoformat(),
                "owner": lead.owner_id,
                "territory": lead.territory_id,
            },
        )
    return breach, True


@dataclass(frozen=True)
class SlaCheckResult:
    checked: int
    recorded: int


def sla_breaches_check(*, now: datetime | None = None, batch_size: int = 500) -> SlaCheckResult:
    """Record every open lead past its SLA deadline as a breach, once, and notify.

    Safe to run twice and to run concurrently: each breach is inserted under a unique
    constraint (lead, stage, deadline), in its own short transaction, and only the run
    that inserted it notifies. A lead followed up meanwhile (clock stopped) is skipped.
    """
    now = now or timezone.now()
    already = SlaBreach.objects.filter(
        lead=OuterRef("pk"), stage=OuterRef("stage"), due_at=OuterRef("sla_due_at")
    )
    pending = (
        Lead.objects.filter(sla_due_at__lt=now, stage__in=OPEN_STAGES)
        .exclude(Exists(already))
        .order_by("pk")
    )
    checked = recorded = 0
    last_pk = 0
    while True:
        ids = list(pending.filter(pk__gt=last_pk).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        last_pk = ids[-1]
        for pk in ids:
            checked += 1
            with transaction.atomic():
                lead = (
                    Lead.objects.select_for_update()
                    .filter(pk=pk, sla_due_at__lt=now, stage__in=OPEN_STAGES)
                    .first()
                )
                if lead is None:
                    continue
                _breach, created = sla_breach_record(
                    lead=lead, stage=lead.stage, due_at=lead.sla_due_at, detected_at=now
                )
                recorded += int(created)
    return SlaCheckResult(checked=checked, recorded=recorded)


# --- deals ---------------------------------------------------------------------------------


def money_parse(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    """An amount of money from a form, the API or a correction (None when empty); a value
    that is not a realistic amount goes into `errors` under `field`."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (ArithmeticError, ValueError):
        errors[field] = [_("Enter a number.")]
        return None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        errors[field] = [_("Enter a realistic amount.")]
        return None
    return amount.quantize(Decimal("0.01"))


@transaction.atomic
def deal_create(
    *,
    lead: Lead,
    actor: AbstractBaseUser,
    amount: Any,
    expected_close: date | None = None,
    name: str = "",
    gross_margin: Any = None,
    funnel: Funnel | None = None,
    at: datetime | None = None,
) -> Deal:
    """Open a deal on a lead in SQL or opportunity; an SQL lead moves to opportunity.

    The stage moves through the one stage service, so the agreed funnel decides.
    """
    _require_can_work(user=actor, lead=lead)
    errors: dict[str, list[str]] = {}
    value = money_parse(amount, "amount", errors)
    if value is None and "amount" not in errors:
        errors["amount"] = [_("A deal needs an amount.")]
    elif value is not None and value < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    margin = money_parse(gross_margin, "gross_margin", errors)
    if margin is not None and value is not None and margin > value:
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]
    dates_collect(errors, planned_date_check, expected_close, "expected_close")
    if lead.stage not in (StageKey.SQL, StageKey.OPPORTUNITY):
        errors["lead"] = [
            _("A deal needs a sales-qualified lead; this one is %(stage)s.")
            % {"stage": lead.get_stage_display()}
        ]
    if errors:
        raise ValidationError(errors)
    at = at or timezone.now()
    deal = Deal.objects.create(
        lead=lead,
        owner_id=lead.owner_id or actor.pk,
        name=name or f"{lead.company or lead.full_name}",
        amount=value,
        gross_margin=margin,
        expected_close=expected_close,
        created_at=at,
    )
    if lead.stage != StageKey.OPPORTUNITY:
        lead_transition(
            lead=lead,
            to_stage=StageKey.OPPORTUNITY,
            actor=actor,
            reason=stored_text(sentence=DEAL_OPENED),
            funnel=funnel,
            at=at,
        )
    return deal


@transaction.atomic
def deal_update(
    *,
    deal: Deal,
    actor: AbstractBaseUser,
    amount: Any = None,
    expected_close: date | None = None,
    name: str | None = None,
    gross_margin: Any = None,
) -> Deal:
    """Change an open deal's amount, expected close, name or gross margin."""
    _require_can_work(user=actor, lead=deal.lead)
    errors: dict[str, list[str]] = {}
    if deal.outcome != DealOutcome.OPEN:
        errors["outcome"] = [_("A closed deal cannot change.")]
    value = money_parse(amount, "amount", errors)
    if value is not None and value < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    margin = money_parse(gross_margin, "gross_margin", errors)
    if margin is not None and margin > (value if value is not None else deal.amount):
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]
    dates_collect(errors, planned_date_check, expected_close, "expected_close")
    if errors:
        raise ValidationError(errors)
    if value is not None:
        deal.amount = value
    if margin is not None:
        deal.gross_margin = margin
    if expected_close is not None:
        deal.expected_close = expected_close
    if name is not None:
        deal.name = name
    deal.save()
    return deal


@transaction.atomic
def deal_close(
    *,
    deal: Deal,
    actor: AbstractBaseUser,
    outcome: str,
    lost_reason: str = "",
    gross_margin: Any = None,
    closed_at: datetime | None = None,
    funnel: Funnel | None = None,
    amount: Any = None,
    source: str = StageEvent.Source.MANUAL,
) -> Deal:
    """Close an open deal as won or lost (lost: an agreed lost reason code).

    A win moves the lead to `won`; a loss moves it to `lost` once no other deal of the
    lead is open. Both go through the stage service; the deal.won/deal.lost webhook
    fires once per deal.
    """
    locked = Deal.objects.select_for_update().select_related("lead").get(pk=deal.pk)
    lead = locked.lead
    _require_can_work(user=actor, lead=lead)
    funnel = funnel or funnel_active()
    errors: dict[str, list[str]] = {}
    if locked.outcome != DealOutcome.OPEN:
        errors["outcome"] = [
            _("This deal is already closed (%(outcome)s).")
            % {"outcome": locked.get_outcome_display()}
        ]
    elif outcome not in (DealOutcome.WON, DealOutcome.LOST):
        errors["outcome"] = [_("Close a deal as won or lost.")]
    codes = funnel.reason_codes.get(ReasonKind.LOST, {})
    lost_reason = (lost_reason or "").strip()
    if outcome == DealOutcome.LOST and lost_reason not in codes:
        errors["lost_reason"] = [
            _("A lost deal needs one of the agreed reasons: %(codes)s.")
            % {"codes": ", ".join(codes)}
        ]
    final = money_parse(amount, "amount", errors)
    if final is not None and final < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    margin = money_parse(gross_margin, "gross_margin", errors)
    if margin is not None and margin > (final if final is not None else locked.amount):
        errors["gross_margin"] = [_("The gross margin cannot exceed the amount.")]
    closed_at = closed_at or timezone.now()
    if closed_at > timezone.now() + FUTURE_TOLERANCE:
        errors["closed_at"] = [_("A deal cannot close in the future.")]
    else:
        dates_collect(errors, history_moment_check, closed_at, "closed_at")
    if (
        outcome == DealOutcome.WON
        and lead.stage != StageKey.WON
        and not funnel.allows(lead.stage, StageKey.WON)
    ):
        errors["outcome"] = [
            _("The agreed funnel does not let a lead in %(stage)s be won.")
            % {"stage": lead.get_stage_display()}
        ]
    if errors:
        raise ValidationError(errors)
    locked.outcome = outcome
    locked.closed_at = closed_at
    locked.lost_reason = lost_reason if outcome == DealOutcome.LOST else ""
    if final is not None:
        locked.amount = final
    if margin is not None:
        locked.gross_margin = margin
    locked.save()
    target = StageKey.WON if outcome == DealOutcome.WON else StageKey.LOST
    others_open = lead.deals.filter(outcome=DealOutcome.OPEN).exclude(pk=locked.pk).exists()
    moves = lead.stage != target and funnel.allows(lead.stage, target)
    if moves and (target == StageKey.WON or not others_open):
        lead_transition(
            lead=lead,
            to_stage=target,
            actor=actor,
            reason_code=lost_reason if target == StageKey.LOST else "",
            reason=stored_text(sentence=DEAL_CLOSED, deal=locked.name or f"#{locked.pk}"),
            at=closed_at,
            funnel=funnel,
            source=source,
        )
    _webhook(
        event="deal.won" if outcome == DealOutcome.WON else "deal.lost",
        key=f"deal:{locked.pk}",
        payload={
            "deal": locked.pk,
            "lead": lead.pk,
            "amount": str(locked.amount),
            "gross_margin": None if locked.gross_margin is None else str(locked.gross_margin),
            "outcome": outcome,
            "lost_reason": locked.lost_reason,
            "closed_at": closed_at.isoformat(),
            "owner": locked.owner_id,
        },
    )
    deal.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked
