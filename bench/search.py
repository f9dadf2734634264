"""The header's search at scale: the one box a manager types a name, an e-mail or a
company into (alignment.search.selectors.search, every kind the role reads)."""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection

from bench.dataset import Dataset
from bench.registry import Measurement, benchmark

RUNS = 15


def _plan(sql: str, params: tuple) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        rows = [row[0].strip() for row in cursor.fetchall()]
        return " | ".join(row for row in rows if "Scan" in row or "Join" in row)


@benchmark("search", order=65)
def search_box(dataset: Dataset) -> list[Measurement]:
    """Median of 15 searches each: a surname, an e-mail, a company and a phone number, as
    the search page runs them (leads, campaigns, deals, battlecards, intel)."""
    from alignment.search.selectors import CANDIDATES, leads_matching, search
    from leads.models import Lead

    user = get_user_model().objects.filter(is_superuser=True).first() or (
        get_user_model().objects.filter(username__startswith="bench-rep-").first()
    )
    # A lead near the middle with a phone and a company (the data set leaves every third
    # lead without a phone, every 17th without a company).
    middle = next(n for n in range(dataset.leads // 2 + 7, dataset.leads) if n % 3 and n % 17)
    queries = {
        "surname": f"Last{middle}",
        "email": f"lead{middle}@bench",
        "company": f"Company {middle % 50_000}",
        "phone": f"600 {middle}",
    }
    measurements = []
    for label, query in queries.items():
        search(user=user, query=query)  # warm, as the second keystroke would be
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            results = search(user=user, query=query)
            times.append(time.perf_counter() - started)
        candidates = leads_matching(query).order_by().values("pk")[:CANDIDATES]
        first_page = Lead.objects.filter(pk__in=candidates).order_by("-created_at", "-id")[:8]
        sql, params = first_page.query.sql_with_params()
        measurements.append(
            Measurement(
                name=f"search[{label}]",
                seconds=statistics.median(times),
                rows=results.total,
                notes=f"q={query!r}; median of {RUNS}, max {max(times) * 1000:.1f} ms; "
                f"plan: {_plan(sql, params)[:200]}",
            )
        )
    return measurements
