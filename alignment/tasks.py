"""Thin Celery wrappers around alignment services (the worker's entry points); the webhook
tasks live in alignment.webhooks.tasks and are registered from here.

A task's `name` is its identity on the wire (queued messages, beat's schedule): it
stays the same when the code behind it moves.
"""

from __future__ import annotations

from celery import shared_task

from alignment.agreement.services import idempotency_keys_purge
from alignment.handoffs.services import handoffs_alert
from alignment.webhooks.tasks import deliver_webhook, deliver_webhooks, sweep_webhook_deliveries
from config.health import beat_heartbeat_record

__all__ = [
    "beat_heartbeat",
    "deliver_webhook",
    "deliver_webhooks",
    "purge_idempotency_keys",
    "send_handoff_alerts",
    "sweep_webhook_deliveries",
]


@shared_task(name="alignment.tasks.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    return idempotency_keys_purge()


@shared_task(name="alignment.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Beat's proof of life: /healthz shows when a scheduled task last ran."""
    beat_heartbeat_record()


@shared_task(name="alignment.tasks.send_handoff_alerts", acks_late=True)
def send_handoff_alerts() -> dict[str, int]:
    """Remind owners of hand-offs coming due and escalate the overdue ones, each once."""
    run = handoffs_alert()
    return {"reminders": run.reminders, "escalations": run.escalations}
