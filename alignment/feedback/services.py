"""The feedback loop: field intelligence, battlecards and disputes with an arbiter.

Every state change records its time (time to acknowledgment and dispute resolution
time are common metrics) and notifies the people concerned once per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, user_has_role, user_team
from alignment.feedback.selectors import (
    REJECTION_DISPUTES,
    dispute_effect_summary,
    dispute_rejection,
    dispute_rejection_find,
)
from alignment.models import (
    Battlecard,
    BattlecardObjection,
    Competitor,
    Dispute,
    DisputeDecision,
    DisputeEffect,
    DisputeKind,
    DisputeStatus,
    FieldIntel,
    IntelKind,
    IntelStatus,
    StageKey,
    Team,
)
from alignment.notifications.services import notification_send
from alignment.webhooks.services import webhook_emit
from config.stored_text import DISPUTE_OVERTURNED, stored_text
from leads.models import Lead, StageEvent
from leads.services.lifecycle import lead_transition
from leads.services.moves import funnel_for_moves, stage_move_revert, stage_move_revertable

INTEL_TEXT_MAX = 5000


# --- who may do what ----------------------------------------------------------------------


def intel_can_submit(*, user: User) -> bool:
    return bool(user.is_superuser or user_has_role(user, Role.SALES_REP, Role.SALES_MANAGER))


def intel_can_respond(*, user: User) -> bool:
    return bool(user.is_superuser or user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER))


def battlecard_can_edit(*, user: User) -> bool:
    return intel_can_respond(user=user)


def dispute_can_raise(*, user: User) -> bool:
    return user_team(user) in (Team.SALES, Team.MARKETING)


def dispute_can_resolve(*, user: User) -> bool:
    return bool(user.is_active and user.has_perm("alignment.resolve_dispute"))


def _users_with_roles(*roles: str) -> list[User]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=roles)
        .distinct()
        .order_by("pk")
    )


# --- competitors and battlecards ------------------------------------------------------------


def competitor_get_or_create(*, name: str, website: str = "") -> Competitor:
    """The competitor of that name (any case), created when new; blank names are refused."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"competitor": _("Name the competitor.")})
    if len(name) > 120:
        raise ValidationError({"competitor": _("A competitor's name has at most 120 characters.")})
    existing = Competitor.objects.filter(name__iexact=name).first()
    if existing is not None:
        return existing
    competitor, _created = Competitor.objects.get_or_create(
        name=name, defaults={"website": website}
    )
    return competitor


@transaction.atomic
def battlecard_save(
    *,
    user: User,
    competitor: Competitor | None = None,
    competitor_name: str = "",
    website: str | None = None,
    summary: str = "",
    differentiators: str = "",
    table_stakes: str = "",
    objections: Sequence[tuple[str, str]] = (),
    link_intel: Iterable[int] = (),
) -> Battlecard:
    """Create or update the one card of a competitor (marketing only).

    `objections` replaces the card's objections ((objection, answer) pairs, in order);
    `link_intel` attaches intelligence items to the card's competitor. Saving the same
    content twice leaves one card with the same objections.
    """
    if not battlecard_can_edit(user=user):
        raise PermissionDenied(_("Only marketing edits battlecards."))
    if competitor is None:
        competitor = competitor_get_or_create(name=competitor_name)
    errors: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    for objection, answer in objections:
        objection, answer = (objection or "").strip(), (answer or "").strip()
        if not objection and not answer:
            continue
        if not objection or not answer:
            errors.setdefault("objections", []).append(
                _("Every objection needs its answer, and every answer its objection.")
            )
        elif len(objection) > 300:
            errors.setdefault("objections", []).append(
                _("An objection has at most 300 characters.")
            )
        else:
            pairs.append((objection, answer))
    intel_ids = sorted({int(pk) for pk in link_intel})
    if intel_ids:
        found = FieldIntel.objects.filter(pk__in=intel_ids).values_list("competitor_id", flat=True)
        if len(found) != len(intel_ids):
            errors.setdefault("link_intel", []).append(_("Some intelligence items do not exist."))
        elif any(cid not in (None, competitor.pk) for cid in found):
            errors.setdefault("link_intel", []).append(
                _("Some intelligence items are about another competitor.")
            )
    if errors:
        raise ValidationError(errors)
    if website is not None and website != competitor.website:
        competitor.website = website
        competitor.full_clean(validate_unique=False)
        competitor.save(update_fields=["website"])
    card, _created = Battlecard.objects.select_for_update().get_or_create(competitor=competitor)
    card.summary = summary.strip()
    card.differentiators = differentiators.strip()
    card.table_stakes = table_stakes.strip()
    card.updated_by = user
    card.save()
    card.objections.all().delete()
    BattlecardObjection.objects.bulk_create(
        BattlecardObjection(battlecard=card, objection=objection, answer=answer)
        for objection, answer in pairs
    )
    if intel_ids:
        FieldIntel.objects.filter(pk__in=intel_ids).update(competitor=competitor)
    return card


