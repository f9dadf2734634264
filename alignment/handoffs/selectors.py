"""Hand-offs between the teams, as one notion over the records that hold them.

Five things wait on someone: field intelligence for marketing to acknowledge, a briefing
for each target rep to acknowledge, a dispute to resolve, an MQL for its rep to accept or
reject, a follow-up its rep planned. Each is read from its own record (no copy to keep in
step) as a `Handoff`: who owns it (a person or a team), when it started, when it is due
(the agreement in force says how long), when its owner is reminded and when it is
escalated to the owner's manager (for disputes, the executive).

`handoffs_for` is the reader's list, `handoffs_overdue_in_week` the meeting pack's, and
`handoffs_pending` what the alert job (alignment.handoffs.services) acts on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import Role, user_has_role
from alignment.agreement.selectors import agreement_active, agreement_in_force
from alignment.feedback.services import dispute_other_side
from alignment.models import (
    Agreement,
    Dispute,
    DisputeStatus,
    FieldIntel,
    HandoffKind,
    IntelStatus,
    StageKey,
    Team,
)
from campaigns.models import Briefing, BriefingAcknowledgment
from campaigns.selectors import campaigns_expected_reps
from config.dates import day_start, deployment_date
from config.formats import lead_label, person_name
from leads.models import Lead, SlaBreach
from leads.selectors import OPEN_STAGES
from metrics.models import Territory, TerritoryMember

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# How late a step may still be sent when the alert job has not run for a while: a
# reminder a day late, an escalation a week late; older ones only show as overdue.
REMINDER_LOOKBACK = timedelta(hours=24)
ESCALATION_LOOKBACK = timedelta(days=7)
# The reader's list looks this far ahead for what falls due.
DUE_SOON = timedelta(days=7)
LEAD_LIMIT = 200


@dataclass(frozen=True)
class Handoff:
    kind: str
    subject: str
    title: str
    url: str
    # Who acts: people, and the team name when a whole team owns it.
    owner_ids: tuple[int, ...]
    owner_label: str
    started_at: datetime
    due_at: datetime
    remind_at: datetime
    escalate_at: datetime
    done_at: datetime | None = None
    territory_id: int | None = None
    # Who is told at escalation (the owner's manager; for disputes, the executive too).
    escalate_to: tuple[int, ...] = field(default=())

    @property
    def kind_label(self) -> str:
        return str(HandoffKind(self.kind).label)

    def is_overdue(self, now: datetime) -> bool:
        return self.done_at is None and now >= self.due_at


def _remind_at(*, agreement: Agreement, started: datetime, due: datetime) -> datetime:
    """The agreement's reminder lead time before the due time, but never before half of
    the time allowed has gone (a 4-hour SLA is not reminded at its start)."""
    before = due - timedelta(hours=agreement.handoff_reminder_hours)
    return max(before, started + (due - started) / 2)


def _users_with_roles(*roles: str) -> list[int]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=roles)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class _Managers:
    """Who manages whom, read once per list (three queries, whatever the number of items)."""

    of_territory: dict[int, int]
    of_rep: dict[int, tuple[int, ...]]
    everyone: tuple[int, ...]

    def of(self, *, user_id: int | None, territory_id: int | None) -> tuple[int, ...]:
        """The territory's manager, else the managers of the rep's territories, else every
        sales manager."""
        if territory_id and territory_id in self.of_territory:
            return (self.of_territory[territory_id],)
        if user_id and self.of_rep.get(user_id):
            return self.of_rep[user_id]
        return self.everyone


def _managers() -> _Managers:
    of_territory = dict(
        Territory.objects.filter(manager__isnull=False).values_list("pk", "manager_id")
    )
    of_rep: dict[int, set[int]] = {}
    for user_id, territory_id in TerritoryMember.objects.filter(is_active=True).values_list(
        "user_id", "territory_id"
    ):
        if territory_id in of_territory:
            of_rep.setdefault(user_id, set()).add(of_territory[territory_id])
    return _Managers(
        of_territory=of_territory,
        of_rep={user: tuple(sorted(ids)) for user, ids in of_rep.items()},
        everyone=tuple(_users_with_roles(Role.SALES_MANAGER)),
    )


# --- the five kinds ------------------------------------------------------------------------


def _intel(agreement: Agreement, items: Iterable[FieldIntel]) -> Iterator[Handoff]:
    marketing = tuple(_users_with_roles(Role.MARKETER, Role.MARKETING_MANAGER))
    managers = tuple(_users_with_roles(Role.MARKETING_MANAGER))
    for intel in items:
        due = agreement.intel_ack_due(intel.created_at)
        owner = intel.campaign.owner if intel.campaign_id and intel.campaign else None
        owners: tuple[int, ...]
        if owner is not None and owner.is_active:
            owners, label = (owner.pk,), person_name(owner)
        else:
            owners, label = marketing, str(Team.MARKETING.label)
        yield Handoff(
            kind=HandoffKind.INTEL_ACK,
            subject=str(intel.pk),
            title=_("%(kind)s from %(author)s: %(text)s")
            % {
                "kind": intel.get_kind_display(),
                "author": person_name(intel.author),
                "text": intel.text[:80],
            },
            url=reverse("feedback:intel-detail", args=[intel.pk]),
            owner_ids=owners,
            owner_label=label,
            started_at=intel.created_at,
            due_at=due,
            remind_at=_remind_at(agreement=agreement, started=intel.created_at, due=due),
            escalate_at=due,
            done_at=intel.acknowledged_at,
            escalate_to=managers,
        )


def _intel_rows() -> QuerySet[FieldIntel]:
    return FieldIntel.objects.select_related("author", "campaign__owner")


def _disputes(agreement: Agreement, items: Iterable[Dispute]) -> Iterator[Handoff]:
    executives = _users_with_roles(Role.EXECUTIVE)
    # The managers of the team a dispute contests, read once for every dispute.
    managers_of = {
        Team.SALES: _users_with_roles(Role.SALES_MANAGER),
        Team.MARKETING: _users_with_roles(Role.MARKETING_MANAGER),
    }
    for dispute in items:
        due = agreement.dispute_due(dispute.created_at)
        answering = dispute_other_side(dispute=dispute)
        other_team = Team.SALES if dispute.raised_by_team == Team.MARKETING else Team.MARKETING
        managers = managers_of[other_team]
        yield Handoff(
            kind=HandoffKind.DISPUTE,
            subject=str(dispute.pk),
            title=_("%(kind)s on %(lead)s, raised by %(who)s")
            % {
                "kind": dispute.get_kind_display(),
                "lead": lead_label(dispute.lead),
                "who": person_name(dispute.raised_by),
            },
            url=reverse("feedback:dispute-detail", args=[dispute.pk]),
            owner_ids=tuple(u.pk for u in answering),
            owner_label=", ".join(person_name(u) for u in answering) or str(other_team.label),
            started_at=dispute.created_at,
            due_at=due,
            remind_at=_remind_at(agreement=agreement, started=dispute.created_at, due=due),
            escalate_at=due,
            done_at=dispute.resolved_at,
            territory_id=dispute.lead.territory_id,
            escalate_to=tuple(sorted({*executives, *managers} - {dispute.raised_by_id})),
        )


def _dispute_rows() -> QuerySet[Dispute]:
    return Dispute.objects.select_related(
        "lead__owner", "lead__campaign__owner", "deal__owner", "raised_by"
    )


def _briefing_due(agreement: Agreement, briefing: Briefing) -> datetime:
    assert briefing.published_at is not None
    due = briefing.published_at + timedelta(days=agreement.briefing_ack_days)
    start = briefing.campaign.starts_on
    if start is not None:
        launch = day_start(start)  # the deployment's midnight, whoever reads
        if briefing.published_at < launch < due:
            due = launch
    return due


def _briefings(
    agreement: Agreement,
    briefings: Iterable[Briefing],
    managers: _Managers,
    *,
    user_id: int | None = None,
) -> Iterator[Handoff]:
    """One hand-off per target rep of each published briefing. A rep is told as soon as it
    is published (the reminder), their manager and the campaign's owner when it is late."""
    briefings = list(briefings)
    expected = campaigns_expected_reps(campaign_ids={b.campaign_id for b in briefings})
    acks = {
        (briefing_id, user_id): at
        for briefing_id, user_id, at in BriefingAcknowledgment.objects.filter(
            briefing__in=briefings
        ).values_list("briefing_id", "user_id", "acknowledged_at")
    }
    for briefing in briefings:
        campaign = briefing.campaign
        due = _briefing_due(agreement, briefing)
        for member in expected[campaign.pk]:
            if user_id is not None and member.user_id != user_id:
                continue
            assert briefing.published_at is not None
            yield Handoff(
                kind=HandoffKind.BRIEFING_ACK,
                subject=f"{briefing.pk}:{member.user_id}",
                title=_("Briefing for “%(campaign)s”") % {"campaign": campaign.name},
                url=reverse("campaigns:detail", args=[campaign.pk]) + "#readiness",
                owner_ids=(member.user_id,),
                owner_label=person_name(member.user),
                started_at=briefing.published_at,
                due_at=due,
                remind_at=briefing.published_at,
                escalate_at=due,
                done_at=acks.get((briefing.pk, member.user_id)),
                territory_id=member.territory_id,
                escalate_to=tuple(
                    sorted(
                        {
                            *managers.of(user_id=member.user_id, territory_id=member.territory_id),
                            *([campaign.owner_id] if campaign.owner_id else []),
                        }
                    )
                ),
            )


