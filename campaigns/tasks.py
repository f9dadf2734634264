"""Thin Celery wrappers around campaign services."""

from __future__ import annotations

from celery import shared_task

from campaigns.services import campaigns_acceptance_check


@shared_task(name="campaigns.tasks.check_campaign_acceptance", acks_late=True)
def check_campaign_acceptance() -> list[int]:
    """Daily: flag campaigns whose leads sales accepts below the floor; safe to run twice."""

    return campaigns_acceptance_check()