# --- field intelligence ---------------------------------------------------------------------


@transaction.atomic
def intel_submit(
    *,
    author: User,
    kind: str,
    text: str,
    lead=None,
    deal=None,
    campaign=None,
    competitor: Competitor | None = None,
    competitor_name: str = "",
    now: datetime | None = None,
) -> FieldIntel:
    """A rep sends what they heard in the field to marketing, from a lead, deal or campaign.

    Marketing is notified once per item; the `intel.created` webhook fires after commit.
    """
    if not intel_can_submit(user=author):
        raise PermissionDenied(_("Only sales sends field intelligence."))
    errors: dict[str, list[str]] = {}
    if kind not in IntelKind.values:
        errors["kind"] = [_("Choose one of the kinds of intelligence.")]
    text = (text or "").strip()
    if not text:
        errors["text"] = [_("Say what you heard.")]
    elif len(text) > INTEL_TEXT_MAX:
        errors["text"] = [_("At most %(n)s characters.") % {"n": INTEL_TEXT_MAX}]
    if deal is not None and lead is not None and deal.lead_id != lead.pk:
        errors["deal"] = [_("This deal belongs to another lead.")]
    if lead is None and deal is None and campaign is None:
        errors["lead"] = [_("Send intelligence from a lead, a deal or a campaign.")]
    if competitor is None and competitor_name.strip():
        try:
            competitor = competitor_get_or_create(name=competitor_name)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if deal is not None and lead is None:
        lead = deal.lead
    intel = FieldIntel.objects.create(
        author=author,
        kind=kind,
        text=text,
        lead=lead,
        deal=deal,
        campaign=campaign,
        competitor=competitor,
        created_at=now or timezone.now(),
    )
    notification_send(
        recipients=_users_with_roles(Role.MARKETER, Role.MARKETING_MANAGER),
        event="intel.submitted",
        dedupe_key=f"intel:{intel.pk}",
        title=lambda: _("New field intelligence: %(kind)s") % {"kind": intel.get_kind_display()},
        body=text[:500],
        url=reverse("feedback:intel-detail", args=[intel.pk]),
    )
    _webhook(event="intel.created", key=f"intel:{intel.pk}", payload=intel_payload(intel=intel))
    return intel


def intel_payload(*, intel: FieldIntel) -> dict:
    return {
        "id": intel.pk,
        "kind": intel.kind,
        "text": intel.text,
        "status": intel.status,
        "competitor": intel.competitor.name if intel.competitor else None,
        "lead": intel.lead_id,
        "deal": intel.deal_id,
        "campaign": intel.campaign_id,
        "author": intel.author_id,
        "created_at": intel.created_at,
    }


def intel_acknowledge(
    *,
    intel: FieldIntel,
    user: User,
    response: str = "",
    now: datetime | None = None,
) -> FieldIntel:
    """Marketing has read it: new → acknowledged, with the time (and an optional answer)."""
    return _intel_move(
        intel=intel, user=user, to=IntelStatus.ACKNOWLEDGED, response=response, now=now
    )


def intel_action(
    *,
    intel: FieldIntel,
    user: User,
    response: str,
    now: datetime | None = None,
) -> FieldIntel:
    """Marketing did something about it: → actioned, saying what (a response is required).

    Actioning a new item acknowledges it at the same time.
    """
    return _intel_move(intel=intel, user=user, to=IntelStatus.ACTIONED, response=response, now=now)


_INTEL_NEXT: dict[str, list[IntelStatus]] = {
    IntelStatus.ACKNOWLEDGED: [IntelStatus.NEW],
    IntelStatus.ACTIONED: [IntelStatus.NEW, IntelStatus.ACKNOWLEDGED],
}


