"""Thin Celery wrappers around leads services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="leads.tasks.check_slas", acks_late=True)
def check_slas() -> int:
    """Every 5 minutes: record new SLA breaches and notify; safe to run twice or at once."""
    from leads.services.sales import sla_breaches_check

    return sla_breaches_check().recorded


@shared_task(name="leads.tasks.import_leads_file", acks_late=True)
def import_leads_file(
    import_id: int, path: str, name: str, mapping: dict, user_id: int | None
) -> None:
    """Import an uploaded file into its LeadImport run; a run already started is skipped."""
    from leads.views_import import import_file_run

    import_file_run(record_id=import_id, path=path, name=name, mapping=mapping, user_id=user_id)
