"""Thin Celery wrappers around alignment services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="alignment.tasks.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    from alignment.services import idempotency_keys_purge

    return idempotency_keys_purge()
