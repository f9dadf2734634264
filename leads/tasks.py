"""Thin Celery wrappers around leads services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="leads.tasks.check_slas", acks_late=True)
def check_slas() -> int:
    """Every 5 minutes: record new SLA breaches and notify; safe to run twice or at once."""
    from leads.services.sales import sla_breaches_check

    return sla_breaches_check().recorded