def _briefing_rows() -> QuerySet[Briefing]:
    return Briefing.objects.filter(published_at__isnull=False).select_related("campaign")


def _lead_handoff(agreement: Agreement, lead: Lead, kind: str, managers: _Managers) -> Handoff:
    owner = lead.owner
    if kind == HandoffKind.MQL_ACCEPTANCE:
        assert lead.sla_due_at is not None
        due = lead.sla_due_at
        started = lead.assigned_at or lead.mql_at or lead.stage_entered_at or due
        started = min(started, due)
        remind, escalate = _remind_at(agreement=agreement, started=started, due=due), due
        title = _("Accept or reject %(lead)s") % {"lead": lead_label(lead)}
    else:
        assert lead.next_follow_up_at is not None
        due = lead.next_follow_up_at
        started = remind = due  # the rep's own plan: told when it falls due
        escalate = due + timedelta(hours=agreement.follow_up_grace_hours)
        title = _("Follow up %(lead)s") % {"lead": lead_label(lead)}
    return Handoff(
        kind=kind,
        subject=str(lead.pk),
        title=title,
        url=reverse("leads:detail", args=[lead.pk]),
        owner_ids=(owner.pk,) if owner else (),
        owner_label=person_name(owner) if owner else _("nobody"),
        started_at=started,
        due_at=due,
        remind_at=remind,
        escalate_at=escalate,
        territory_id=lead.territory_id,
        escalate_to=managers.of(user_id=lead.owner_id, territory_id=lead.territory_id),
    )


