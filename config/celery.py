"""The Celery app, the queue of each kind of work and the whole beat schedule, in one place."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("accord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The queue of each kind of work (settings.CELERY_TASK_QUEUES): imports, the metrics'
# heavy work (scorecards, rollups, rescoring) and webhook deliveries (remote receivers can
# be slow) each have their own, so none of them delays what people wait for: every other
# task (notifications, SLA checks, hand-off reminders, digests, housekeeping) is
# `interactive`. By task name, the name on the wire.
QUEUE_OF = {
    "leads.tasks.import_leads_file": "imports",
    "leads.tasks.settle_search_index": "imports",
    "metrics.tasks.compute_weekly_scorecards": "metrics",
    "metrics.tasks.refresh_rollups": "metrics",
    "alignment.tasks.rescore_all_leads": "metrics",
    "alignment.tasks.promote_qualifying_leads": "metrics",
    "alignment.tasks.apply_score_decay": "metrics",
    "alignment.tasks.deliver_webhook": "webhooks",
    "alignment.tasks.deliver_webhooks": "webhooks",
    "alignment.tasks.sweep_webhook_deliveries": "webhooks",
}


def task_route(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict:
    """Celery's router (settings.CELERY_TASK_ROUTES): a task's queue by its kind of work.
    A queue given to apply_async wins (the fault tests' private queues)."""
    return {"queue": settings.CELERY_QUEUE_PREFIX + QUEUE_OF.get(name, "interactive")}


app.conf.beat_schedule = {
    "compute-weekly-scorecards": {
        "task": "metrics.tasks.compute_weekly_scorecards",
        # Monday 06:00 in the deployment's time zone (CELERY_TIMEZONE = TIME_ZONE).
        "schedule": crontab(minute=0, hour=6, day_of_week="mon"),
    },
    # Proof of life for beat (shown on /healthz); the interval is tunable for the fault tests.
    "beat-heartbeat": {
        "task": "alignment.tasks.beat_heartbeat",
        "schedule": float(os.environ.get("ACCORD_BEAT_HEARTBEAT_SECONDS", "60")),
    },
    "purge-idempotency-keys": {
        "task": "alignment.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17, hour=3),
    },
    "sweep-webhook-deliveries": {
        "task": "alignment.tasks.sweep_webhook_deliveries",
        "schedule": crontab(minute="*/10"),
    },
    "check-slas": {
        "task": "leads.tasks.check_slas",
        "schedule": crontab(minute="*/5"),
    },
    # Hand-offs (intel, briefings, disputes, MQLs, planned follow-ups): owners reminded
    # before the due time, managers told after it, each once.
    "send-handoff-alerts": {
        "task": "alignment.tasks.send_handoff_alerts",
        "schedule": crontab(minute="*/5"),
    },
    # The morning digest of the day's agenda, to those who opted in (06:00 deployment time).
    "send-agenda-digests": {
        "task": "leads.tasks.send_agenda_digests",
        "schedule": crontab(minute=0, hour=6),
    },
    # An import that stopped beating (worker killed, timed out) is failed, never "running"
    # forever; uploads nobody will import are deleted after LEAD_IMPORT_UPLOAD_MAX_AGE_HOURS.
    "fail-stalled-imports": {
        "task": "leads.tasks.fail_stalled_imports",
        "schedule": crontab(minute="*/5"),
    },
    "purge-import-uploads": {
        "task": "leads.tasks.purge_import_uploads",
        "schedule": crontab(minute=23),
    },
    "apply-score-decay": {
        "task": "alignment.tasks.apply_score_decay",
        "schedule": crontab(minute=5, hour=2),
    },
    # The funnel's day rollups (metrics.rollups): the days changed since, recomputed.
    "refresh-rollups": {
        "task": "metrics.tasks.refresh_rollups",
        "schedule": float(os.environ.get("ACCORD_ROLLUP_REFRESH_SECONDS", "10")),
    },
    "check-campaign-acceptance": {
        "task": "campaigns.tasks.check_campaign_acceptance",
        "schedule": crontab(minute=40, hour=6),
    },
}
