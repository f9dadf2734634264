"""The day rollups (metrics.rollups): kept incrementally they equal a rebuild from the
events after any history (property test), and the metrics read from them equal the
metrics read from the events (golden test, both code paths)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignment.models import StageKey
from config.bulk import rows_insert
from leads.models import Lead, SourceChannel, StageEvent
from metrics import rollups as rollups_module
from metrics.definitions import (
    METRIC_NAMES,
    MetricFilter,
    metric_values,
    metric_values_grouped,
    plans_compute,
)
from metrics.models import (
    LeadDayRollup,
    ResponseDayRollup,
    RollupDirty,
    RollupState,
    StageDayRollup,
)
from metrics.rollups import REFRESH_AT_READ, rollups_reading, rollups_rebuild, rollups_refresh
from tests.conftest import need
from tests.factories import CampaignFactory, LeadFactory, TerritoryFactory

pytestmark = pytest.mark.django_db

STAGES = [StageKey.INQUIRY, StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY,
          StageKey.WON, StageKey.RECYCLED, StageKey.DISQUALIFIED]  # fmt: skip
START = datetime(2026, 1, 1, tzinfo=UTC)


def _table() -> list[tuple]:
    rows = StageDayRollup.objects.values_list(
        "day", "stage", "territory_id", "campaign_id", "prev_day", "entries", "reached_mql",
        "reached_sal", "reached_sql", "reached_opportunity", "reached_won", "decided",
    )  # fmt: skip
    stages = sorted((r for r in rows if r[5]), key=lambda r: [(v is None, str(v)) for v in r])
    leads = LeadDayRollup.objects.values_list(
        "day", "territory_id", "campaign_id", "source", "leads"
    )
    responses = ResponseDayRollup.objects.values_list(
        "day", "territory_id", "campaign_id", "source", "response_hours", "leads"
    )
    return stages + sorted(
        [*leads, *responses], key=lambda r: [len(r), *((v is None, str(v)) for v in r)]
    )


_TAKE = rollups_module._take  # the real one, before any test wraps it
SOURCES = [SourceChannel.EMAIL, SourceChannel.PAID_SEARCH, SourceChannel.EVENT]


# One step of a history: what any write path can do to the events a rollup reads.
step = st.one_of(
    # A move by the system, sales or marketing (a marketer's move out of MQL is no decision).
    st.tuples(
        st.just("move"),
        st.integers(0, 5),
        st.sampled_from(STAGES),
        st.integers(0, 90 * 24),
        st.sampled_from(["", "sales", "marketing"]),
    ),
    st.tuples(st.just("revert"), st.integers(0, 5), st.integers(0, 30)),
    st.tuples(st.just("territory"), st.integers(0, 5), st.integers(0, 2)),
    st.tuples(st.just("merge"), st.integers(0, 5), st.integers(0, 5)),
    st.tuples(st.just("delete_event"), st.integers(0, 5), st.integers(0, 30)),
    st.tuples(st.just("delete_lead"), st.integers(0, 5)),
    st.tuples(st.just("new_lead"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 90 * 24)),
    st.tuples(st.just("campaign"), st.integers(0, 5), st.integers(0, 2)),
    st.tuples(st.just("source"), st.integers(0, 5), st.integers(0, 2)),
    st.tuples(st.just("created"), st.integers(0, 5), st.integers(0, 90 * 24)),
    # A lead's latest MQL entry set or cleared; its first follow-up, minutes after it
    # (before it, at whole hours, a microsecond past them) or cleared.
    st.tuples(st.just("mql_at"), st.integers(0, 5), st.none() | st.integers(0, 90 * 24)),
    st.tuples(
        st.just("follow_up"),
        st.integers(0, 5),
        st.none() | st.sampled_from([-90, 0, 1, 59, 60, 61, 24 * 60, 36 * 60 + 1]),
    ),
    # Many rows in one statement: an import's COPY of leads and their events, and a bulk
    # delete of a territory's events and leads (PostgreSQL logs these per statement).
    st.tuples(st.just("import"), st.integers(1, 4), st.integers(0, 2), st.integers(0, 90 * 24)),
    st.tuples(st.just("purge"), st.integers(0, 2)),
    st.just(("refresh",)),
)


def _apply(op: tuple, leads: list[Lead], territories: list[int | None],
           campaigns: list[int | None]) -> None:  # fmt: skip
    kind = op[0]
    if kind == "refresh":
        rollups_refresh()
        return
    if kind == "new_lead":  # counted on its creation day, in its territory and campaign
        leads.append(LeadFactory(territory_id=territories[op[1]], campaign_id=campaigns[op[2]],
                                 created_at=START + timedelta(hours=op[3])))  # fmt: skip
        return
    if kind == "import":
        _import(leads, count=op[1], territory=territories[op[2]], campaign=campaigns[op[2]],
                at=START + timedelta(hours=op[3]))  # fmt: skip
        return
    if kind == "purge":
        doomed = Lead.objects.filter(territory_id=territories[op[1]])
        StageEvent.objects.filter(lead__in=doomed, reverts__isnull=False).delete()
        StageEvent.objects.filter(lead__in=doomed).delete()
        doomed.delete()
        return
    lead = leads[op[1] % len(leads)]
    if not Lead.objects.filter(pk=lead.pk).exists():
        return
    events = list(StageEvent.objects.filter(lead=lead).order_by("occurred_at", "pk"))
    if kind == "move":
        last = events[-1].to_stage if events else ""
        if last != op[2]:
            StageEvent.objects.create(
                lead=lead, from_stage=last, to_stage=op[2],
                occurred_at=START + timedelta(hours=op[3]), actor_team=op[4],
            )  # fmt: skip
    elif kind == "revert" and events:
        target = events[op[2] % len(events)]
        reverted = StageEvent.objects.filter(reverts=target).exists()
        if target.source != StageEvent.Source.REVERT and target.from_stage and not reverted:
            StageEvent.objects.create(
                lead=lead, from_stage=target.to_stage, to_stage=target.from_stage,
                occurred_at=target.occurred_at + timedelta(hours=1),
                source=StageEvent.Source.REVERT, reverts=target,
            )  # fmt: skip
    elif kind == "territory":
        Lead.objects.filter(pk=lead.pk).update(territory_id=territories[op[2]])
    elif kind == "campaign":
        Lead.objects.filter(pk=lead.pk).update(campaign_id=campaigns[op[2]])
    elif kind == "source":
        Lead.objects.filter(pk=lead.pk).update(source=SOURCES[op[2]])
    elif kind == "created":
        Lead.objects.filter(pk=lead.pk).update(created_at=START + timedelta(hours=op[2]))
    elif kind == "mql_at":
        at = None if op[2] is None else START + timedelta(hours=op[2], microseconds=op[2])
        Lead.objects.filter(pk=lead.pk).update(mql_at=at)
    elif kind == "follow_up":
        mql_at = Lead.objects.values_list("mql_at", flat=True).get(pk=lead.pk) or START
        at = None if op[2] is None else mql_at + timedelta(minutes=op[2], microseconds=op[2] % 2)
        Lead.objects.filter(pk=lead.pk).update(first_follow_up_at=at)
    elif kind == "merge":
        other = leads[op[2] % len(leads)]
        if other.pk != lead.pk and Lead.objects.filter(pk=other.pk).exists():
            StageEvent.objects.filter(lead=other).update(lead=lead)  # what a merge does
    elif kind == "delete_event" and events:
        StageEvent.objects.filter(reverts=events[op[2] % len(events)]).delete()
        events[op[2] % len(events)].delete()
    elif kind == "delete_lead":
        StageEvent.objects.filter(lead=lead, reverts__isnull=False).delete()  # PROTECTed links
        lead.delete()


def _import(leads: list[Lead], *, count: int, territory: int | None, campaign: int | None,
            at: datetime) -> None:  # fmt: skip
    """`count` MQLs as the importer writes them: the leads in one statement, then their
    inquiry and MQL events in another (config.bulk: COPY on PostgreSQL)."""
    mql_at = at + timedelta(hours=1)
    ids = rows_insert(
        Lead,
        [{"email": f"bulk-{len(leads)}-{n}@example.com", "territory_id": territory,
          "campaign_id": campaign, "created_at": at, "inquiry_at": at, "stage": StageKey.MQL,
          "stage_entered_at": mql_at, "mql_at": mql_at} for n in range(count)],
        with_ids=True,
    )  # fmt: skip
    event = {"source": StageEvent.Source.IMPORT}
    rows_insert(StageEvent, [
        row for pk in ids for row in (
            {**event, "lead_id": pk, "to_stage": StageKey.INQUIRY, "occurred_at": at},
            {**event, "lead_id": pk, "from_stage": StageKey.INQUIRY, "to_stage": StageKey.MQL,
             "occurred_at": mql_at},
        )
    ])  # fmt: skip
    leads.extend(Lead.objects.filter(pk__in=ids).order_by("pk"))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(step, min_size=1, max_size=40))
def test_rollups_kept_as_the_work_happens_equal_a_rebuild(active_agreement, history):
    with transaction.atomic():
        _played(history)
        rollups_refresh()
        _kept_equals_a_rebuild()
        transaction.set_rollback(True)


def _played(history: list[tuple]) -> None:
    """Six leads in three territories, the rollups built, then `history` played on them."""
    territories = [None, TerritoryFactory(code="north").pk, TerritoryFactory(code="south").pk]
    campaigns = [None, CampaignFactory().pk, CampaignFactory().pk]
    leads = [LeadFactory(territory_id=territories[n % 3]) for n in range(6)]
    rollups_rebuild()
    for op in history:
        _apply(op, leads, territories, campaigns)


def _kept_equals_a_rebuild() -> None:
    kept = _table()
    assert not RollupDirty.objects.exists()
    rollups_rebuild()
    assert kept == _table()


def _history(seed: int) -> list[int]:
    """Leads walking the funnel over half a year, some rejected and qualified again (a
    stage entered twice), one move reverted, in three territories and none."""
    rng = random.Random(seed)
    territories = [TerritoryFactory(code=f"r{seed}-{n}").pk for n in range(3)]
    campaigns = [CampaignFactory().pk for _n in range(2)]
    path = [StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY, StageKey.WON]
    for n in range(80):
        at = START + timedelta(days=rng.randint(0, 150), hours=rng.randint(0, 23))
        lead = LeadFactory(
            territory_id=rng.choice([*territories, None]), created_at=at,
            campaign_id=rng.choice([*campaigns, None]), source=rng.choice(SOURCES),
        )  # fmt: skip
        stage = StageKey.INQUIRY
        StageEvent.objects.create(lead=lead, to_stage=stage, occurred_at=at)
        for target in path[: rng.randint(0, 5)]:
            at += timedelta(days=rng.randint(0, 9), hours=rng.randint(1, 30))
            if target == StageKey.SAL and rng.random() < 0.25:
                # Sent back, by sales or (no decision) by marketing.
                StageEvent.objects.create(lead=lead, from_stage=stage, to_stage=StageKey.RECYCLED,
                                          occurred_at=at, actor_team=rng.choice(
                                              ["", "sales", "marketing"]))  # fmt: skip
                at += timedelta(days=rng.randint(1, 40))
                StageEvent.objects.create(lead=lead, from_stage=StageKey.RECYCLED,
                                          to_stage=StageKey.MQL, occurred_at=at)  # fmt: skip
            event = StageEvent.objects.create(
                lead=lead, from_stage=stage, to_stage=target, occurred_at=at
            )
            stage = target
        mqls = StageEvent.objects.filter(lead=lead, to_stage=StageKey.MQL)
        mql_at = mqls.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
        if mql_at is not None:  # followed up around the SLAs the tests use, or not yet
            after = rng.choice([None, -3600, 0, 3599, 3600, 24 * 3600, 24 * 3600 + 1,
                                36 * 3600, 36 * 3600 + 1, 5 * 86400])  # fmt: skip
            Lead.objects.filter(pk=lead.pk).update(
                mql_at=mql_at,
                first_follow_up_at=None
                if after is None
                else mql_at + timedelta(seconds=after, microseconds=after % 2),
            )
        if n % 17 == 0 and stage != StageKey.INQUIRY:
            StageEvent.objects.create(
                lead=lead, from_stage=stage, to_stage=event.from_stage,
                occurred_at=at + timedelta(hours=2), source=StageEvent.Source.REVERT,
                reverts=event,
            )  # fmt: skip
    return territories


def _both_paths(f: MetricFilter) -> tuple[dict, dict]:
    rollups_refresh()
    assert RollupState.objects.exists() and not RollupDirty.objects.exists()
    from_rollups = metric_values(f=f)
    state = list(RollupState.objects.all())
    RollupState.objects.all().delete()  # no rollups built: the records are read
    from_events = metric_values(f=f)
    RollupState.objects.bulk_create(state)
    return from_rollups, from_events


@pytest.mark.parametrize("seed", [3, 11, 2026])
def test_every_metric_from_the_rollups_equals_its_definition(active_agreement, seed, settings):
    settings.TIME_ZONE = "Europe/Warsaw"  # days are the deployment's, not UTC's
    territories = _history(seed)
    for start, end in [(date(2026, 2, 2), date(2026, 2, 9)), (date(2026, 1, 1), date(2026, 7, 1)),
                       (date(2026, 3, 1), date(2026, 3, 29))]:  # fmt: skip
        for territory in [None, *territories]:
            f = MetricFilter(start=start, end=end, territory=territory)
            from_rollups, from_events = _both_paths(f)
            assert from_rollups == from_events, (start, end, territory)
    assert set(from_rollups) == set(METRIC_NAMES)


def test_new_leads_narrowed_and_grouped_from_the_rollups_equal_their_records(
    active_agreement, settings
):
    """New leads (and cost per lead, which divides by them) narrowed by campaign or source,
    and MQLs narrowed by campaign, grouped by campaign, source or territory as the campaign
    table groups them, read the rollups; the records give the same."""
    settings.TIME_ZONE = "America/New_York"
    territories = _history(23)
    campaign = Lead.objects.exclude(campaign=None).values_list("campaign_id", flat=True)[0]
    names = ["new_leads", "cost_per_lead", "mqls"]
    for start, end in [(date(2026, 1, 1), date(2026, 7, 1)), (date(2026, 2, 2), date(2026, 3, 2))]:
        filters = [
            MetricFilter(start=start, end=end, campaign=campaign),
            MetricFilter(start=start, end=end, source=SourceChannel.EVENT),
            MetricFilter(start=start, end=end, territory=territories[0], campaign=campaign),
        ]
        for f in filters:
            from_rollups, from_events = _both_paths(f)
            assert from_rollups == from_events, f
        f = MetricFilter(start=start, end=end)
        for by in ("campaign", "source", "territory", "channel"):
            rollups_refresh()
            grouped = metric_values_grouped(f=f, by=by, names=names)
            state = list(RollupState.objects.all())
            RollupState.objects.all().delete()
            assert metric_values_grouped(f=f, by=by, names=names) == grouped, (f, by)
            RollupState.objects.bulk_create(state)
    year = MetricFilter(start=date(2026, 1, 1), end=date(2027, 1, 1))
    rollups_refresh()
    with CaptureQueriesContext(connection) as read:
        metric_values(f=replace(year, campaign=campaign), names=["new_leads", "mqls"])
        metric_values_grouped(f=year, by="campaign", names=["new_leads", "mqls"])
    assert read.captured_queries and not [
        q for q in read.captured_queries if "leads_lead" in q["sql"]
    ]  # the rollups, not the leads
    by_source = metric_values_grouped(f=year, by="source", names=["new_leads"])
    assert sum(v["new_leads"] for v in by_source.values()) == Lead.objects.count() == 80
    assert LeadDayRollup.objects.exists()


@pytest.mark.parametrize("sla_hours", [24, 36, 5])
def test_sla_compliance_from_the_rollups_equals_its_definition(
    active_agreement, settings, sla_hours
):
    """Any SLA of whole hours: the window of MQL entries is shifted by it, its whole days
    read ResponseDayRollup and its parts of a day (an SLA not in days, the change of
    clocks on 29 March in Warsaw) the leads; follow-ups at the SLA to the microsecond."""
    settings.TIME_ZONE = "Europe/Warsaw"
    stage = active_agreement.stages.get(key=StageKey.MQL)
    stage.sla_hours = sla_hours
    stage.save()
    territories = _history(7)
    campaign = Lead.objects.exclude(campaign=None).values_list("campaign_id", flat=True)[0]
    values = set()
    for start, end in [(date(2026, 3, 23), date(2026, 4, 6)), (date(2026, 1, 1), date(2026, 7, 1)),
                       (date(2026, 2, 2), date(2026, 2, 3))]:  # fmt: skip
        narrowings = [{}, {"territory": territories[1]}, {"campaign": campaign},
                      {"source": SourceChannel.EMAIL, "territory": territories[0]}]  # fmt: skip
        for narrowing in narrowings:
            f = MetricFilter(start=start, end=end, **narrowing)
            rollups_refresh()
            with CaptureQueriesContext(connection) as read:
                kept = metric_values(f=f, names=["sla_compliance"])
            read_sql = " ".join(q["sql"] for q in read.captured_queries)
            # One day shifted by 5 or 36 hours holds no whole day: the leads alone.
            assert ("metrics_responsedayrollup" in read_sql) == (f.days > 1 or sla_hours == 24)
            state = list(RollupState.objects.all())
            RollupState.objects.all().delete()
            assert metric_values(f=f, names=["sla_compliance"]) == kept, (f, sla_hours)
            RollupState.objects.bulk_create(state)
            values.add(kept["sla_compliance"])
    assert len(values - {None, 0.0, 1.0}) >= 3  # real shares, not empty periods
    # Follow-ups at 24 and 36 hours to the microsecond, and a microsecond past them.
    kept_hours = set(ResponseDayRollup.objects.values_list("response_hours", flat=True))
    assert {0, 1, 24, 25, 36, 37, 120, None} <= kept_hours


def test_sales_decisions_on_mqls_from_the_rollups_equal_their_definition(active_agreement):
    """The MQLs accepted and rejected and the acceptance rate read StageDayRollup.decided:
    every move out of MQL into SAL, recycled or disqualified not made by marketing, none
    reverted; whole, by territory and campaign, and grouped."""
    territories = _history(17)
    campaign = Lead.objects.exclude(campaign=None).values_list("campaign_id", flat=True)[0]
    names = ["mqls_accepted", "mqls_rejected", "acceptance_rate"]
    marketing = StageEvent.objects.filter(from_stage=StageKey.MQL, actor_team="marketing")
    assert marketing.exists()  # moves that are no decision, in the history
    for narrowing in [{}, {"territory": territories[2]}, {"campaign": campaign}]:
        f = MetricFilter(start=date(2026, 1, 1), end=date(2026, 7, 1), **narrowing)
        rollups_refresh()
        with CaptureQueriesContext(connection) as read:
            kept = metric_values(f=f, names=names)
        assert not [q for q in read.captured_queries if "leads_stageevent" in q["sql"]]
        grouped = metric_values_grouped(f=f, by="territory", names=names)
        state = list(RollupState.objects.all())
        RollupState.objects.all().delete()
        assert metric_values(f=f, names=names) == kept, narrowing
        assert metric_values_grouped(f=f, by="territory", names=names) == grouped, narrowing
        RollupState.objects.bulk_create(state)
    assert kept["mqls_accepted"] > 0 and kept["mqls_rejected"] > 0
    assert StageDayRollup.objects.filter(decided__gt=0).exists()


def test_an_additive_metric_is_the_sum_of_its_groups_in_every_grouping(active_agreement):
    """What the `additive` flag promises (a reading adds a table's rows up for its total):
    for each such metric and grouping, from the rollups and from the records."""
    from metrics.definitions import _SEVERAL_GROUPS, GROUPINGS, REGISTRY, metric_empty_value
    from tests.factories import SpendEntryFactory

    territories = _history(13)
    # A campaign aimed at two territories: its spend is in both territories' groups.
    wide = CampaignFactory()
    wide.target_territories.set(territories[:2])
    SpendEntryFactory(campaign=wide, date=date(2026, 2, 2))
    SpendEntryFactory(date=date(2026, 3, 2))
    f = MetricFilter(start=date(2026, 1, 1), end=date(2026, 7, 1))
    additive = [name for name, metric in REGISTRY.items() if metric.additive]
    assert {"new_leads", "mqls", "spend", "follow_ups_within_sla"} <= set(additive)
    for built in (True, False):
        rollups_refresh()
        if not built:
            RollupState.objects.all().delete()
        for name in additive:
            metric = REGISTRY[name]
            whole = metric.value(f)
            for by in GROUPINGS:
                summed = sum(metric.values_grouped(f, by=by).values(),
                             start=metric_empty_value(name))  # fmt: skip
                if (metric.base, by) in _SEVERAL_GROUPS:
                    assert summed > whole, (name, by)  # why it is never added up
                else:
                    assert summed == whole, (name, by)
    assert metric_values(f=f, names=["new_leads"])["new_leads"] == 80
    with rollups_reading():  # a reading that has the spend by territory still reads the whole
        REGISTRY["spend"].values_grouped(f, by="territory")
        assert REGISTRY["spend"].value(f) == Decimal("500.00")


def test_the_plans_from_the_rollups_equal_the_plans_from_the_events(active_agreement):
    territories = _history(5)
    f = MetricFilter(start=date(2026, 6, 1), end=date(2026, 6, 8))
    rollups_refresh()
    from_rollups = plans_compute(f=f, territories=territories)
    RollupState.objects.all().delete()
    assert plans_compute(f=f, territories=territories) == from_rollups
    assert any(plan.rates.get("mql→sal") for plan in from_rollups.values())


@pytest.mark.django_db(transaction=True)  # a reader as in production: not in a transaction
def test_a_reader_refreshes_a_few_waiting_changes_and_reads_the_events_past_that(
    active_agreement, monkeypatch
):
    _history(9)
    rollups_refresh()
    lead = LeadFactory()
    StageEvent.objects.create(lead=lead, to_stage=StageKey.MQL, occurred_at=START)
    f = MetricFilter(start=date(2026, 1, 1), end=date(2026, 1, 2))
    with_one = metric_values(f=f, names=["mqls"])["mqls"]
    assert not RollupDirty.objects.exists()  # the reader refreshed the one change
    monkeypatch.setattr("metrics.rollups.REFRESH_AT_READ", 0)
    StageEvent.objects.create(lead=LeadFactory(), to_stage=StageKey.MQL, occurred_at=START)
    assert metric_values(f=f, names=["mqls"])["mqls"] == with_one + 1  # from the events
    assert RollupDirty.objects.count() == 2  # the lead counted in and its move: the worker's
    assert REFRESH_AT_READ > 0


def test_the_triggers_see_writes_made_past_the_orm(active_agreement):
    lead = LeadFactory()
    rollups_refresh()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_stageevent (lead_id, from_stage, to_stage, occurred_at, "
            "reason_code, reason, source, actor_team, override) "
            "VALUES (%s, '', 'mql', %s, '', '', 'import', '', %s)",
            [lead.pk, START, False],
        )
    assert RollupDirty.objects.filter(lead_id=lead.pk).exists()
    rollups_refresh()
    assert StageDayRollup.objects.get(stage="mql").entries == 1


def test_postgresql_logs_rows_written_many_at_a_time_once_per_statement(active_agreement):
    """An import's COPY and a bulk delete are logged from the statement's transition table
    (metrics 0010): the same log rows as one trigger per row wrote, at a fraction of the cost.
    """
    need(connection.vendor == "postgresql", "statement triggers are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgtype & 1 = 1 FROM pg_trigger WHERE tgname LIKE 'metrics_rollup%%' "
            "AND tgrelid IN ('leads_lead'::regclass, 'leads_stageevent'::regclass)"
        )
        per_row = dict(cursor.fetchall())
    assert per_row == {
        "metrics_rollup_leads_in": False, "metrics_rollup_leads_out": False,
        "metrics_rollup_events_added": False, "metrics_rollup_events_removed": False,
        # Changes to chosen columns, and a changed event, stay logged per row.
        "metrics_rollup_lead": True, "metrics_rollup_lead_count_change": True,
        "metrics_rollup_event": True,
    }  # fmt: skip
    north = TerritoryFactory(code="north").pk
    rollups_refresh()
    leads: list[Lead] = []
    _import(leads, count=3, territory=north, campaign=None, at=START)
    logged = RollupDirty.objects.order_by("pk").values_list("kind", "lead_id", "territory_id")
    ids = [lead.pk for lead in leads]
    assert list(logged) == [
        *(("lead_in", pk, north) for pk in ids),
        *(row for pk in ids for row in [("added", pk, north)] * 2),
    ]
    rollups_refresh()
    assert StageDayRollup.objects.get(stage=StageKey.MQL, territory_id=north).entries == 3
    StageEvent.objects.filter(lead__in=ids).delete()
    Lead.objects.filter(pk__in=ids).delete()
    assert sorted(logged.values_list("kind", flat=True)) == ["lead_out"] * 3 + ["removed"] * 6
    rollups_refresh()
    _kept_equals_a_rebuild()
    assert not StageDayRollup.objects.filter(entries__gt=0).exists()


def test_the_command_and_the_task_rebuild_and_refresh(active_agreement):
    from io import StringIO

    from django.core.management import call_command

    from metrics.tasks import refresh_rollups

    _history(4)
    assert refresh_rollups() is True and not RollupDirty.objects.exists()
    kept = _table()
    out = StringIO()
    call_command("rollups_rebuild", stdout=out)
    assert "rollup rows written" in out.getvalue()
    assert _table() == kept and kept


def _api_metrics(client, params: dict) -> dict:
    response = client.get("/api/v1/metrics/", params)
    assert response.status_code == 200, response.content
    return response.json()["metrics"]


def _through_the_api_both_paths(client, params: dict) -> None:
    rollups_refresh()
    assert RollupState.objects.exists() and not RollupDirty.objects.exists()
    from_rollups = _api_metrics(client, params)
    state = list(RollupState.objects.all())
    RollupState.objects.all().delete()  # no rollups built: the records are read
    from_events = _api_metrics(client, params)
    RollupState.objects.bulk_create(state)
    assert from_rollups == from_events, params
    assert set(from_rollups) == set(METRIC_NAMES)


def test_every_metric_through_the_api_is_the_same_on_both_paths(active_agreement, executive):
    from rest_framework.test import APIClient

    territories = _history(17)
    client = APIClient()
    client.force_authenticate(executive)
    half_year = {"start": "2026-01-01", "end": "2026-06-30", "territory": territories[1]}
    for params in ({"start": "2026-02-02", "end": "2026-03-02"}, {"week": "2026-03-04"}, half_year):
        _through_the_api_both_paths(client, params)


def test_every_metric_of_the_demo_is_the_same_on_both_paths(executive):
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from config.dates import deployment_date
    from metrics.models import Territory

    call_command("seed_demo", "--leads", "120", verbosity=0)
    client = APIClient()
    client.force_authenticate(executive)
    today = deployment_date()
    last_month = {"start": str(today - timedelta(days=28)), "end": str(today)}
    _through_the_api_both_paths(client, last_month)
    territory = Territory.objects.order_by("pk").first()
    _through_the_api_both_paths(client, {**last_month, "territory": territory.pk})
    rollups_refresh()
    assert StageDayRollup.objects.filter(stage="mql").exists()  # the demo has MQLs to count


@pytest.mark.django_db(transaction=True)
def test_refreshes_running_at_once_outside_a_transaction_keep_the_rollups_exact():
    """The real path (no test transaction around it): the session lock, then a
    REPEATABLE READ snapshot; a worker and readers refreshing at once count each change
    once."""
    import threading

    from django.db import connections

    need(connection.vendor == "postgresql", "the refresh's lock and snapshot are PostgreSQL's")
    territories = _history(31)
    rollups_rebuild()
    leads = list(Lead.objects.order_by("pk")[:40])
    for n, lead in enumerate(leads):
        StageEvent.objects.create(lead=lead, from_stage="", to_stage=StageKey.SAL,
                                  occurred_at=START + timedelta(days=n))  # fmt: skip
        if n % 3 == 0:
            Lead.objects.filter(pk=lead.pk).update(territory_id=territories[n % 3])
    errors: list[BaseException] = []

    def refresh(limit: int | None) -> None:
        try:
            for _ in range(3):
                rollups_refresh(limit=limit)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh, args=(limit,)) for limit in (None, 2000, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rollups_refresh()
    kept = _table()
    assert not RollupDirty.objects.exists()
    rollups_rebuild()
    assert kept == _table()


def test_an_event_logged_before_a_territory_change_committed_counts_where_the_lead_is_now(
    active_agreement,
):
    """Two writers at once: an import inserts an event (its log row reads territory A)
    while a manager moves the lead to B; the move is refreshed first. The lead's part
    must leave B, not A."""
    north, south = TerritoryFactory(code="north").pk, TerritoryFactory(code="south").pk
    lead = LeadFactory(territory_id=north)
    StageEvent.objects.create(lead=lead, to_stage=StageKey.MQL, occurred_at=START)
    rollups_rebuild()
    Lead.objects.filter(pk=lead.pk).update(territory_id=south)
    rollups_refresh()
    StageEvent.objects.create(lead=lead, from_stage=StageKey.MQL, to_stage=StageKey.SAL,
                              occurred_at=START + timedelta(days=1))  # fmt: skip
    RollupDirty.objects.update(territory_id=north)  # written before the move was visible
    rebuilt_at = RollupState.objects.get().rebuilt_at
    assert rollups_refresh() is True
    assert RollupState.objects.get().rebuilt_at == rebuilt_at  # kept by differences
    kept = _table()
    rollups_rebuild()
    assert kept == _table()
    assert {row[2] for row in kept if len(row) == 12} == {south}  # the stage rows
    assert {row[1] for row in kept if len(row) == 5} == {south}  # the lead's LeadDayRollup


@pytest.mark.django_db(transaction=True)  # a reader as in production: not in a transaction
def test_rollups_that_drifted_are_read_around_then_rebuilt(active_agreement):
    _history(8)
    rollups_refresh()
    StageDayRollup.objects.filter(stage="mql").update(entries=0, reached_sal=0)  # corrupted
    lead = Lead.objects.filter(stage_events__to_stage="mql").first()
    StageEvent.objects.filter(lead=lead).delete()
    f = MetricFilter(start=date(2026, 1, 1), end=date(2026, 7, 1))
    from_events = metric_values(f=f, names=["mqls"])  # the reader meets the drift
    assert not RollupState.objects.exists()  # marked for a rebuild; the events were read
    assert rollups_refresh() is True  # the worker rebuilds
    assert metric_values(f=f, names=["mqls"]) == from_events
    kept = _table()
    rollups_rebuild()
    assert kept == _table()


def test_a_row_left_with_more_reached_than_entries_is_drift_not_an_empty_row():
    """Of a row's entries at most all reach a later stage: a difference that leaves a row
    with no entries but a reached count means the rows no longer match the events."""
    from collections import Counter

    from metrics.rollups import RollupsDrifted, _rows_add

    key = (date(2026, 1, 5), "mql", None, None, None)
    StageDayRollup.objects.create(day=key[0], stage="mql", entries=1, reached_sal=1)
    with pytest.raises(RollupsDrifted):
        _rows_add({key: Counter(entries=-1)})
    assert StageDayRollup.objects.get().entries == 1  # nothing written


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(step.filter(lambda op: op[0] != "refresh"), min_size=1, max_size=30),
       rows=st.integers(1, 6))  # fmt: skip
def test_a_backlog_taken_in_steps_of_leads_equals_a_rebuild(
    active_agreement, history, rows, monkeypatch
):
    """The worker's catch-up after an import: every change of a range of leads per step."""
    monkeypatch.setattr(rollups_module, "CATCH_UP_ROWS", rows)
    taken: list[int] = []

    def counting(queryset):
        taken.append(queryset.count())
        _TAKE(queryset)

    monkeypatch.setattr(rollups_module, "_take", counting)
    with transaction.atomic():
        _played(history)
        waiting = RollupDirty.objects.count()
        rollups_refresh()
        if waiting > rows:  # taken in more than one step, all of them in the end
            assert len(taken) > 1 and sum(taken) == waiting
        _kept_equals_a_rebuild()
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_leaves_its_tables_vacuumed_and_analyzed():
    """Every row a rebuild writes is new: readers would plan from the old table's
    statistics (here: none) until autovacuum came."""
    need(connection.vendor == "postgresql", "VACUUM and the statistics are PostgreSQL's")
    _history(7)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        started = cursor.fetchone()[0]
    rollups_rebuild()
    counts = {
        "metrics_stagedayrollup": StageDayRollup.objects.count(),
        "metrics_leaddayrollup": LeadDayRollup.objects.count(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT c.relname, c.reltuples, s.last_vacuum, s.last_analyze FROM pg_class c"
            " JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = ANY(%s)",
            [list(counts)],
        )
        tables = {name: rest for name, *rest in cursor.fetchall()}
    assert set(tables) == set(counts) and all(counts.values())
    for name, (tuples, vacuumed, analyzed) in tables.items():
        assert tuples == counts[name], name  # the planner counts the new rows
        assert vacuumed >= started and analyzed >= started, name