def _mql_rows() -> QuerySet[Lead]:
    return Lead.objects.filter(
        stage=StageKey.MQL, owner__isnull=False, sla_due_at__isnull=False
    ).select_related("owner")


def _follow_up_rows() -> QuerySet[Lead]:
    return Lead.objects.filter(
        stage__in=OPEN_STAGES, owner__isnull=False, next_follow_up_at__isnull=False
    ).select_related("owner")


# --- what the alert job acts on ------------------------------------------------------------


def handoffs_pending(*, now: datetime) -> list[Handoff]:
    """Open hand-offs whose reminder or escalation time has come (within the lookbacks):
    the alert job decides which step each still needs."""
    agreement = agreement_active()
    if agreement is None:
        return []
    managers = _managers()
    remind_from = now - REMINDER_LOOKBACK
    items: list[Handoff] = []
    intel_window = timedelta(days=agreement.intel_ack_days)
    items += _intel(
        agreement,
        _intel_rows().filter(
            status=IntelStatus.NEW, created_at__gt=now - intel_window - ESCALATION_LOOKBACK
        ),
    )
    dispute_window = timedelta(days=agreement.dispute_resolution_days)
    items += _disputes(
        agreement,
        _dispute_rows().filter(
            status=DisputeStatus.OPEN,
            created_at__gt=now - dispute_window - ESCALATION_LOOKBACK,
        ),
    )
    items += [
        h
        for h in _briefings(
            agreement,
            _briefing_rows().filter(
                published_at__gt=now
                - timedelta(days=agreement.briefing_ack_days)
                - ESCALATION_LOOKBACK,
                published_at__lte=now,
            ),
            managers,
        )
        if h.done_at is None
    ]
    # An MQL's reminder comes at most `handoff_reminder_hours` before its SLA.
    ahead = timedelta(hours=agreement.handoff_reminder_hours)
    items += [
        _lead_handoff(agreement, lead, HandoffKind.MQL_ACCEPTANCE, managers)
        for lead in _mql_rows().filter(
            sla_due_at__gt=now - ESCALATION_LOOKBACK, sla_due_at__lte=now + ahead
        )
    ]
    grace = timedelta(hours=agreement.follow_up_grace_hours)
    items += [
        _lead_handoff(agreement, lead, HandoffKind.FOLLOW_UP, managers)
        for lead in _follow_up_rows().filter(
            next_follow_up_at__gt=now - grace - ESCALATION_LOOKBACK,
            next_follow_up_at__lte=now,
        )
    ]
    return [
        h
        for h in items
        if (remind_from < h.remind_at <= now < h.escalate_at)
        or (now - ESCALATION_LOOKBACK < h.escalate_at <= now)
    ]


