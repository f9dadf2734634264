"""Rescoring benchmarks: what activating a version costs on a large lead table."""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.utils import timezone

from bench.dataset import Dataset
from bench.registry import Measurement, benchmark

PROMOTION_SAMPLE = 300


def _vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")


def _rescore(label: str, dataset: Dataset, agreement) -> Measurement:
    from leads.services.rescoring import leads_rescore_sql

    started = time.perf_counter()
    with transaction.atomic():
        rows = leads_rescore_sql(agreement=agreement, now=timezone.now())
    return Measurement(
        name=label,
        seconds=time.perf_counter() - started,
        rows=rows,
        notes=f"{len(agreement.rules.all())} rules, {dataset.touches:,} touches",
    )


@benchmark("rescore_all", order=10)
def rescore_all(dataset: Dataset) -> list[Measurement]:
    """Score and breakdown of every lead in one UPDATE ... FROM (the activation path).

    `first scoring` starts from empty breakdowns (rows grow, so fewer in-place
    updates); `rescore_all` is the steady state: leads already scored, the table
    vacuumed (autovacuum's job between activations), as when a new version is signed.
    """
    from alignment.agreement.selectors import agreement_active

    agreement = agreement_active()
    results = [_rescore("first scoring (empty breakdowns)", dataset, agreement)]
    _vacuum()
    results.append(_rescore("rescore_all", dataset, agreement))
    _vacuum()
    results.append(_rescore("rescore_all (again)", dataset, agreement))
    # Vacuumed again, as autovacuum would after a million updates: every lead page was
    # rewritten, and until a vacuum marks the pages all-visible the covering indexes the
    # scorecards and the dashboard read go to the heap too (a run without this: the
    # dashboard's p95 1.1 s instead of ~0.55 s, a week's scorecards 2.3 s instead of ~0.8 s).
    _vacuum()
    return results


@benchmark("qualifying_select", order=20)
def qualifying_select(dataset: Dataset) -> list[Measurement]:
    """Find the inquiry/recycled leads that now qualify (threshold + must rules), in SQL."""
    from alignment.agreement.selectors import agreement_active
    from leads.services.rescoring import qualifying_lead_ids

    agreement = agreement_active()
    started = time.perf_counter()
    ids = qualifying_lead_ids(agreement=agreement)
    return [
        Measurement(
            name="qualifying_select",
            seconds=time.perf_counter() - started,
            rows=len(ids),
            notes="leads that activation moves to mql",
        )
    ]


@benchmark("promote_sample", order=30)
def promote_sample(dataset: Dataset) -> list[Measurement]:
    """Move a sample of qualifying leads to mql through the stage service (per lead).

    Each promotion writes a stage event, stamps times, routes the lead; the figure is
    per lead, so the cost of a mass promotion is `qualifying × per-lead`.
    """
    from alignment.agreement.selectors import agreement_active, funnel_for
    from leads.models import Lead, StageEvent
    from leads.services import lead_transition
    from leads.services.rescoring import qualifying_lead_ids

    agreement = agreement_active()
    funnel = funnel_for(agreement=agreement)
    ids = qualifying_lead_ids(agreement=agreement, limit=PROMOTION_SAMPLE)
    started = time.perf_counter()
    for lead in Lead.objects.filter(pk__in=ids):
        lead_transition(
            lead=lead,
            to_stage="mql",
            actor=None,
            source=StageEvent.Source.AUTOMATIC,
            funnel=funnel,
        )
    seconds = time.perf_counter() - started
    per_lead = seconds / len(ids) if ids else 0.0
    return [
        Measurement(
            name="promote_sample",
            seconds=seconds,
            rows=len(ids),
            notes=f"{per_lead * 1000:.1f} ms per promoted lead",
            extra={"per_lead_seconds": per_lead},
        )
    ]


@benchmark("table_size", order=90)
def table_size(dataset: Dataset) -> list[Measurement]:
    """Size of the lead table after rescoring (context for the figures above)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('leads_lead')")
        size = cursor.fetchone()[0]
    return [Measurement(name="leads_lead size", seconds=0.0, notes=f"{size / 2**20:.0f} MiB")]
