"""Sales-side benchmarks: a rep's queue page and the SLA check on a large lead table."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from bench.dataset import Dataset
from bench.registry import Measurement, benchmark

REPS = 50


def _reps() -> list:
    """REPS bench reps (created once), every lead owned by one of them, SLA clocks set.

    Open leads get a deadline spread over ±10 days around now, so about half of them
    are overdue: the worst case for the queue's ordering and for the SLA check.
    """
    from alignment.roles import Role

    User = get_user_model()
    group = Group.objects.get(name=Role.SALES_REP)
    reps = []
    for i in range(REPS):
        user, created = User.objects.get_or_create(username=f"bench-rep-{i}")
        if created:
            user.groups.add(group)
        reps.append(user)
    ids = [r.pk for r in reps]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE leads_lead SET
                owner_id = (%s::int[])[1 + id %% %s],
                sla_due_at = CASE WHEN stage IN ('inquiry', 'mql', 'sal', 'sql', 'opportunity')
                    THEN now() + (((id * 7919) %% 480) - 240) * interval '1 hour' END
            """,
            [ids, len(ids)],
        )
        cursor.execute("VACUUM ANALYZE leads_lead")
    return reps


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


@benchmark("check_slas", order=70)
def check_slas(dataset: Dataset) -> list[Measurement]:
    """Record every overdue open lead's breach (first run), then a run with nothing new."""
    from leads.services.sales import sla_breaches_check

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
