"""leads/migrations/0025: a new lead and its first stage event enter fewer indexes (issue 21,
the import's COPY), and the queries on those columns still read an index."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from leads.models import ImportedLead, Lead, StageEvent
from tests.conftest import need, pg_plan

pytestmark = pytest.mark.django_db

PARTIAL = {
    "lead_mql_at_idx": "mql_at IS NOT NULL",
    "lead_assigned_at_idx": "assigned_at IS NOT NULL",
    "lead_won_at_idx": "won_at IS NOT NULL",
    "lead_sla_due_idx": "sla_due_at IS NOT NULL",
    "lead_qualified_under_idx": "qualified_under_id IS NOT NULL",
    "lead_created_by_idx": "created_by_id IS NOT NULL",
    "lead_queue_idx": "owner_id IS NOT NULL",
    "lead_agenda_idx": "next_follow_up_at IS NOT NULL",
    "stage_event_actor_idx": "actor_id IS NOT NULL",
    "stage_event_agreement_idx": "agreement_id IS NOT NULL",
}
# A foreign key's own index, gone where a composite index leads with its column.
DROPPED = [
    "leads_lead_owner_id_1f4568d0",
    "leads_lead_campaign_id_5dd7a82a",
    "leads_stageevent_lead_id_22207c35",
    "leads_lead_created_by_id_bd2e8097",
    "leads_lead_qualified_under_id_80372c2b",
    "leads_stageevent_actor_id_9fd273b7",
    "leads_stageevent_agreement_id_26e39fcf",
    "leads_importedlead_run_id_e1e632a2",
]


def _index_definitions() -> dict[str, str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename IN ('leads_lead', 'leads_stageevent', 'leads_importedlead')"
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name IN ('leads_lead', 'leads_stageevent', 'leads_importedlead')"
            )
        return {name: sql or "" for name, sql in cursor.fetchall()}


def test_the_indexes_a_new_lead_has_no_value_for_are_partial_and_the_redundant_ones_gone():
    definitions = _index_definitions()
    for name, condition in PARTIAL.items():
        assert (
            condition.replace(" ", "").lower()
            in (
                definitions[name]
                .replace('"', "")
                .replace(" ", "")
                .replace("(", "")
                .replace(")", "")
            ).lower()
        ), (name, definitions[name])
    assert not set(DROPPED) & set(definitions)


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda now: Lead.objects.filter(mql_at__gte=now - timedelta(days=7), mql_at__lt=now),
         "lead_mql_at_idx"),
        (lambda now: Lead.objects.filter(assigned_at__gte=now - timedelta(days=7)),
         "lead_assigned_at_idx"),
        (lambda now: Lead.objects.filter(won_at__lt=now), "lead_won_at_idx"),
        (lambda now: Lead.objects.filter(sla_due_at__lt=now), "lead_sla_due_idx"),
        (lambda now: Lead.objects.filter(created_by_id=1), "lead_created_by_idx"),
        (lambda now: Lead.objects.filter(qualified_under_id=1), "lead_qualified_under_idx"),
        (lambda now: Lead.objects.filter(owner_id__in=[1, 2]), "lead_"),  # a queue's index
        (lambda now: Lead.objects.filter(owner_id=1).order_by("sla_due_at", "id"),
         "lead_(open_)?queue_idx"),
        (lambda now: Lead.objects.filter(owner_id=1, next_follow_up_at__lt=now)
         .order_by("next_follow_up_at"), "lead_agenda_idx"),
        (lambda now: Lead.objects.filter(stage="mql", owner__isnull=True), "lead_"),
        (lambda now: Lead.objects.filter(campaign_id=1), "lead_campaign_idx"),
        (lambda now: StageEvent.objects.filter(lead_id=1), "stage_event_"),
        (lambda now: StageEvent.objects.filter(actor_id=1), "stage_event_actor_idx"),
        (lambda now: StageEvent.objects.filter(agreement_id=1), "stage_event_agreement_idx"),
        (lambda now: ImportedLead.objects.filter(run_id=1), "imported_lead_"),
    ],
)  # fmt: skip
def test_the_queries_on_those_columns_still_read_an_index(db_vendor, queryset, index):
    need(db_vendor == "postgresql", "the plans are PostgreSQL's")
    query = queryset(timezone.now())
    plan = pg_plan(query if query.query.order_by else query.order_by())  # not the default
    assert "Seq Scan" not in plan, plan
    assert re.search(rf"(Index Scan (Backward )?using|Bitmap Index Scan on) {index}", plan), plan
