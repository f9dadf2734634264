"""The worker's side of webhooks: fan a transaction's deliveries out, attempt each one.

Task names are their identity on the wire (queued messages); they keep the names they
had before webhooks got a package of their own.
"""

from __future__ import annotations

import logging

from celery import shared_task

from alignment.webhooks.services import (
    FAN_OUT_CHUNK,
    webhook_deliver,
    webhook_fan_out,
    webhook_pending_sweep,
)

logger = logging.getLogger(__name__)


@shared_task(name="alignment.tasks.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    """One signed attempt; a failure is retried with exponential backoff until the
    delivery's attempts run out. A delivery already done (or gone) is skipped: safe twice."""
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
    pending = webhook_fan_out(delivery_ids=delivery_ids)
    for pk in pending:
        webhook_enqueue(delivery_id=pk)
    return len(pending)


@shared_task(name="alignment.tasks.sweep_webhook_deliveries", acks_late=True)
def sweep_webhook_deliveries() -> int:
    """Enqueue deliveries that never reached the broker; safe to run twice."""
    ids = webhook_pending_sweep()
    for pk in ids:
        webhook_enqueue(delivery_id=pk)
    return len(ids)


def webhook_enqueue(*, delivery_id: int, countdown: int | None = None) -> None:
    """Hand one delivery to Celery; a broker failure leaves it pending for the sweep."""
    try:
        deliver_webhook.apply_async(args=[delivery_id], countdown=countdown)
    except Exception:  # the broker is down: the periodic sweep enqueues it later
        logger.exception("Could not enqueue webhook delivery %s", delivery_id)


def webhook_enqueue_many(*, delivery_ids: list[int]) -> None:
    """Hand deliveries to the worker in messages of FAN_OUT_CHUNK ids, not one per delivery.

    A broker failure leaves them pending for the sweep.
    """
    for start in range(0, len(delivery_ids), FAN_OUT_CHUNK):
        chunk = delivery_ids[start : start + FAN_OUT_CHUNK]
        try:
            deliver_webhooks.apply_async(args=[chunk])
        except Exception:  # the broker is down: the periodic sweep enqueues them later
            logger.exception("Could not enqueue %s webhook deliveries", len(chunk))
