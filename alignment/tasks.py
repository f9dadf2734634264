"""Thin Celery wrappers around alignment services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="alignment.tasks.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    from alignment.agreement.services import idempotency_keys_purge

    return idempotency_keys_purge()


@shared_task(name="alignment.tasks.apply_score_decay", acks_late=True)
def apply_score_decay() -> int:
    """Nightly: rescore every lead so engagement points decay; safe to run twice."""
    from leads.services.rescoring import scores_decay_apply

    return scores_decay_apply().rescored


PROMOTION_BATCH = 2000


@shared_task(name="alignment.tasks.rescore_all_leads", acks_late=True)
def rescore_all_leads(agreement_id: int) -> int:
    """After a version becomes active: rescore every lead, then promote in batches.

    A no-op if the version is no longer active; safe to run twice.
    """
    from alignment.agreement.services import agreement_rescore_active

    rescored = agreement_rescore_active(agreement_id=agreement_id, promote=False)
    promote_qualifying_leads.delay(agreement_id)
    return rescored


@shared_task(name="alignment.tasks.promote_qualifying_leads", acks_late=True)
def promote_qualifying_leads(agreement_id: int) -> int:
    """Move up to PROMOTION_BATCH qualifying leads to mql; re-enqueue while more remain.

    Batches keep each run far inside the task time limit however many leads qualify.
    A no-op once the version is no longer active; safe to run twice.
    """
    from alignment.models import Agreement, AgreementStatus
    from leads.services.rescoring import leads_promote_qualifying

    agreement = Agreement.objects.filter(pk=agreement_id, status=AgreementStatus.ACTIVE).first()
    if agreement is None:
        return 0
    looked_at, promoted = leads_promote_qualifying(agreement=agreement, limit=PROMOTION_BATCH)
    if looked_at == PROMOTION_BATCH and promoted:
        promote_qualifying_leads.delay(agreement_id)
    return promoted


@shared_task(name="alignment.tasks.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    """One signed attempt; a failure is retried with exponential backoff until the
    delivery's attempts run out. A delivery already done (or gone) is skipped: safe twice."""
    from alignment.webhooks.services import webhook_deliver

    outcome = webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="alignment.tasks.deliver_webhooks", acks_late=True)
def deliver_webhooks(delivery_ids: list[int]) -> int:
    """Fan out one committed transaction's deliveries (up to FAN_OUT_CHUNK) to
    deliver_webhook, so the request that recorded them enqueued a single message.
    Deliveries gone or done are left out; run twice, a delivery is attempted once more
    only if it is still pending."""
    from alignment.webhooks.services import webhook_fan_out

    return webhook_fan_out(delivery_ids=delivery_ids)


@shared_task(name="alignment.tasks.sweep_webhook_deliveries", acks_late=True)
def sweep_webhook_deliveries() -> int:
    """Enqueue deliveries that never reached the broker; safe to run twice."""
    from alignment.webhooks.services import webhook_pending_sweep

    return webhook_pending_sweep()


@shared_task(name="alignment.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Beat's proof of life: /healthz shows when a scheduled task last ran."""
    from config.health import beat_heartbeat_record

    beat_heartbeat_record()