@transaction.atomic
def _intel_move(
    *,
    intel: FieldIntel,
    user: User,
    to: str,
    response: str,
    now: datetime | None,
) -> FieldIntel:
    # The author is notified once per status reached: a repeated or concurrent call finds
    # the status already moved and is refused, so nothing is recorded or sent twice.
    if not intel_can_respond(user=user):
        raise PermissionDenied(_("Only marketing answers field intelligence."))
    response = (response or "").strip()
    if to == IntelStatus.ACTIONED and not response:
        raise ValidationError({"response": [_("Say what marketing did about it.")]})
    if len(response) > INTEL_TEXT_MAX:
        raise ValidationError(
            {"response": [_("At most %(n)s characters.") % {"n": INTEL_TEXT_MAX}]}
        )
    now = now or timezone.now()
    locked = FieldIntel.objects.select_for_update().select_related("author").get(pk=intel.pk)
    if locked.status not in _INTEL_NEXT[to]:
        raise ValidationError(
            {
                "status": [
                    _("This item is already %(status)s.")
                    % {"status": str(locked.get_status_display()).lower()}
                ]
            }
        )
    if locked.acknowledged_at is None:
        locked.acknowledged_at = now
        locked.acknowledged_by = user
    if to == IntelStatus.ACTIONED:
        locked.actioned_at = now
    locked.status = to
    if response:
        locked.response = response
    locked.save(
        update_fields=["status", "response", "acknowledged_at", "acknowledged_by", "actioned_at"]
    )

    def title() -> str:  # rendered in each recipient's language
        if to == IntelStatus.ACKNOWLEDGED:
            return _("Marketing acknowledged your intelligence")
        return _("Marketing acted on your intelligence")

    notification_send(
        recipients=[locked.author],
        event="intel.responded",
        dedupe_key=f"intel:{locked.pk}:{to}",
        title=title,
        body=locked.response[:1000],
        url=reverse("feedback:intel-detail", args=[locked.pk]),
    )
    return locked


def intel_respond(*, intel: FieldIntel, user: User, status: str, response: str = "") -> FieldIntel:
    """One door for the page and the API: move to `status`, or edit the response only.

    Editing the response without a status change notifies nobody again.
    """
    if status == IntelStatus.ACKNOWLEDGED and intel.status == IntelStatus.NEW:
        return intel_acknowledge(intel=intel, user=user, response=response)
    if status == IntelStatus.ACTIONED and intel.status != IntelStatus.ACTIONED:
        return intel_action(intel=intel, user=user, response=response)
    if status == intel.status and status != IntelStatus.NEW:
        if not intel_can_respond(user=user):
            raise PermissionDenied(_("Only marketing answers field intelligence."))
        response = (response or "").strip()
        if not response and status == IntelStatus.ACTIONED:
            raise ValidationError({"response": [_("Say what marketing did about it.")]})
        FieldIntel.objects.filter(pk=intel.pk).update(response=response)
        intel.response = response
        return intel
    if not intel_can_respond(user=user):
        raise PermissionDenied(_("Only marketing answers field intelligence."))
    if status == IntelStatus.NEW and intel.status == IntelStatus.NEW:
        raise ValidationError({"status": [_("Acknowledge or action the item to send a response.")]})
    raise ValidationError(
        {
            "status": [
                _("Intelligence moves new → acknowledged → actioned; it cannot go back to %(s)s.")
                % {"s": IntelStatus(status).label if status in IntelStatus.values else status}
            ]
        }
    )


# --- disputes -------------------------------------------------------------------------------


