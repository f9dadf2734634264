"""A deal knows whether it is its account's first win (Deal.first_win), kept by the
database on every write path (leads 0023), so a period's new accounts are the first wins
closed in it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.bulk import rows_insert
from leads.models import Deal, DealOutcome, Lead
from metrics.definitions import MetricFilter, metric_records, metric_value
from tests.conftest import need, pg_plan
from tests.factories import DealFactory, LeadFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WON = DealOutcome.WON


def _expected() -> dict[int, bool]:
    """Every deal's flag by the definition, in Python: the earliest won deal of its
    account by (closing time, id); a deal without an account is its own account."""
    deals = list(Deal.objects.values("id", "account", "outcome", "closed_at"))
    first: dict[str, tuple] = {}
    for d in deals:
        if d["outcome"] == WON and d["closed_at"] is not None and d["account"] is not None:
            key = (d["closed_at"], d["id"])
            first[d["account"]] = min(first.get(d["account"], key), key)
    return {
        d["id"]: d["outcome"] == WON
        and d["closed_at"] is not None
        and (d["account"] is None or first[d["account"]] == (d["closed_at"], d["id"]))
        for d in deals
    }


def _flags() -> dict[int, bool]:
    return dict(Deal.objects.values_list("id", "first_win"))


def test_the_earliest_win_of_an_account_is_its_first_and_the_flag_moves_with_the_wins():
    acme_a, acme_b = LeadFactory(company="Acme"), LeadFactory(company=" ACME ")
    later = DealFactory(lead=acme_a, outcome=WON, closed_at=T0 + timedelta(days=3))
    assert _flags() == {later.pk: True}
    earlier = DealFactory(lead=acme_b, outcome=WON, closed_at=T0)  # the same account
    assert _flags() == {later.pk: False, earlier.pk: True}
    open_deal = DealFactory(lead=acme_a)  # open: no win
    earlier.outcome, earlier.lost_reason = DealOutcome.LOST, "Price"  # the admin's edit: a save
    earlier.save()
    assert _flags() == {later.pk: True, earlier.pk: False, open_deal.pk: False}
    later.delete()
    assert _flags() == {earlier.pk: False, open_deal.pk: False}


def test_a_tie_in_closing_time_goes_to_the_older_deal():
    lead = LeadFactory(company="Initech")
    first = DealFactory(lead=lead, outcome=WON, closed_at=T0)
    second = DealFactory(lead=lead, outcome=WON, closed_at=T0)
    assert _flags() == {first.pk: True, second.pk: False}


def test_the_flag_follows_the_lead_joining_another_account_and_a_deal_moving_leads():
    soylent = DealFactory(lead=LeadFactory(company="Soylent"), outcome=WON, closed_at=T0)
    newcomer = LeadFactory(company="Tyrell")
    tyrell = DealFactory(lead=newcomer, outcome=WON, closed_at=T0 + timedelta(days=1))
    assert _flags() == {soylent.pk: True, tyrell.pk: True}
    Lead.objects.filter(pk=newcomer.pk).update(company=" SOYLENT")  # raw SQL, one account
    assert _flags() == {soylent.pk: True, tyrell.pk: False}
    Deal.objects.filter(pk=soylent.pk).update(lead=LeadFactory(company="Hooli"))  # a merge
    assert _flags() == {soylent.pk: True, tyrell.pk: True}


def test_deals_written_in_bulk_are_flagged_too():
    """The importer writes deals with config.bulk (COPY on PostgreSQL)."""
    lead = LeadFactory(company="Vandelay")
    rows = [
        {"lead_id": lead.pk, "amount": Decimal("10.00"), "outcome": WON,
         "closed_at": T0 + timedelta(hours=h), "created_at": T0}
        for h in (5, 1, 3)
    ]  # fmt: skip
    ids = rows_insert(Deal, rows, with_ids=True)
    assert _flags() == {ids[0]: False, ids[1]: True, ids[2]: False}


def test_new_accounts_are_the_first_wins_closed_in_the_period():
    week = MetricFilter(start=T0.date(), end=(T0 + timedelta(days=7)).date())
    DealFactory(lead=LeadFactory(company="Old"), outcome=WON, closed_at=T0 - timedelta(days=30))
    DealFactory(lead=LeadFactory(company="old"), outcome=WON, closed_at=T0 + timedelta(days=1))
    new = DealFactory(lead=LeadFactory(company="New"), outcome=WON, closed_at=T0)
    DealFactory(lead=LeadFactory(company="New"), outcome=WON, closed_at=T0 + timedelta(days=2))
    assert metric_value(name="new_accounts", f=week) == 1
    assert list(metric_records(name="new_accounts", f=week).values_list("pk", flat=True)) == [
        new.pk
    ]


def test_the_new_accounts_of_a_period_read_the_first_wins_index():
    need(connection.vendor == "postgresql", "the plan is PostgreSQL's")
    week = MetricFilter(start=T0.date(), end=(T0 + timedelta(days=7)).date())
    plan = pg_plan(metric_records(name="new_accounts", f=week).order_by())
    assert "deal_first_win_idx" in plan, plan


# One step of a random history: (what, which deal or lead, a number).
step = st.tuples(
    st.sampled_from(["create", "win", "lose", "reopen", "move", "rename", "delete"]),
    st.integers(min_value=0, max_value=7),
    st.integers(min_value=0, max_value=5),
)
COMPANIES = ["Acme", " acme", "Globex", "", "Initech"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(step, min_size=1, max_size=25))
def test_after_any_history_each_deal_is_flagged_as_the_definition_says(history):
    with transaction.atomic():
        leads = [
            LeadFactory(company=COMPANIES[i % len(COMPANIES)], email=f"p{i}@x.io") for i in range(6)
        ]
        deals: list[Deal] = []
        for what, which, n in history:
            lead = leads[which % len(leads)]
            deal = deals[which % len(deals)] if deals else None
            at = T0 + timedelta(days=n % 3)  # ties on purpose
            if what == "create" or deal is None:
                won = {"outcome": WON, "closed_at": at} if n % 2 else {}
                deals.append(DealFactory(lead=lead, **won))
            elif what == "win":
                Deal.objects.filter(pk=deal.pk).update(outcome=WON, closed_at=at)
            elif what == "lose":
                deal.refresh_from_db()
                deal.outcome, deal.closed_at, deal.lost_reason = DealOutcome.LOST, at, "Price"
                deal.save()
            elif what == "reopen":
                Deal.objects.filter(pk=deal.pk).update(outcome=DealOutcome.OPEN, closed_at=None)
            elif what == "move":
                Deal.objects.filter(pk=deal.pk).update(lead=lead)
            elif what == "rename":
                Lead.objects.filter(pk=lead.pk).update(company=COMPANIES[n % len(COMPANIES)])
            elif what == "delete":
                deal.delete()
                deals.remove(deal)
        assert _flags() == _expected()
        transaction.set_rollback(True)


def test_the_triggers_outlive_every_migration():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            wanted = {"leads_deal_first_win"}
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            # 0021's insert and update triggers set the facts, then the flags.
            wanted = {
                "leads_deal_lead_facts_insert", "leads_deal_lead_facts_update",
                "leads_deal_first_win_delete", "leads_lead_deal_facts",
            }  # fmt: skip
        assert wanted <= {row[0] for row in cursor.fetchall()}
