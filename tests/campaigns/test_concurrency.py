"""Races on PostgreSQL: one launch wins, one touch per external id."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.agreement.services import agreement_create_default
from campaigns.models import Campaign, Touch, TouchKind
from campaigns.services import LaunchResult, campaign_launch, touch_record
from tests.conftest import need
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _race(n: int, work) -> list[object]:
    barrier = threading.Barrier(n)
    outcomes: list[object] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            result: object = work(i)
        except Exception as exc:
            result = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_marketers_launching_at_once_launch_once():
    need(connection.vendor == "postgresql", "concurrent launches need PostgreSQL")
    agreement_create_default()
    marketers = [UserFactory(username=f"m{i}", role=Role.MARKETER) for i in range(2)]
    campaign = CampaignFactory(owner=marketers[0])
    outcomes = _race(
        2,
        lambda i: campaign_launch(
            campaign=Campaign.objects.get(pk=campaign.pk),
            actor=marketers[i],
            confirm_below_threshold=True,
        ),
    )
    launched = [o for o in outcomes if isinstance(o, LaunchResult)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(launched) == 1 and len(refused) == 1, outcomes
    campaign.refresh_from_db()
    assert campaign.launched_by_id == launched[0].campaign.launched_by_id


def test_the_same_touch_pushed_five_times_at_once_is_stored_once():
    need(connection.vendor == "postgresql", "concurrent pushes need PostgreSQL")
    agreement_create_default()
    lead = LeadFactory()
    when = timezone.now()
    outcomes = _race(
        5,
        lambda i: (
            touch_record(
                lead=lead, kind=TouchKind.WEBINAR, occurred_at=when, external_id="zoom-42"
            ).touch
        ),
    )
    assert all(isinstance(o, Touch) for o in outcomes), outcomes
    assert Touch.objects.filter(external_id="zoom-42").count() == 1
    assert len({o.pk for o in outcomes}) == 1
