"""A deal keeps the lead's facts the deal figures read (Deal.account, lead_campaign,
lead_created_at), kept by the database on every write path (leads 0021)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from config.bulk import rows_insert
from leads.models import Deal, DealOutcome, Lead, account_key
from metrics.definitions import MetricFilter, metric_value
from tests.factories import CampaignFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


def _facts(deal: Deal) -> tuple:
    deal.refresh_from_db()
    return deal.account, deal.lead_campaign_id, deal.lead_created_at


def _lead_facts(lead: Lead) -> tuple:
    row = Lead.objects.filter(pk=lead.pk).annotate(a=account_key()).get()
    return row.a, row.campaign_id, row.created_at


def test_a_new_deal_carries_its_leads_account_campaign_and_creation_time():
    campaign = CampaignFactory()
    created = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    lead = LeadFactory(company="  Acme Corp ", campaign=campaign, created_at=created)
    deal = DealFactory(lead=lead)
    assert _facts(deal) == ("acme corp", campaign.pk, created) == _lead_facts(lead)
    # Without a company the lead is its own account: its e-mail, lower-cased.
    alone = DealFactory(lead=LeadFactory(company="", email="Ana@Example.COM"))
    assert _facts(alone)[0] == "ana@example.com" == _lead_facts(alone.lead)[0]


def test_whatever_is_assigned_on_the_deal_is_overwritten_from_the_lead_on_save():
    deal = DealFactory(lead=LeadFactory(company="Globex"))
    deal.account, deal.lead_created_at = "someone else", timezone.now() + timedelta(days=9)
    deal.save()
    Deal.objects.filter(pk=deal.pk).update(account="raw sql", lead_campaign=None)
    assert _facts(deal) == _lead_facts(deal.lead)
    assert deal.account == "globex"


def test_a_change_to_the_lead_follows_on_its_deals_whatever_path_writes_it():
    lead = LeadFactory(company="Initech")
    deals = [DealFactory(lead=lead), DealFactory(lead=lead)]
    other = DealFactory(lead=LeadFactory(company="Umbrella"))
    campaign = CampaignFactory()
    lead.company, lead.campaign = "Initrode", campaign
    lead.save()
    Lead.objects.filter(pk=lead.pk).update(created_at=datetime(2025, 1, 1, tzinfo=UTC))
    lead.refresh_from_db()
    for deal in deals:
        assert _facts(deal) == _lead_facts(lead) == (
            "initrode", campaign.pk, datetime(2025, 1, 1, tzinfo=UTC)
        )  # fmt: skip
    assert _facts(other)[0] == "umbrella"  # another lead's deals are untouched
    Lead.objects.filter(pk=lead.pk).update(company="", email="new@example.com")
    assert {_facts(d)[0] for d in deals} == {"new@example.com"}


def test_a_deal_moved_to_another_lead_takes_that_leads_facts():
    deal = DealFactory(lead=LeadFactory(company="Hooli"))
    survivor = LeadFactory(company="Pied Piper", campaign=CampaignFactory())
    Deal.objects.filter(pk=deal.pk).update(lead=survivor)  # as a merge moves them
    assert _facts(deal) == _lead_facts(survivor)


def test_deals_written_in_bulk_carry_the_facts_too():
    """The importer writes deals with config.bulk (COPY on PostgreSQL)."""
    lead = LeadFactory(company="Vandelay", campaign=CampaignFactory())
    closed = timezone.now()
    ids = rows_insert(
        Deal,
        [{"lead_id": lead.pk, "amount": Decimal("10.00"), "outcome": DealOutcome.WON,
          "closed_at": closed, "created_at": closed}],
        with_ids=True,
    )  # fmt: skip
    assert _facts(Deal.objects.get(pk=ids[0])) == _lead_facts(lead)


def test_new_accounts_follows_a_lead_that_joins_an_account_with_an_earlier_win():
    now = timezone.now()
    period = MetricFilter(
        start=(now - timedelta(days=7)).date(), end=(now + timedelta(days=1)).date()
    )
    won = {"outcome": DealOutcome.WON}
    DealFactory(lead=LeadFactory(company="Soylent"), closed_at=now - timedelta(days=60), **won)
    newcomer = LeadFactory(company="Tyrell")
    DealFactory(lead=newcomer, closed_at=now - timedelta(days=1), **won)
    assert metric_value(name="new_accounts", f=period) == 1  # Tyrell's first win
    Lead.objects.filter(pk=newcomer.pk).update(company=" SOYLENT")  # the same account
    assert metric_value(name="new_accounts", f=period) == 0  # Soylent won before


def test_the_triggers_outlive_every_migration():
    """On SQLite a later AlterField on the deal or the lead remakes the table and drops
    its triggers silently: the migrated database must still have them (and the rollups')."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {row[0] for row in cursor.fetchall()}
    deal = {"leads_deal_lead_facts"} if connection.vendor == "postgresql" else {
        "leads_deal_lead_facts_insert", "leads_deal_lead_facts_update"
    }  # fmt: skip
    assert deal | {"leads_lead_deal_facts", "metrics_rollup_lead_count_change"} <= names
