"""Scorecards: one week's (overall and every territory) and the full recompute, before
and after doubling the history (the week's cost should stay flat; the full recompute
has twice the weeks to do).
"""

from __future__ import annotations

import os
import random
import time

from bench.dataset import Dataset, dataset_double_history, worker_catch_up
from bench.registry import Measurement, benchmark

_BEFORE: dict[str, float] = {}
# Seconds the full recompute may take before the bench projects it from a sample of
# weeks instead (BENCH_RECOMPUTE_BUDGET overrides).
RECOMPUTE_BUDGET = {"tiny": 2, "small": 30, "100k": 180, "1m": 300}


def _full_recompute(*, label: str, budget: float, per_week: float) -> Measurement:
    """scorecards_compute_all when it fits the budget (by the one-week figure); else
    weeks picked at random across the history, one at a time until the budget is spent,
    and the total projected from their mean (the older weeks' trailing windows hold
    fewer leads, so sampling oldest first would flatter the figure)."""
    from django.utils import timezone

    from leads.models import Lead
    from metrics.definitions import deployment_tz, week_start_of
    from metrics.reporting.services import (
        last_complete_week,
        scorecard_weeks,
        scorecards_compute,
        scorecards_compute_all,
    )

    first = Lead.objects.order_by("created_at").values_list("created_at", flat=True).first()
    last = last_complete_week()
    start = week_start_of(timezone.localtime(first, deployment_tz()).date())
    weeks = scorecard_weeks(week=last, trailing=(last - start).days // 7)  # as compute_all
    extra = {"weeks": len(weeks), "goal": "< 60 s"}
    if per_week * len(weeks) <= budget:
        started = time.perf_counter()
        every = scorecards_compute_all()
        seconds = time.perf_counter() - started
        done = len({r.scorecard.week_start for r in every})
        return Measurement(
            name=f"scorecards full recompute{label}",
            seconds=seconds,
            rows=len(every),
            notes=f"{done} weeks, {seconds / max(len(every), 1) * 1000:.0f} ms per scorecard",
            extra={**extra, "projected": False},
        )
    sample = list(weeks)
    random.Random(0).shuffle(sample)
    started = time.perf_counter()
    cards = done = 0
    for week in sample:
        cards += len(scorecards_compute(week=week, trailing=0))
        done += 1
        if time.perf_counter() - started > budget:
            break
    spent = time.perf_counter() - started
    projected = spent / done * len(weeks)
    return Measurement(
        name=f"scorecards full recompute{label}",
        seconds=projected,
        rows=cards * len(weeks) // done,
        notes=f"PROJECTED from {done} of {len(weeks)} weeks ({spent:.0f} s, budget "
        f"{budget:.0f} s): {spent / max(cards, 1) * 1000:.0f} ms per scorecard",
        extra={**extra, "projected": True, "sampled_weeks": done, "sample_seconds": spent},
    )


def _week_and_all(label: str, dataset: Dataset) -> list[Measurement]:
    from metrics.reporting.services import last_complete_week, scorecards_compute

    week = last_complete_week()
    catch_up = worker_catch_up()
    started = time.perf_counter()
    cards = scorecards_compute(week=week, trailing=0)
    week_seconds = time.perf_counter() - started
    budget = float(
        os.environ.get("BENCH_RECOMPUTE_BUDGET") or RECOMPUTE_BUDGET.get(dataset.scale, 300)
    )
    return [
        Measurement(
            name=f"scorecard one week{label}",
            seconds=week_seconds,
            rows=len(cards),
            notes=f"week of {week}: overall + {len(cards) - 1} territories (the worker's "
            f"rollup refresh before it: {catch_up:.1f} s)",
            extra={"goal": "< 2 s"},
        ),
        _full_recompute(label=label, budget=budget, per_week=week_seconds),
    ]


@benchmark("scorecards", order=45)
def scorecards(dataset: Dataset) -> list[Measurement]:
    """One week's scorecards and every week's, on 52 weeks of history."""
    results = _week_and_all("", dataset)
    _BEFORE["week"] = results[0].seconds
    _BEFORE["all"] = results[1].seconds
    return results


@benchmark("scorecards_doubled", order=95)
def scorecards_doubled(dataset: Dataset) -> list[Measurement]:
    """Double the history (52 more weeks before), then the same two; the ratios.

    Runs last: every other benchmark measures the 52-week data set.
    """
    if not _BEFORE:
        scorecards(dataset)
    seconds = dataset_double_history(dataset=dataset)
    results = [
        Measurement(
            name="double the history",
            seconds=seconds,
            rows=dataset.leads,
            notes=f"now {dataset.leads:,} leads, {dataset.touches:,} touches, "
            f"{dataset.stage_events:,} stage events, {dataset.follow_ups:,} follow-ups",
        )
    ]
    after = _week_and_all(" (2x history)", dataset)
    week_ratio = after[0].seconds / _BEFORE["week"]
    all_ratio = after[1].seconds / _BEFORE["all"]
    after[0].notes += f"; {week_ratio:.2f}x the 52-week figure"
    after[0].extra.update(ratio=week_ratio, goal="ratio <= 1.3")
    after[1].notes += f"; {all_ratio:.2f}x the 52-week figure"
    after[1].extra["ratio"] = all_ratio
    return results + after


@benchmark("rollups", order=44)
def rollups(dataset: Dataset) -> list[Measurement]:
    """The day rollups (metrics.rollups): rebuilt from every stage event, and refreshed
    after a burst of new moves (what the worker does every few seconds)."""
    from django.db import transaction
    from django.utils import timezone

    from alignment.models import StageKey
    from leads.models import Lead, StageEvent
    from metrics.models import StageDayRollup
    from metrics.rollups import rollups_rebuild, rollups_refresh

    if dataset.rollup_seconds is None:  # a reused data set: rebuild here
        started = time.perf_counter()
        rollups_rebuild()
        dataset.rollup_seconds = time.perf_counter() - started
    rows = StageDayRollup.objects.count()
    leads = list(Lead.objects.order_by("-pk").values_list("pk", flat=True)[:200])
    with transaction.atomic():
        StageEvent.objects.bulk_create(
            StageEvent(lead_id=pk, from_stage="", to_stage=StageKey.MQL, occurred_at=timezone.now())
            for pk in leads
        )
        started = time.perf_counter()
        rollups_refresh()
        refresh = time.perf_counter() - started
        transaction.set_rollback(True)
    return [
        Measurement(
            name="rollups rebuild",
            seconds=dataset.rollup_seconds,
            rows=rows,
            notes=f"every day from {dataset.stage_events:,} stage events",
        ),
        Measurement(
            name="rollups refresh after 200 moves",
            seconds=refresh,
            rows=len(leads),
            notes="each changed lead's difference added to the rows",
        ),
    ]
