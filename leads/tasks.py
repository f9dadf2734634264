"""Thin Celery wrappers around leads services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="leads.tasks.check_slas", acks_late=True)
def check_slas() -> int:
    """Every 5 minutes: record new SLA breaches and notify; safe to run twice or at once."""
    from leads.services.sales import sla_breaches_check

    return sla_breaches_check().recorded


@shared_task(
    name="leads.tasks.import_leads_file",
    acks_late=True,
    time_limit=settings.LEAD_IMPORT_TIME_LIMIT,
    soft_time_limit=settings.LEAD_IMPORT_TIME_LIMIT - 60,
)
def import_leads_file(import_id: int) -> str:
    """Run a pending import from its stored upload; a run already claimed, finished or gone
    is skipped, so a task delivered twice imports once."""
    from leads.imports.services import lead_import_run

    record = lead_import_run(import_id=import_id)
    return record.status if record is not None else "skipped"


@shared_task(name="leads.tasks.fail_stalled_imports", acks_late=True)
def fail_stalled_imports() -> int:
    """Every 5 minutes: a running import silent past LEAD_IMPORT_STALE_SECONDS is marked
    failed (its committed rows stay); safe to run twice or at once."""
    from leads.imports.services import lead_imports_fail_stalled

    return lead_imports_fail_stalled()


@shared_task(name="leads.tasks.purge_import_uploads", acks_late=True)
def purge_import_uploads() -> int:
    """Hourly: delete uploaded files nobody will import (never mapped, never started, left
    over); safe to run twice."""
    from leads.imports.services import import_uploads_purge

    return import_uploads_purge()