# --- the reader's list ---------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffLists:
    overdue: list[Handoff]
    due: list[Handoff]
    escalated: list[Handoff]
    now: datetime


def handoffs_for(*, user: User, now: datetime | None = None) -> HandoffLists:
    """What waits on `user` (overdue, then due within DUE_SOON) and what went past its due
    time among those they are told about at escalation (their reps', their team's)."""
    now = now or timezone.now()
    agreement = agreement_active()
    if agreement is None:
        return HandoffLists(overdue=[], due=[], escalated=[], now=now)
    managers = _managers()
    items: list[Handoff] = []
    marketing = user_has_role(user, Role.MARKETER, Role.MARKETING_MANAGER)
    sales_manager = user_has_role(user, Role.SALES_MANAGER)
    executive = user_has_role(user, Role.EXECUTIVE)
    if marketing:
        items += _intel(agreement, _intel_rows().filter(status=IntelStatus.NEW))
    items += _disputes(agreement, _dispute_rows().filter(status=DisputeStatus.OPEN))
    briefings = _briefing_rows().filter(
        Q(campaign__ends_on__isnull=True) | Q(campaign__ends_on__gte=deployment_date(now))
    )
    if sales_manager or marketing or executive:
        items += [h for h in _briefings(agreement, briefings, managers) if h.done_at is None]
    else:
        items += [
            h
            for h in _briefings(agreement, briefings, managers, user_id=user.pk)
            if h.done_at is None
        ]
    horizon = now + DUE_SOON
    lead_filter = Q(owner=user)
    if sales_manager:
        team = TerritoryMember.objects.filter(territory__manager=user).values("user_id")
        lead_filter |= Q(territory__manager=user) | Q(owner__in=team)
    # The lead lists are long for a busy team: the most pressing LEAD_LIMIT of each kind.
    items += [
        _lead_handoff(agreement, lead, HandoffKind.MQL_ACCEPTANCE, managers)
        for lead in _mql_rows()
        .filter(lead_filter, sla_due_at__lte=horizon)
        .order_by("sla_due_at", "pk")[:LEAD_LIMIT]
    ]
    items += [
        _lead_handoff(agreement, lead, HandoffKind.FOLLOW_UP, managers)
        for lead in _follow_up_rows()
        .filter(lead_filter, next_follow_up_at__lte=horizon)
        .order_by("next_follow_up_at", "pk")[:LEAD_LIMIT]
    ]
    mine = [h for h in items if user.pk in h.owner_ids]
    theirs = [
        h
        for h in items
        if user.pk not in h.owner_ids and user.pk in h.escalate_to and now >= h.escalate_at
    ]
    by_due = sorted(mine, key=lambda h: (h.due_at, h.kind, h.subject))
    return HandoffLists(
        overdue=[h for h in by_due if h.is_overdue(now)],
        due=[h for h in by_due if h.due_at > now and h.due_at <= horizon],
        escalated=sorted(theirs, key=lambda h: (h.due_at, h.kind, h.subject)),
        now=now,
    )


