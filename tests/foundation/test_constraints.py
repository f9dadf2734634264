"""What the database itself refuses, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from alignment.agreement.services import agreement_create_default
from alignment.models import Agreement, AgreementStatus
from leads.models import Lead
from metrics.models import Scorecard
from tests.factories import LeadFactory, TerritoryFactory

pytestmark = pytest.mark.django_db


def test_it_refuses_a_second_lead_whose_email_differs_only_in_case():
    Lead.objects.create(email="Ana.Kowalska@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.create(email="ana.kowalska@example.COM")
    assert Lead.objects.count() == 1


def test_it_refuses_a_duplicate_external_id_but_allows_many_without_one():
    LeadFactory(external_id="crm-1")
    LeadFactory(external_id=None)
    LeadFactory(external_id=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(external_id="crm-1")


def test_it_refuses_a_second_scorecard_for_the_same_week_and_territory():
    territory = TerritoryFactory()
    week = date(2026, 11, 16)
    Scorecard.objects.create(week_start=week, territory=territory, computed_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Scorecard.objects.create(week_start=week, territory=territory, computed_at=timezone.now())


def test_it_refuses_a_second_overall_scorecard_for_the_same_week():
    week = date(2026, 11, 16)
    Scorecard.objects.create(week_start=week, territory=None, computed_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Scorecard.objects.create(week_start=week, territory=None, computed_at=timezone.now())
    # Another week, or a territory row of the same week, is fine.
    Scorecard.objects.create(
        week_start=date(2026, 11, 23), territory=None, computed_at=timezone.now()
    )
    Scorecard.objects.create(
        week_start=week, territory=TerritoryFactory(), computed_at=timezone.now()
    )
    assert Scorecard.objects.count() == 3


def test_it_refuses_a_second_active_agreement():
    agreement_create_default()
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(
            version=99, title="Rogue", status=AgreementStatus.ACTIVE, activated_at=timezone.now()
        )


def test_the_default_agreement_is_installed_once_with_the_waterfall():
    first = agreement_create_default()
    second = agreement_create_default()
    assert first.pk == second.pk
    keys = list(first.stages.order_by("order").values_list("key", flat=True))
    assert keys == [
        "inquiry",
        "mql",
        "sal",
        "sql",
        "opportunity",
        "won",
        "lost",
        "recycled",
        "disqualified",
    ]
    mql = first.stages.get(key="mql")
    assert set(mql.next_stages.values_list("key", flat=True)) == {"sal", "recycled", "disqualified"}
    assert first.stages.get(key="sal").owner_team == "sales"
