"""How much of the query time a read replica takes off the primary (issue "Beyond one
machine"; docs/scaling.md).

A working day's mix in one process, through the same views and services as the web
server: a rep reads the lead list (API), the queue and a lead; a marketer creates leads
over the API and then reads the dashboard and the metric API (on the primary, their
read-your-writes window); a manager reads the dashboard, the metric API, a drill-down and
search; a week's scorecards are computed. Every query's wall time is added to the
connection that ran it (the primary's, or the replica's); the share is the replica's part.
Needs DATABASE_REPLICA_URLS (.ci/run sets it); without it the figure says so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client, override_settings

from bench.dataset import Dataset, bench_user, worker_catch_up
from bench.registry import Measurement, benchmark
from bench.web import bench_user_rep

ROUNDS = {"tiny": 3, "small": 10, "100k": 10, "1m": 5}


def _timer(totals: dict[str, list[float]], alias: str) -> Callable[..., Any]:
    def wrapper(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            totals[alias][0] += time.perf_counter() - started
            totals[alias][1] += 1

    return wrapper


def _get(client: Client, path: str, **extra: Any) -> None:
    response = client.get(path, **extra)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    if response.streaming:
        b"".join(response.streaming_content)


@benchmark("replica_share", order=55)
def replica_share(dataset: Dataset) -> list[Measurement]:
    """The share of a day's mix of query time that runs on the replica."""
    from rest_framework.authtoken.models import Token

    from alignment.accounts.roles import Role
    from config.replicas import _replayed, primary_position
    from leads.models import Lead
    from metrics.reporting.services import last_complete_week, scorecards_compute

    if not settings.DATABASE_REPLICAS or not settings.DATABASE_REPLICA_READS:
        return [
            Measurement(
                "replica share of query time",
                0.0,
                notes="no DATABASE_REPLICA_URLS (or DATABASE_REPLICA_READS=false): every "
                "query runs on the primary",
            )
        ]
    alias = settings.DATABASE_REPLICAS[0]
    worker_catch_up()
    if not _replayed(alias, primary_position(), wait=60):
        raise RuntimeError(f"{alias} did not catch up with the primary")

    rep = Client()
    rep.force_login(bench_user_rep())
    manager = Client()
    manager.force_login(bench_user(Role.SALES_MANAGER))
    marketer_user = bench_user(Role.MARKETING_MANAGER)
    marketer = Client()
    marketer.force_login(marketer_user)
    token, _created = Token.objects.get_or_create(user=marketer_user)
    api_auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    lead_ids = list(Lead.objects.order_by("-id").values_list("id", flat=True)[:20])
    term = Lead.objects.exclude(company="").values_list("company", flat=True).first() or "a"

    totals = {DEFAULT_DB_ALIAS: [0.0, 0], alias: [0.0, 0]}
    rounds = ROUNDS.get(dataset.scale, 10)
    began = time.perf_counter()
    with (
        override_settings(ALLOWED_HOSTS=["*"]),
        connections[DEFAULT_DB_ALIAS].execute_wrapper(_timer(totals, DEFAULT_DB_ALIAS)),
        connections[alias].execute_wrapper(_timer(totals, alias)),
    ):
        for n in range(rounds):
            _get(rep, "/api/v1/leads/?page_size=50")
            _get(rep, "/leads/queue/")
            _get(rep, f"/leads/{lead_ids[n % len(lead_ids)]}/")
            created = marketer.post(
                "/api/v1/leads/",
                {"email": f"replica-{uuid.uuid4().hex}@example.com", "company": "Replica Co"},
                content_type="application/json",
                **api_auth,
            )
            if created.status_code != 201:
                raise RuntimeError(f"lead create answered {created.status_code}")
            _get(marketer, "/metrics/")
            _get(marketer, "/api/v1/metrics/")
            _get(manager, "/metrics/")
            _get(manager, "/api/v1/metrics/")
            _get(manager, "/metrics/records/?metric=mqls")
            _get(manager, f"/search/?q={term[:6]}")
        scorecards_compute(week=last_complete_week(), trailing=0)
    seconds = time.perf_counter() - began
    primary_time, primary_queries = totals[DEFAULT_DB_ALIAS]
    replica_time, replica_queries = totals[alias]
    total = primary_time + replica_time
    share = replica_time / total if total else 0.0
    return [
        Measurement(
            "replica share of query time",
            seconds,
            rows=primary_queries + replica_queries,
            notes=(
                f"{share:.0%} of the mix's query time ran on the replica "
                f"({replica_time:.2f} of {total:.2f} s; {replica_queries:,} of "
                f"{primary_queries + replica_queries:,} queries); {rounds} rounds of a rep's "
                f"list, queue and lead, a marketer's create then dashboard and metrics "
                f"(read-your-writes: primary), a manager's dashboard, metrics, drill-down "
                f"and search, and one week's scorecards"
            ),
            extra={
                "share": round(share, 4),
                "replica_seconds": round(replica_time, 4),
                "primary_seconds": round(primary_time, 4),
                "replica_queries": replica_queries,
                "primary_queries": primary_queries,
            },
        )
    ]
