"""What becomes a webhook: lead, SLA and deal events (config.events), and the hand-over
of recorded deliveries to the worker. The feedback, campaign and metric services, which
sit above webhooks, call `webhook_emit` themselves."""

from __future__ import annotations

from alignment.models import WebhookEvent
from alignment.webhooks.events import WebhookDeliveriesRecorded
from alignment.webhooks.services import webhook_emit, webhook_lead_payload, webhook_subscribed
from alignment.webhooks.tasks import webhook_enqueue_many
from config.events import subscriber
from leads.events import (
    DealClosed,
    FollowUpLogged,
    LeadCreated,
    LeadsImported,
    LeadTransitioned,
    SlaBreached,
)
from leads.models import Deal, FollowUp, Lead, SlaBreach, StageEvent


@subscriber(WebhookDeliveriesRecorded)
def deliveries_to_worker(event: WebhookDeliveriesRecorded) -> None:
    # Published by the outbox once the deliveries' transaction has committed: one
    # message to the worker now (a broker that is down leaves them for the sweep).
    webhook_enqueue_many(delivery_ids=list(event.delivery_ids))


@subscriber(LeadCreated)
def lead_created(event: LeadCreated) -> None:
    if webhook_subscribed(WebhookEvent.LEAD_CREATED):
        _lead_created(Lead.objects.get(pk=event.lead_id))


@subscriber(LeadsImported)
def leads_imported(event: LeadsImported) -> None:
    if webhook_subscribed(WebhookEvent.LEAD_CREATED):
        for lead in Lead.objects.filter(pk__in=event.lead_ids).order_by("pk"):
            _lead_created(lead)


def _lead_created(lead: Lead) -> None:
    webhook_emit(
        event=WebhookEvent.LEAD_CREATED,
        key=f"lead:{lead.pk}",
        payload=webhook_lead_payload(lead=lead),
    )


def transition_webhook_event(*, from_stage: str, to_stage: str) -> str | None:
    """lead.qualified (→ mql), lead.accepted (mql → sal), lead.rejected (mql → out)."""
    if to_stage == "mql":
        return WebhookEvent.LEAD_QUALIFIED
    if from_stage == "mql" and to_stage == "sal":
        return WebhookEvent.LEAD_ACCEPTED
    if from_stage == "mql" and to_stage in ("recycled", "disqualified"):
        return WebhookEvent.LEAD_REJECTED
    return None


@subscriber(LeadTransitioned)
def lead_transitioned(event: LeadTransitioned) -> None:
    name = transition_webhook_event(from_stage=event.from_stage, to_stage=event.to_stage)
    if name is None or not webhook_subscribed(name):
        return
    webhook_emit(
        event=name,
        key=f"stage_event:{event.stage_event_id}",
        payload=webhook_lead_payload(
            lead=Lead.objects.get(pk=event.lead_id),
            stage_event=StageEvent.objects.get(pk=event.stage_event_id),
        ),
    )


@subscriber(SlaBreached)
def sla_breached(event: SlaBreached) -> None:
    if not webhook_subscribed(WebhookEvent.SLA_BREACHED):
        return
    breach = SlaBreach.objects.get(pk=event.breach_id)
    webhook_emit(
        event=WebhookEvent.SLA_BREACHED,
        key=f"breach:{breach.pk}",
        payload={
            "lead": breach.lead_id,
            "stage": breach.stage,
            "due_at": breach.due_at.isoformat(),
            "detected_at": breach.detected_at.isoformat(),
            "owner": breach.owner_id,
            "territory": breach.territory_id,
        },
    )


@subscriber(FollowUpLogged)
def follow_up_logged(event: FollowUpLogged) -> None:
    if not webhook_subscribed(WebhookEvent.FOLLOW_UP_LOGGED):
        return
    follow_up = FollowUp.objects.get(pk=event.follow_up_id)
    webhook_emit(
        event=WebhookEvent.FOLLOW_UP_LOGGED,
        key=f"follow_up:{follow_up.pk}",
        payload={
            "follow_up": follow_up.pk,
            "lead": follow_up.lead_id,
            "author": follow_up.author_id,
            "kind": follow_up.kind,
            "outcome": follow_up.outcome,
            "is_contact": follow_up.is_contact,
            "within_sla": follow_up.within_sla,
            "occurred_at": follow_up.occurred_at.isoformat(),
            "next_follow_up_at": follow_up.next_follow_up_at.isoformat()
            if follow_up.next_follow_up_at
            else None,
        },
    )


@subscriber(DealClosed)
def deal_closed(event: DealClosed) -> None:
    name = WebhookEvent.DEAL_WON if event.outcome == "won" else WebhookEvent.DEAL_LOST
    if not webhook_subscribed(name):
        return
    deal = Deal.objects.get(pk=event.deal_id)
    webhook_emit(
        event=name,
        key=f"deal:{deal.pk}",
        payload={
            "deal": deal.pk,
            "lead": deal.lead_id,
            "amount": str(deal.amount),
            "gross_margin": None if deal.gross_margin is None else str(deal.gross_margin),
            "outcome": deal.outcome,
            "lost_reason": deal.lost_reason,
            "closed_at": deal.closed_at.isoformat() if deal.closed_at else None,
            "owner": deal.owner_id,
        },
    )
