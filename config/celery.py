"""The Celery app and the whole beat schedule, in one place."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("accord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

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
