"""Thin Celery wrappers around metrics services."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from metrics.reporting.services import last_complete_week, scorecards_compute
from metrics.rollups import rollups_refresh


@shared_task(name="metrics.tasks.compute_weekly_scorecards", acks_late=True)
def compute_weekly_scorecards(week: str | None = None) -> int:
    """Monday morning: last week's scorecards and the trailing 12 weeks (upserts; rerunnable).

    `week` is any day of the week as YYYY-MM-DD; without it, the last complete week.
    """

    day = date.fromisoformat(week) if week else last_complete_week()
    return len(scorecards_compute(week=day))


@shared_task(name="metrics.tasks.refresh_rollups", acks_late=True)
def refresh_rollups() -> bool:
    """Every few seconds: the days of the funnel's rollups that changed, recomputed (and
    the whole, when none are built yet or the deployment's time zone changed)."""
    return rollups_refresh()
