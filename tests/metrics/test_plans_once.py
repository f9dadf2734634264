"""A week's plans for every territory from one grouped read of the trailing cohorts equal
each territory's plan computed on its own (golden test over generated histories)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment.models import StageKey
from leads.models import Deal, DealOutcome, StageEvent
from metrics.definitions import MetricFilter, plan_compute, plans_compute
from metrics.models import Target
from metrics.reporting.services import scorecard_build, scorecards_compute
from metrics.rollups import rollups_refresh
from tests.factories import LeadFactory, TerritoryFactory

pytestmark = pytest.mark.django_db

WEEK = date(2026, 6, 1)
PATH = [StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY, StageKey.WON]


def _history(seed: int) -> list[int]:
    """Leads in three territories and none, walking the funnel over the half-year before
    WEEK, some rejected and re-qualified (entering a stage twice), with won deals."""
    rng = random.Random(seed)
    territories = [TerritoryFactory(code=f"t{seed}-{n}").pk for n in range(3)]
    start = datetime(2025, 11, 1, tzinfo=UTC)
    for n in range(70):
        territory = rng.choice([*territories, None])
        created = start + timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23))
        lead = LeadFactory(email=f"g{seed}-{n}@x.test", territory_id=territory)
        at, stage = created, StageKey.INQUIRY
        StageEvent.objects.create(lead=lead, to_stage=stage, occurred_at=at)
        for step in PATH[: rng.randint(0, len(PATH))]:
            at += timedelta(days=rng.randint(0, 12), hours=rng.randint(1, 20))
            if step == StageKey.SAL and rng.random() < 0.2:  # rejected, then again an MQL
                StageEvent.objects.create(
                    lead=lead, from_stage=stage, to_stage=StageKey.RECYCLED, occurred_at=at
                )
                at += timedelta(days=rng.randint(1, 20))
                StageEvent.objects.create(
                    lead=lead, from_stage=StageKey.RECYCLED, to_stage=StageKey.MQL, occurred_at=at
                )
            StageEvent.objects.create(lead=lead, from_stage=stage, to_stage=step, occurred_at=at)
            stage = step
        if stage == StageKey.WON:
            Deal.objects.create(
                lead=lead, name=f"Deal {n}", amount=Decimal(rng.randint(1000, 90000)),
                outcome=DealOutcome.WON, closed_at=at,
            )  # fmt: skip
    for territory in [None, *territories]:
        Target.objects.create(
            territory_id=territory, period="month", starts_on=date(2026, 6, 1),
            ends_on=date(2026, 7, 1),
            revenue_target=Decimal(rng.randint(50_000, 500_000)),
        )  # fmt: skip
    return territories


@pytest.mark.parametrize("seed", [7, 21, 1999])
def test_the_plans_of_a_week_read_once_equal_each_plan_on_its_own(active_agreement, seed):
    territories = _history(seed)
    f = MetricFilter(start=WEEK, end=WEEK + timedelta(days=7))
    plans = plans_compute(f=f, territories=territories)
    for territory in [None, *territories]:
        alone = plan_compute(f=MetricFilter(start=f.start, end=f.end, territory=territory))
        assert plans[territory] == alone, territory
    assert any(plan.needed.get(StageKey.MQL) for plan in plans.values())  # not all empty


def test_the_weekly_job_stores_what_each_scorecard_computes_alone(active_agreement):
    territories = _history(3)
    results = scorecards_compute(week=WEEK, trailing=0)
    assert len(results) == 1 + len(territories)
    for result in results:
        card = result.scorecard
        alone = scorecard_build(week=WEEK, territory=card.territory_id)
        assert card.metrics == alone.metrics and card.components == alone.components


def test_the_trailing_cohorts_are_read_once_for_every_territory(active_agreement):
    territories = _history(5)
    f = MetricFilter(start=WEEK, end=WEEK + timedelta(days=7))
    rollups_refresh()  # the day rollups are up to date (metrics.rollups)
    with CaptureQueriesContext(connection) as one:
        plans_compute(f=f, territories=territories[:1])
    with CaptureQueriesContext(connection) as three:
        plans_compute(f=f, territories=territories)
    # The cohort and deal-size queries do not grow with the territories; the target does.
    for ctx in (one, three):
        cohorts = [q for q in ctx.captured_queries if '"metrics_stagedayrollup"' in q["sql"]]
        assert len(cohorts) == 5  # one per conversion step, every territory in it
        sizes = [q for q in ctx.captured_queries if 'AVG("leads_deal"."amount")' in q["sql"]]
        assert len(sizes) == 2  # overall, and grouped by territory
    assert len(three) - len(one) == 2 * 1  # each territory's revenue target
