"""Who is told what when a lead changes hands or waits too long (config.events).

The feedback, campaign and metric services, which sit above notifications, call
`notification_send` themselves.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alignment.models import StageKey
from alignment.notifications.services import notification_send
from config.events import subscriber
from config.formats import lead_label, moment_with_zone, person_name
from leads.events import (
    AGENDA_DIGEST,
    AgendaDigestDue,
    FollowUpDue,
    LeadReassigned,
    LeadsReassigned,
    SlaBreached,
)
from leads.models import Lead, SlaBreach
from metrics.models import Territory

LEAD_ASSIGNED = "lead.assigned"
SLA_BREACHED = "sla.breached"
FOLLOW_UP_DUE = "follow_up.due"


@subscriber(LeadReassigned)
def tell_the_new_owner(event: LeadReassigned) -> None:
    users = get_user_model().objects.in_bulk([event.owner_id, event.actor_id])
    owner, actor = users.get(event.owner_id), users.get(event.actor_id)
    lead = Lead.objects.get(pk=event.lead_id)
    actor_name = person_name(actor) if actor else ""
    notification_send(
        recipients=[owner],
        event=LEAD_ASSIGNED,
        dedupe_key=f"lead:{lead.pk}:{event.at.isoformat()}",
        title=lambda: (
            _("%(actor)s gave you the lead %(lead)s")
            % {"actor": actor_name, "lead": lead_label(lead)}
        ),
        url=reverse("leads:detail", args=[lead.pk]),
    )


@subscriber(LeadsReassigned)
def tell_the_new_owner_once(event: LeadsReassigned) -> None:
    """Many leads given at once: one notification, naming how many, opening the list."""
    users = get_user_model().objects.in_bulk([event.owner_id, event.actor_id])
    owner, actor = users.get(event.owner_id), users.get(event.actor_id)
    count = len(event.lead_ids)
    actor_name = person_name(actor) if actor else ""
    notification_send(
        recipients=[owner],
        event=LEAD_ASSIGNED,
        dedupe_key=f"leads:{event.owner_id}:{event.at.isoformat()}",
        title=lambda: (
            ngettext(
                "%(actor)s gave you %(count)d lead",
                "%(actor)s gave you %(count)d leads",
                count,
            )
            % {"actor": actor_name, "count": count}
        ),
        url=reverse("leads:list") + f"?owner={event.owner_id}&state=open",
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


@subscriber(SlaBreached)
def tell_owner_and_manager(event: SlaBreached) -> None:
    """The rep who owned the lead at the deadline, and the manager of its territory."""
    breach = SlaBreach.objects.select_related("lead").get(pk=event.breach_id)
    lead, due_at = breach.lead, breach.due_at
    owner = get_user_model().objects.filter(pk=breach.owner_id).first() if breach.owner_id else None
    stage_label = dict(StageKey.choices).get(breach.stage, breach.stage)  # lazy: their language
    notification_send(
        recipients=[owner, *_managers_of(lead=lead, owner=owner)],
        event=SLA_BREACHED,
        dedupe_key=f"breach:{breach.pk}",
        title=lambda: (
            _("SLA breached: %(lead)s waited too long in %(stage)s")
            % {"lead": lead_label(lead), "stage": stage_label}
        ),
        body=lambda: (
            _("%(lead)s (%(company)s) was due for action by %(due)s; owner: %(owner)s.")
            % {
                "lead": lead.full_name,
                "company": lead.company or "—",
                "due": moment_with_zone(due_at),
                "owner": person_name(owner) if owner else _("nobody"),
            }
        ),
        url=reverse("leads:detail", args=[lead.pk]),
    )


@subscriber(FollowUpDue)
def remind_the_owner(event: FollowUpDue) -> None:
    """A planned follow-up fell due: its owner is told once per lead and due moment."""
    owner = get_user_model().objects.filter(pk=event.owner_id).first()
    lead = Lead.objects.get(pk=event.lead_id)
    due_at = event.due_at
    notification_send(
        recipients=[owner],
        event=FOLLOW_UP_DUE,
        dedupe_key=f"lead:{lead.pk}:{due_at.isoformat()}",
        title=lambda: _("Follow-up due: %(lead)s") % {"lead": lead_label(lead)},
        body=lambda: (
            _("You planned to follow up with %(lead)s (%(company)s) at %(due)s.")
            % {
                "lead": lead.full_name,
                "company": lead.company or "—",
                "due": moment_with_zone(due_at),
            }
        ),
        url=reverse("leads:detail", args=[lead.pk]),
    )


@subscriber(AgendaDigestDue)
def send_the_agenda_digest(event: AgendaDigestDue) -> None:
    """The morning digest, once per user and day (they opted in to it)."""
    user = get_user_model().objects.filter(pk=event.user_id).first()
    notification_send(
        recipients=[user],
        event=AGENDA_DIGEST,
        dedupe_key=f"digest:{event.day.isoformat()}",
        title=lambda: _("Your agenda for %(day)s") % {"day": date_format(event.day, "DATE_FORMAT")},
        body=lambda: (
            _(
                "Overdue SLA clocks: %(overdue)s. Missed follow-ups: %(missed)s. "
                "Planned today: %(today)s. Next steps to schedule: %(to_schedule)s."
            )
            % {
                "overdue": event.overdue,
                "missed": event.missed,
                "today": event.today,
                "to_schedule": event.to_schedule,
            }
        ),
        url=reverse("leads:agenda"),
    )
