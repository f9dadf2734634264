"""Sales-side benchmarks: a rep's queue page and the SLA check on a large lead table."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench.dataset import Dataset
from bench.registry import Measurement, benchmark


def _reps() -> list:
    """The bench reps; bench.dataset gave each lead of mql and beyond a rep of its territory
    and every open lead an SLA deadline within ±10 days of now (about half overdue: the
    worst case for the queue's ordering and for the SLA check)."""
    User = get_user_model()
    return list(User.objects.filter(username__startswith="bench-rep-").order_by("pk"))


def _plan(sql: str, params: tuple) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return " | ".join(row[0].strip() for row in cursor.fetchall()[:3])


@benchmark("rep_queue_page", order=60)
def rep_queue_page(dataset: Dataset) -> list[Measurement]:
    """A rep's queue, first page of 50 and its count, as the queue page runs them."""
    from leads.selectors import lead_queue

    reps = _reps()
    rep = reps[0]
    queue = lead_queue(rep=rep)
    list(queue[:50])  # warm the cache, as a rep's second visit would be
    started = time.perf_counter()
    rows = list(queue[:50])
    total = queue.count()
    elapsed = time.perf_counter() - started
    sql, params = queue[:50].query.sql_with_params()
    return [
        Measurement(
            name="rep_queue_page",
            seconds=elapsed,
            rows=len(rows),
            notes=f"{total:,} open leads of this rep; plan: {_plan(sql, params)[:160]}",
        )
    ]


@benchmark("check_slas", order=70, default=False)
def check_slas(dataset: Dataset) -> list[Measurement]:
    """Record every overdue open lead's breach (first run), then a run with nothing new.

    Opt-in (BENCH=check_slas): the first run records and notifies each of the ~1/6 of
    leads that are overdue one by one (~25 ms each: 80 s at 10k leads, hours at 1M).
    """
    from leads.services.sla import sla_breaches_check

    _reps()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE leads_slabreach, alignment_notification")
    results = []
    for label in ("check_slas (first run)", "check_slas (nothing new)"):
        started = time.perf_counter()
        result = sla_breaches_check(now=timezone.now())
        results.append(
            Measurement(
                name=label,
                seconds=time.perf_counter() - started,
                rows=result.recorded,
                notes=f"{result.checked:,} overdue leads checked",
            )
        )
    return results
