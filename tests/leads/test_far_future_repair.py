"""Moments stored at the end of the calendar before the date bounds existed are repaired
by a migration, so the lead pages load again east of UTC."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from django.apps import apps

from alignment.models import StageKey
from leads.models import FollowUp, Lead
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

repair = importlib.import_module("leads.migrations.0010_repair_far_future_moments").repair
FAR = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)


def test_far_future_moments_are_repaired_and_the_pages_load_east_of_utc(
    client, territory, team, settings
):
    settings.TIME_ZONE = "Europe/Warsaw"
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=FAR, last_activity_at=FAR)
    follow_up = FollowUp.objects.create(
        lead=lead, author=rep, kind="call", outcome="connected", occurred_at=FAR,
        next_follow_up_at=FAR,
    )  # fmt: skip
    client.force_login(rep)
    repair(apps, None)
    lead.refresh_from_db()
    follow_up.refresh_from_db()
    assert lead.next_follow_up_at is None and lead.last_activity_at is None
    assert follow_up.next_follow_up_at is None
    assert follow_up.occurred_at == follow_up.created_at
    for url in ("/leads/", f"/leads/{lead.pk}/", "/leads/queue/", "/leads/agenda/", "/"):
        assert client.get(url).status_code == 200, url
