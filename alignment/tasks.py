"""Thin Celery wrappers around alignment services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="alignment.tasks.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    from alignment.services import idempotency_keys_purge

    return idempotency_keys_purge()


@shared_task(name="alignment.tasks.apply_score_decay", acks_late=True)
def apply_score_decay() -> int:
    """Nightly: rescore every lead so engagement points decay; safe to run twice."""
    from alignment.services import scores_decay_apply

    return scores_decay_apply().rescored


@shared_task(name="alignment.tasks.rescore_all_leads", acks_late=True)
def rescore_all_leads(agreement_id: int) -> int:
    """After a version becomes active: rescore every lead; a no-op if it is no longer active."""
    from alignment.services.agreement import agreement_rescore_active

    return agreement_rescore_active(agreement_id=agreement_id)
