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
