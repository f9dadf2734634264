"""A week's scorecards read each metric once for every territory (grouped by the lead's
territory): the values equal each territory's own, on the demo's records and rollups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.dates import deployment_date, week_start_of
from metrics.definitions import (
    MetricFilter,
    metric_values,
    metric_values_by_territory,
    plans_compute,
)
from metrics.models import RollupState, Territory
from metrics.reporting.services import scorecards_compute
from metrics.rollups import rollups_refresh

pytestmark = pytest.mark.django_db


def _each_alone(f: MetricFilter, territories: list[int], plans: dict) -> dict:
    return {
        key: metric_values(f=f if key is None else MetricFilter(f.start, f.end, territory=key),
                           plan=plans[key])
        for key in [None, *territories]
    }  # fmt: skip


def test_every_metric_of_every_territory_at_once_equals_each_alone(active_agreement):
    call_command("seed_demo", "--leads", "150", verbosity=0)
    territories = list(Territory.objects.order_by("pk").values_list("pk", flat=True))
    assert len(territories) >= 2
    this_week = week_start_of(deployment_date())
    checked = 0
    for weeks_back in (1, 2, 4):
        start = this_week - timedelta(weeks=weeks_back)
        f = MetricFilter(start=start, end=start + timedelta(days=7))
        for from_rollups in (True, False):
            if from_rollups:
                rollups_refresh()
                assert RollupState.objects.exists()
            else:
                RollupState.objects.all().delete()  # no rollups built: the records are read
            plans = plans_compute(f=f, territories=territories)
            together = metric_values_by_territory(f=f, territories=territories, plans=plans)
            assert together == _each_alone(f, territories, plans), (start, from_rollups)
            checked += sum(1 for values in together.values() for v in values.values() if v)
    assert checked > 100  # the demo's weeks have figures to compare, not only zeros


def test_a_weeks_scorecards_read_each_grouped_metric_once(active_agreement):
    call_command("seed_demo", "--leads", "60", verbosity=0)
    week = week_start_of(deployment_date()) - timedelta(weeks=1)
    scorecards_compute(week=week, trailing=0)  # warm: cached agreement, rollups refreshed
    with CaptureQueriesContext(connection) as two_or_more:
        cards = scorecards_compute(week=week, trailing=0)
    territories = Territory.objects.count()
    assert len(cards) == territories + 1
    Territory.objects.filter(pk__in=Territory.objects.order_by("-pk").values("pk")[:1]).delete()
    scorecards_compute(week=week, trailing=0)
    with CaptureQueriesContext(connection) as one_fewer:
        scorecards_compute(week=week, trailing=0)
    # One territory fewer costs its scorecard's row and intel's per-territory reads, not
    # a read of every metric again.
    assert len(two_or_more) - len(one_fewer) < 25, (len(two_or_more), len(one_fewer))