@transaction.atomic
def dispute_raise(
    *,
    user: User,
    lead,
    kind: str,
    reason: str,
    deal=None,
    now: datetime | None = None,
) -> Dispute:
    """Either team contests a lead decision; executives and the other side are notified.

    One open dispute per lead and kind: a second one is refused until it is resolved.
    """
    team = user_team(user)
    if team not in (Team.SALES, Team.MARKETING):
        raise PermissionDenied(_("Disputes are raised by sales or marketing."))
    errors: dict[str, list[str]] = {}
    if kind not in DisputeKind.values:
        errors["kind"] = [_("Choose what is disputed.")]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Give the reason for the dispute.")]
    elif len(reason) > INTEL_TEXT_MAX:
        errors["reason"] = [_("At most %(n)s characters.") % {"n": INTEL_TEXT_MAX}]
    if deal is not None and deal.lead_id != lead.pk:
        errors["deal"] = [_("This deal belongs to another lead.")]
    if kind == DisputeKind.DEAL_CREDIT and deal is None:
        errors["deal"] = [_("Say which deal's credit is disputed.")]
    if errors:
        raise ValidationError(errors)

    Lead.objects.select_for_update().filter(pk=lead.pk).first()  # one raiser at a time
    if Dispute.objects.filter(lead=lead, kind=kind, status=DisputeStatus.OPEN).exists():
        raise ValidationError({"kind": [_("A dispute of this kind is already open on this lead.")]})
    now = now or timezone.now()
    dispute = Dispute.objects.create(
        lead=lead,
        deal=deal,
        kind=kind,
        raised_by=user,
        raised_by_team=team,
        reason=reason,
        created_at=now,
        # The rejection contested: the decision on it acts on this one (dispute_resolve).
        rejection=dispute_rejection_find(lead=lead, at=now) if kind in REJECTION_DISPUTES else None,
    )
    url = reverse("feedback:dispute-detail", args=[dispute.pk])

    def title() -> str:  # rendered in each recipient's language
        return _("Dispute raised: %(kind)s on %(lead)s") % {
            "kind": dispute.get_kind_display(),
            "lead": lead.full_name,
        }

    notification_send(
        recipients=[*_users_with_roles(Role.EXECUTIVE), *dispute_other_side(dispute=dispute)],
        event="dispute.raised",
        dedupe_key=f"dispute:{dispute.pk}",
        title=title,
        body=reason[:1000],
        url=url,
    )
    return dispute


def dispute_other_side(*, dispute: Dispute) -> list[User]:
    """Who answers for the team that did not raise the dispute.

    Sales: the deal's or lead's owner, else the sales managers. Marketing: the owner of
    the lead's first-touch campaign, else the marketing managers.
    """
    if dispute.raised_by_team == Team.MARKETING:
        owner = (dispute.deal.owner if dispute.deal else None) or dispute.lead.owner
        if owner is not None and owner.is_active and owner.pk != dispute.raised_by_id:
            return [owner]
        return [u for u in _users_with_roles(Role.SALES_MANAGER) if u.pk != dispute.raised_by_id]
    campaign = dispute.lead.campaign
    owner = campaign.owner if campaign is not None else None
    if (
        owner is not None
        and owner.is_active
        and owner.pk != dispute.raised_by_id
        and user_has_role(owner, Role.MARKETER, Role.MARKETING_MANAGER)
    ):
        return [owner]
    return [u for u in _users_with_roles(Role.MARKETING_MANAGER) if u.pk != dispute.raised_by_id]


@transaction.atomic
def dispute_resolve(
    *,
    dispute: Dispute,
    user: User,
    decision: str,
    note: str,
    now: datetime | None = None,
) -> Dispute:
    """The arbiter (an executive) decides, with a note, and the decision takes effect on
    the lead in the same transaction (recorded on the dispute as `effect`):

    - a rejection or lead-quality dispute of a rejection, decided in marketing's favour:
      the rejection is overturned. It is reverted (a revert event) and the lead, back in
      MQL, is accepted for its rep (an acceptance event, mql → sal): the acceptance rate
      counts one acceptance and no rejection. Refused (field error "decision", nothing
      changed) when the lead has moved on since the rejection or it was already reverted.
    - the same, in sales' favour: the lead stays rejected and the rejection is upheld
      (`rejections_upheld`, the campaign's quality).
    - a compromise, a deal-credit dispute, or a dispute with no rejection to act on:
      the lead is left as it is (effect "none").

    The raiser, the other side and the rep who rejected the lead are notified once each,
    with what the decision did. Resolving an already resolved dispute is refused.
    """
    if not dispute_can_resolve(user=user):
        raise PermissionDenied(_("Only an executive resolves disputes."))
    errors: dict[str, list[str]] = {}
    if decision not in DisputeDecision.values:
        errors["decision"] = [_("Choose a decision.")]
    note = (note or "").strip()
    if not note:
        errors["resolution_note"] = [_("Explain the decision in a note.")]
    elif len(note) > INTEL_TEXT_MAX:
        errors["resolution_note"] = [_("At most %(n)s characters.") % {"n": INTEL_TEXT_MAX}]
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    changed = Dispute.objects.filter(pk=dispute.pk, status=DisputeStatus.OPEN).update(
        status=DisputeStatus.RESOLVED,
        decision=decision,
        resolution_note=note,
        resolved_by=user,
        resolved_at=now,
    )
    if not changed:
        raise ValidationError({"status": [_("This dispute is already resolved.")]})
    resolved = Dispute.objects.select_related(
        "lead__owner", "lead__campaign__owner", "deal__owner", "raised_by", "rejection__actor"
    ).get(pk=dispute.pk)
    rejection = dispute_rejection(dispute=resolved)
    resolved.effect = DisputeEffect.NONE
    if rejection is not None and decision == DisputeDecision.FOR_MARKETING:
        _rejection_overturn(dispute=resolved, rejection=rejection, user=user, at=now)
    elif (
        rejection is not None
        and decision == DisputeDecision.FOR_SALES
        and not StageEvent.objects.filter(reverts=rejection).exists()  # none to uphold
    ):
        resolved.effect = DisputeEffect.UPHELD
    resolved.save(update_fields=["effect", "revert_event", "acceptance_event"])
    resolved.lead.refresh_from_db()
    url = reverse("feedback:dispute-detail", args=[resolved.pk])

    def title() -> str:  # rendered in each recipient's language
        return _("Dispute resolved: %(decision)s") % {"decision": resolved.get_decision_display()}

    def body() -> str:
        return f"{dispute_effect_summary(dispute=resolved)}\n\n{note}"[:1000]

    notification_send(
        recipients=[
            resolved.raised_by,
            *dispute_other_side(dispute=resolved),
            rejection.actor if rejection is not None else None,
        ],
        event="dispute.resolved",
        dedupe_key=f"dispute:{resolved.pk}",
        title=title,
        body=body,
        url=url,
    )
    _webhook(event="dispute.resolved", key=f"dispute:{resolved.pk}", payload=dispute_payload(
        dispute=resolved))  # fmt: skip
    return resolved


