"""Every common metric on a hand-built week equals its hand-computed value."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics.definitions import (
    METRIC_NAMES,
    REGISTRY,
    MetricFilter,
    metric_filter_parse,
    metric_records,
    metric_value,
    metric_values,
    metric_values_grouped,
    plan_compute,
)
from tests.metrics.conftest import EXPECTED, WEEK

pytestmark = pytest.mark.django_db


def test_the_expectations_cover_every_metric_of_the_registry():
    assert set(EXPECTED) == set(METRIC_NAMES)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_metric_equals_its_hand_computed_value(week_data, name):
    assert metric_value(name=name, f=WEEK) == EXPECTED[name]


def test_all_metrics_at_once_equal_the_single_values(week_data):
    assert metric_values(f=WEEK) == EXPECTED


def test_money_is_decimal_with_two_places(week_data):
    values = metric_values(f=WEEK)
    for name in METRIC_NAMES:
        if name in REGISTRY and REGISTRY[name].unit == "money" and values[name] is not None:
            assert isinstance(values[name], Decimal)
            assert values[name].as_tuple().exponent == -2


def test_an_empty_period_gives_null_rates_and_zero_counts(week_data):
    empty = MetricFilter(start=date(2026, 3, 16), end=date(2026, 3, 23))
    values = metric_values(f=empty)
    for name in ["acceptance_rate", "sla_compliance", "win_rate", "stage_conversion[mql→sal]",
                 "response_time_hours_median", "avg_deal_size", "cost_per_lead", "cost_per_mql",
                 "cac", "roi", "intel_ack_hours_median", "dispute_resolution_hours_median",
                 "sales_cycle_days_median", "intel_ack_within_5d",
                 "disputes_resolved_within_5d", "mql_attainment"]:  # fmt: skip
        assert values[name] is None, name
    assert values["new_leads"] == 0 and values["mqls"] == 0
    assert values["revenue"] == Decimal("0.00") and values["spend"] == Decimal("0.00")
    assert values["target_attainment"] == 0.0  # a target exists, nothing was won


def test_the_week_boundary_follows_the_deployment_time_zone(week_data, settings):
    # In UTC the week starts one hour later: l1 (created 23:00 UTC on Sunday) and l5's
    # MQL entry fall into the previous week, and l4 (Monday 00:00 Warsaw) into this one.
    settings.TIME_ZONE = "UTC"
    assert metric_value(name="new_leads", f=WEEK) == 3  # l2, l3, l4
    assert set(metric_records(name="new_leads", f=WEEK).values_list("email", flat=True)) == {
        "l2@x.test", "l3@x.test", "l4@x.test"
    }  # fmt: skip
    assert metric_value(name="mqls", f=WEEK) == 2  # l1 (09:00 UTC), l2


def test_filters_narrow_by_territory_campaign_owner_and_source(week_data):
    d = week_data

    def value(name, **narrow):
        return metric_value(name=name, f=MetricFilter(start=WEEK.start, end=WEEK.end, **narrow))

    assert value("new_leads", territory=d.north.pk) == 1
    assert value("new_leads", campaign=d.c1.pk) == 2
    assert value("new_leads", owner=d.rep.pk) == 1
    assert value("new_leads", source="paid_search") == 2
    assert value("revenue", campaign=d.c1.pk) == Decimal("1000.00")
    assert value("cost_per_lead", campaign=d.c1.pk) == Decimal("250.00")
    assert value("acceptance_rate", campaign=d.c1.pk) == 0.5


def test_campaign_kpis_come_grouped_by_campaign_in_the_same_formulas(week_data):
    d = week_data
    names = ["spend", "new_leads", "mqls", "mqls_accepted", "pipeline_created", "revenue",
             "cost_per_lead", "cost_per_mql", "cac", "roi"]  # fmt: skip
    grouped = metric_values_grouped(f=WEEK, by="campaign", names=names)
    narrowed = metric_values(
        f=MetricFilter(start=WEEK.start, end=WEEK.end, campaign=d.c1.pk), names=names
    )
    assert grouped[d.c1.pk] == narrowed
    assert grouped[d.c1.pk]["new_leads"] == 2 and grouped[d.c1.pk]["roi"] == 1.0
    assert grouped[None]["new_leads"] == 1  # l3 has no campaign
    by_channel = metric_values_grouped(f=WEEK, by="channel", names=names)
    assert by_channel["paid_search"] == grouped[d.c1.pk]


def test_grouping_by_source_uses_one_query_per_metric(week_data, django_assert_max_num_queries):
    # One per metric, and whether the rollups serve (their state, the changes waiting).
    with django_assert_max_num_queries(2 + 2):
        grouped = metric_values_grouped(f=WEEK, by="source", names=["new_leads", "mqls"])
    assert grouped["paid_search"]["new_leads"] == 2
    assert grouped["email"]["new_leads"] == 1


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_drill_down_lists_exactly_the_records_its_figure_counts(week_data, name):
    metric = REGISTRY[name].drill_base()
    row = metric.records(WEEK).aggregate(**metric.aggregates())
    assert metric_records(name=name, f=WEEK).count() == row[metric.count_key]
    if metric.unit == "count" and not REGISTRY[name].parts:
        assert metric_records(name=name, f=WEEK).count() == EXPECTED[name]


def test_the_reverse_funnel_plan_divides_the_target_by_trailing_rates(week_data):
    # Trailing half year: one MQL (l6) never accepted, one won deal of 700.
    plan = plan_compute(f=WEEK, revenue_target=Decimal("7000.00"))
    assert plan.avg_deal_size == Decimal("700.00")
    assert plan.needed["won"] == 10
    assert plan.rates["mql→sal"] == 0.0
    assert plan.needed["mql"] is None  # no MQL was ever accepted: no honest figure


def test_the_plan_multiplies_up_through_every_stage(warsaw):
    from leads.models import Deal, StageEvent
    from tests.factories import LeadFactory
    from tests.metrics.conftest import at

    path = ["mql", "sal", "sql", "opportunity", "won"]
    reached = [5, 2, 1, 1, 1]  # four MQLs in January: 2 accepted, 1 goes all the way
    for i in range(4):
        lead = LeadFactory(email=f"p{i}@x.test", created_at=at(1, 5))
        stages = ["inquiry", *path[: 1 + sum(1 for r in reached[1:] if r > i)]]
        for n, (a, b) in enumerate(itertools.pairwise(stages)):
            StageEvent.objects.create(lead=lead, from_stage=a, to_stage=b,
                                      occurred_at=at(1, 6 + n))  # fmt: skip
        if stages[-1] == "won":
            Deal.objects.create(lead=lead, amount=Decimal("1000.00"), outcome="won",
                                created_at=at(1, 8), closed_at=at(1, 10))  # fmt: skip
    plan = plan_compute(f=WEEK, revenue_target=Decimal("5000.00"))
    assert plan.rates == {"mql→sal": 0.5, "sal→sql": 0.5, "sql→opportunity": 1.0,
                          "opportunity→won": 1.0, "mql→won": 0.25}  # fmt: skip
    assert plan.needed == {"won": 5, "opportunity": 5, "sql": 5, "sal": 10, "mql": 20}
    assert plan.mql_to_won_rate == 0.25


def test_bad_filter_parameters_are_field_errors(week_data):
    with pytest.raises(ValidationError) as caught:
        metric_filter_parse({"start": "2026-13-01", "territory": "999999", "source": "nope"})
    assert set(caught.value.message_dict) == {"start", "territory", "source"}
    with pytest.raises(ValidationError) as caught:
        metric_filter_parse({"start": "2026-03-09", "end": "2026-03-02"})
    assert "end" in caught.value.message_dict


def test_a_week_parameter_means_its_iso_week(week_data):
    f = metric_filter_parse({"week": "2026-03-05"})
    assert (f.start, f.end) == (date(2026, 3, 2), date(2026, 3, 9))


def test_a_conversion_counts_only_what_follows_the_first_entry_in_the_period(warsaw):
    """Recycled leads: reaching the next stage before this period's entry does not count;
    reaching it between two entries in the period does; later, in another period, too."""
    from leads.models import StageEvent
    from tests.factories import LeadFactory
    from tests.metrics.conftest import at

    def path(email, *steps):
        lead = LeadFactory(email=email, created_at=at(2, 1))
        for to_stage, when in steps:
            StageEvent.objects.create(lead=lead, from_stage="inquiry", to_stage=to_stage,
                                      occurred_at=when)  # fmt: skip
        return lead

    path("before@x.test", ("mql", at(2, 10)), ("sal", at(2, 11)), ("mql", at(3, 3)))
    path("between@x.test", ("mql", at(3, 2, 9)), ("sal", at(3, 3)), ("mql", at(3, 5)))
    path("later@x.test", ("mql", at(3, 6)), ("sal", at(4, 1)))
    path("never@x.test", ("mql", at(3, 4)))
    path("outside@x.test", ("mql", at(3, 9)), ("sal", at(3, 10)))  # next week's cohort
    cohort = metric_records(name="stage_conversion[mql→sal]", f=WEEK)
    assert {lead.email: lead.reached for lead in cohort} == {
        "before@x.test": False,
        "between@x.test": True,
        "later@x.test": True,
        "never@x.test": False,
    }
    assert metric_value(name="stage_conversion[mql→sal]", f=WEEK) == 0.5


def test_a_marketers_move_out_of_mql_is_no_decision_in_the_acceptance_rate(week_data):
    """Only sales decides on MQLs: a marketer's mql → recycled (old data, from before the
    stage service refused it) changes neither the rate nor its drill-down; a move by the
    system or an import (no team) still counts."""
    from leads.models import StageEvent
    from tests.metrics.conftest import at

    l1, l3 = week_data.leads[0], week_data.leads[2]
    marketer_move = StageEvent.objects.create(
        lead=l3, from_stage="mql", to_stage="recycled", occurred_at=at(3, 6),
        actor_team="marketing", reason="Not ready yet",
    )  # fmt: skip
    assert metric_value(name="acceptance_rate", f=WEEK) == EXPECTED["acceptance_rate"]
    assert metric_value(name="mqls_rejected", f=WEEK) == EXPECTED["mqls_rejected"]
    decisions = metric_records(name="acceptance_rate", f=WEEK)
    assert marketer_move not in decisions and decisions.count() == 2
    by_campaign = metric_values_grouped(f=WEEK, by="campaign", names=["acceptance_rate"])
    assert by_campaign[week_data.c1.pk]["acceptance_rate"] == 0.5

    imported = StageEvent.objects.create(
        lead=l1, from_stage="mql", to_stage="disqualified", occurred_at=at(3, 7), actor_team=""
    )
    assert metric_value(name="acceptance_rate", f=WEEK) == round(1 / 3, 4)
    assert imported in metric_records(name="acceptance_rate", f=WEEK)


def test_mql_overrides_count_hand_moves_into_mql_past_the_criterion_in_the_period(week_data):
    from leads.models import StageEvent
    from tests.metrics.conftest import at

    l1, l2 = week_data.leads[0], week_data.leads[1]
    # Not counted: an override into another stage, and a move into MQL that met it.
    StageEvent.objects.create(lead=l1, from_stage="sal", to_stage="sql", occurred_at=at(3, 4),
                              override=True, reason="Budget confirmed by phone.")  # fmt: skip
    assert metric_value(name="mql_overrides", f=WEEK) == 1
    (override,) = metric_records(name="mql_overrides", f=WEEK)
    assert (override.lead, override.actor, override.reason) == (
        l2, week_data.manager, "Met the CFO at the trade fair."
    )  # fmt: skip
    next_week = MetricFilter(start=date(2026, 3, 9), end=date(2026, 3, 16))
    assert metric_value(name="mql_overrides", f=next_week) == 1  # l4's, Monday 01:00

    def value(**narrow):
        return metric_value(
            name="mql_overrides", f=MetricFilter(start=WEEK.start, end=WEEK.end, **narrow)
        )

    assert value(campaign=week_data.c1.pk) == 1  # l2 came through Spring search
    assert value(territory=week_data.north.pk) == 0  # l2 has no territory
    assert value(owner=week_data.rep.pk) == 0
    l2.owner = week_data.rep
    l2.save(update_fields=["owner"])
    assert value(owner=week_data.rep.pk) == 1


def test_disputes_and_intel_at_a_periods_end_read_the_timestamps_not_todays_status(week_data):
    from alignment.models import Dispute, FieldIntel
    from metrics.definitions import disputes_open_at_end, intel_waiting_at_end
    from tests.metrics.conftest import at

    l1 = week_data.leads[0]
    dispute = Dispute.objects.create(
        lead=l1, kind="rejection", raised_by=week_data.rep, raised_by_team="sales", reason="r",
        created_at=at(3, 4), resolved_at=at(3, 18), status="resolved", decision="for_sales",
    )  # fmt: skip
    intel = FieldIntel.objects.create(
        author=week_data.rep, kind="pricing", text="t", created_at=at(3, 4),
        acknowledged_at=at(3, 17), actioned_at=at(3, 20), status="actioned",
    )  # fmt: skip
    weeks = [MetricFilter(start=date(2026, 3, d), end=date(2026, 3, d + 7)) for d in (2, 9, 16)]
    assert [dispute in disputes_open_at_end(f) for f in weeks] == [True, True, False]
    assert [intel in intel_waiting_at_end(f) for f in weeks] == [True, True, False]
    before = MetricFilter(start=date(2026, 2, 23), end=date(2026, 3, 2))
    assert dispute not in disputes_open_at_end(before)
    assert intel not in intel_waiting_at_end(before)
    north = MetricFilter(start=WEEK.start, end=WEEK.end, territory=week_data.north.pk)
    assert dispute in disputes_open_at_end(north)  # l1 is in North


def _reads(table: str, names: list[str]) -> tuple[dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as seen:
        values = metric_values(f=WEEK, names=names)
    return values, sum(f'FROM "{table}"' in query["sql"] for query in seen)


def test_metrics_of_the_same_records_are_read_in_one_query_each_its_own_value(week_data):
    names = ["revenue", "avg_deal_size", "sales_cycle_days_median"]  # all over the deals won
    values, deal_reads = _reads("leads_deal", names)
    assert values == {name: EXPECTED[name] for name in names}
    assert deal_reads == 1  # three without reading them together


def test_the_mqls_accepted_and_rejected_are_read_with_the_acceptance_rate(week_data):
    """Counts of a part of other metrics' records (a Subset) are filtered aggregates in
    their query; each drill-down still lists its own part."""
    names = ["mqls_accepted", "mqls_rejected", "acceptance_rate"]
    values, event_reads = _reads("leads_stageevent", names)
    assert values == {name: EXPECTED[name] for name in names}
    assert event_reads == 1  # three without reading them together
    for name in ("mqls_accepted", "mqls_rejected"):
        assert metric_records(name=name, f=WEEK).count() == EXPECTED[name]


def test_a_reading_takes_every_stages_entries_of_a_period_from_the_rollups_at_once(week_data):
    from metrics.rollups import rollups_rebuild

    rollups_rebuild()
    names = [n for n in METRIC_NAMES if n == "mqls" or n.startswith(("stage_entries", "stage_co"))]
    values, rollup_reads = _reads("metrics_stagedayrollup", names)
    assert values == {name: EXPECTED[name] for name in names}
    assert len(names) == 11 and rollup_reads == 1  # one per stage and step without it


def test_on_postgresql_the_mql_overrides_of_a_period_come_from_their_own_small_index(week_data):
    from django.db import connection

    from tests.conftest import need, pg_plan

    need(connection.vendor == "postgresql", "the plan is PostgreSQL's")
    # Not every move into MQL of the period filtered for the flag: the partial index
    # holds the overrides alone, so any plan but a table scan reads it.
    plan = pg_plan(metric_records(name="mql_overrides", f=WEEK).order_by())
    assert "stage_event_override_idx" in plan, plan
    assert metric_records(name="mql_overrides", f=WEEK).count() == EXPECTED["mql_overrides"]


def test_the_response_sla_in_force_is_read_once_until_the_agreement_changes(
    active_agreement, django_assert_num_queries
):
    from alignment.models import FunnelStage
    from metrics.definitions import response_sla_hours

    at = timezone.now()
    first = response_sla_hours(at=at)
    with django_assert_num_queries(0):  # six without the cache: the version and its funnel
        assert response_sla_hours(at=at) == first
    stage = FunnelStage.objects.get(agreement=active_agreement, key="mql")
    stage.sla_hours = first + 5  # the admin's edit: a plain save
    stage.save()
    assert response_sla_hours(at=at) == first + 5


def test_the_cached_sla_is_one_entry_per_version_whatever_the_periods_asked_about(
    active_agreement, django_assert_num_queries
):
    """An integration may ask for any period: the cache holds the versions' activations
    and one SLA per version, not one entry per moment asked about."""
    from datetime import timedelta

    from config import generations
    from metrics.definitions import response_sla_hours

    now = timezone.now()
    response_sla_hours(at=now)
    size = len(generations._memo)
    with django_assert_num_queries(0):
        hours = {response_sla_hours(at=now - timedelta(days=n)) for n in range(200)}
    assert len(hours) == 1 and len(generations._memo) == size


def test_the_tables_read_index_only_are_vacuumed_after_one_percent_changed(db_vendor):
    """A period's recent rows are the ones being written; their pages are read index-only
    only once a vacuum marks them all-visible again (leads 0024)."""
    from django.db import connection

    from tests.conftest import need

    need(db_vendor == "postgresql", "autovacuum is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
            [["leads_lead", "leads_stageevent", "leads_followup", "leads_deal"]],
        )
        found = dict(cursor.fetchall())
    assert set(found) == {"leads_lead", "leads_stageevent", "leads_followup", "leads_deal"}
    for table, options in found.items():
        assert {
            "autovacuum_vacuum_scale_factor=0.01",
            "autovacuum_vacuum_insert_scale_factor=0.01",
            "autovacuum_analyze_scale_factor=0.02",
        } <= set(options or []), table