# --- the meeting pack ----------------------------------------------------------------------


def handoffs_overdue_in_week(
    *, start_at: datetime, end_at: datetime, territory: int | None = None
) -> list[Handoff]:
    """Every hand-off that was overdue at some moment of the week [start_at, end_at):
    due before the week ended and not done before the later of its due time and the
    week's start. A past week reads as it was (each record keeps when it was done); an
    MQL accepted late shows through its SLA breach; a planned follow-up only while it
    is still planned (a lead keeps no history of its plans)."""
    agreement = agreement_in_force(at=end_at) or agreement_active()
    if agreement is None:
        return []
    managers = _managers()
    now = timezone.now()
    cutoff = min(end_at, now)
    items: list[Handoff] = []
    intel_allowed = timedelta(days=agreement.intel_ack_days)
    items += _intel(
        agreement,
        _intel_rows().filter(
            Q(acknowledged_at__isnull=True) | Q(acknowledged_at__gt=start_at),
            created_at__lt=cutoff - intel_allowed,
        ),
    )
    dispute_allowed = timedelta(days=agreement.dispute_resolution_days)
    items += _disputes(
        agreement,
        _dispute_rows().filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gt=start_at),
            created_at__lt=cutoff - dispute_allowed,
        ),
    )
    items += _briefings(
        agreement,
        _briefing_rows().filter(
            published_at__lt=cutoff,
            published_at__gt=start_at - timedelta(days=agreement.briefing_ack_days + 90),
        ),
        managers,
    )
    # An MQL was overdue in the week when its SLA breach fell in it, or fell earlier and
    # the lead still waits in MQL on that deadline.
    breaches = (
        SlaBreach.objects.filter(stage=StageKey.MQL, due_at__lt=cutoff)
        .filter(Q(due_at__gte=start_at) | Q(lead__stage=StageKey.MQL, lead__sla_due_at=F("due_at")))
        .select_related("lead__owner")
    )
    for breach in breaches:
        lead = breach.lead
        lead.sla_due_at = breach.due_at
        items.append(
            replace(
                _lead_handoff(agreement, lead, HandoffKind.MQL_ACCEPTANCE, managers),
                owner_ids=(breach.owner_id,) if breach.owner_id else (),
                territory_id=breach.territory_id,
            )
        )
    if start_at <= now < end_at + timedelta(days=7):
        items += [
            _lead_handoff(agreement, lead, HandoffKind.FOLLOW_UP, managers)
            for lead in _follow_up_rows().filter(
                next_follow_up_at__lt=cutoff, next_follow_up_at__gte=start_at
            )
        ]
    overdue = [
        h
        for h in items
        if h.due_at < cutoff and (h.done_at is None or h.done_at > max(h.due_at, start_at))
    ]
    if territory is not None:
        overdue = [h for h in overdue if h.territory_id == territory]
    return sorted(overdue, key=lambda h: (h.kind, h.due_at, h.subject))
