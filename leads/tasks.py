"""Thin Celery wrappers around leads services (the worker's entry points).

A task's `name` is its identity on the wire (queued messages, beat's schedule): it stays
the same when the code behind it moves (the rescoring tasks kept the names they had in
alignment.tasks).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from alignment.models import Agreement, AgreementStatus
from leads.imports.importer import search_index_settle
from leads.imports.services import import_uploads_purge, lead_import_run, lead_imports_fail_stalled
from leads.services.reminders import agenda_digests_send
from leads.services.rescoring import (
    agreement_rescore_active,
    leads_promote_qualifying,
    scores_decay_apply,
)
from leads.services.sla import sla_breaches_check


@shared_task(name="leads.tasks.check_slas", acks_late=True)
def check_slas() -> int:
    """Every 5 minutes: record new SLA breaches and notify; safe to run twice or at once."""
    return sla_breaches_check().recorded


@shared_task(name="leads.tasks.settle_search_index", acks_late=True)
def settle_search_index() -> None:
    """After a large import: merge the search index's pending list (safe to run twice)."""
    search_index_settle()


@shared_task(name="leads.tasks.send_agenda_digests", acks_late=True)
def send_agenda_digests() -> int:
    """Every morning: the day's agenda to each user who opted in; once per user and day."""
    return agenda_digests_send()


@shared_task(
    name="leads.tasks.import_leads_file",
    acks_late=True,
    time_limit=settings.LEAD_IMPORT_TIME_LIMIT,
    soft_time_limit=settings.LEAD_IMPORT_TIME_LIMIT - 60,
)
def import_leads_file(import_id: int) -> str:
    """Run a pending import from its stored upload; a run already claimed, finished or gone
    is skipped, so a task delivered twice imports once."""
    record = lead_import_run(import_id=import_id)
    return record.status if record is not None else "skipped"


@shared_task(name="leads.tasks.fail_stalled_imports", acks_late=True)
def fail_stalled_imports() -> int:
    """Every 5 minutes: a running import silent past LEAD_IMPORT_STALE_SECONDS is marked
    failed (its committed rows stay); safe to run twice or at once."""
    return lead_imports_fail_stalled()


@shared_task(name="leads.tasks.purge_import_uploads", acks_late=True)
def purge_import_uploads() -> int:
    """Hourly: delete uploaded files nobody will import (never mapped, never started, left
    over); safe to run twice."""
    return import_uploads_purge()


@shared_task(name="alignment.tasks.apply_score_decay", acks_late=True)
def apply_score_decay() -> int:
    """Nightly: rescore every lead so engagement points decay; safe to run twice."""
    return scores_decay_apply().rescored


PROMOTION_BATCH = 2000


@shared_task(name="alignment.tasks.rescore_all_leads", acks_late=True)
def rescore_all_leads(agreement_id: int) -> int:
    """After a version becomes active: rescore every lead, then promote in batches.

    A no-op if the version is no longer active; safe to run twice.
    """
    rescored = agreement_rescore_active(agreement_id=agreement_id, promote=False)
    promote_qualifying_leads.delay(agreement_id)
    return rescored


@shared_task(name="alignment.tasks.promote_qualifying_leads", acks_late=True)
def promote_qualifying_leads(agreement_id: int) -> int:
    """Move up to PROMOTION_BATCH qualifying leads to mql; re-enqueue while more remain.

    Batches keep each run far inside the task time limit however many leads qualify.
    A no-op once the version is no longer active; safe to run twice.
    """
    agreement = Agreement.objects.filter(pk=agreement_id, status=AgreementStatus.ACTIVE).first()
    if agreement is None:
        return 0
    looked_at, promoted = leads_promote_qualifying(agreement=agreement, limit=PROMOTION_BATCH)
    if looked_at == PROMOTION_BATCH and promoted:
        promote_qualifying_leads.delay(agreement_id)
    return promoted