def dispute_payload(*, dispute: Dispute) -> dict:
    return {
        "id": dispute.pk,
        "lead": dispute.lead_id,
        "deal": dispute.deal_id,
        "kind": dispute.kind,
        "raised_by_team": dispute.raised_by_team,
        "decision": dispute.decision,
        "resolution_note": dispute.resolution_note,
        "effect": dispute.effect,
        "rejection": dispute.rejection_id,
        "revert_event": dispute.revert_event_id,
        "acceptance_event": dispute.acceptance_event_id,
        "created_at": dispute.created_at,
        "resolved_at": dispute.resolved_at,
    }


def _rejection_overturn(
    *, dispute: Dispute, rejection: StageEvent, user: User, at: datetime
) -> None:
    """Revert the rejection and accept the lead for its rep, as the dispute's arbiter
    (the stage services' dispute path), or refuse with a "decision" error. Sets the
    effect and the events written on `dispute` (saved by the caller)."""
    lead = Lead.objects.get(pk=dispute.lead_id)
    if StageEvent.objects.filter(reverts=rejection).exists():
        raise ValidationError(
            {
                "decision": [
                    _(
                        "The rejection was already reverted by a sales manager, so there is "
                        "nothing to overturn. Decide as a compromise: the lead stays as it is."
                    )
                ]
            }
        )
    revertable = stage_move_revertable(lead=lead)
    if revertable is None or revertable.pk != rejection.pk:
        raise ValidationError(
            {
                "decision": [
                    _(
                        "The lead has moved since it was rejected (it is now %(stage)s), so "
                        "the rejection can no longer be overturned. Decide as a compromise, "
                        "which leaves the lead as it is, and ask the lead's owner or a sales "
                        "manager to move it."
                    )
                    % {"stage": lead.get_stage_display()}
                ]
            }
        )
    if lead.owner_id is None:
        raise ValidationError(
            {
                "decision": [
                    _(
                        "The lead has no owner to accept it. Ask a sales manager to assign "
                        "it to a rep first, then decide."
                    )
                ]
            }
        )
    reason = stored_text(sentence=DISPUTE_OVERTURNED, dispute=dispute.pk)
    funnel = funnel_for_moves()
    try:
        revert = stage_move_revert(
            lead=lead, event=rejection, actor=user, reason=reason, at=at, dispute=dispute
        ).event
        accepted = lead_transition(
            lead=lead,
            to_stage=StageKey.SAL,
            actor=user,
            reason=reason,
            at=at,
            funnel=funnel,
            dispute=dispute,
        ).event
    except ValidationError as exc:
        raise ValidationError({"decision": exc.messages}) from exc
    dispute.effect = DisputeEffect.OVERTURNED
    dispute.revert_event = revert
    dispute.acceptance_event = accepted


def _webhook(*, event: str, key: str, payload: dict) -> None:
    webhook_emit(event=event, key=key, payload=payload)
