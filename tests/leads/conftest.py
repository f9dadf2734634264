"""Fixtures of the sales side: an agreement, a territory with a manager and two reps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import Deal, Lead
from leads.services import lead_create, lead_transition
from metrics.models import TerritoryCountry, TerritoryMember
from tests.factories import TerritoryFactory, UserFactory


@pytest.fixture
def territory(active_agreement, sales_manager):
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=sales_manager)
    TerritoryCountry.objects.create(territory=territory, country="PL")
    return territory


@pytest.fixture
def team(territory, rep):
    """Two active reps in the territory: rep (rep1) and rep2."""
    other = UserFactory(username="rep2", role=Role.SALES_REP)
    for user in (rep, other):
        TerritoryMember.objects.create(territory=territory, user=user)
    return [rep, other]


def make_lead(*, email: str, stage: str = StageKey.INQUIRY, owner=None, at=None, **extra) -> Lead:
    """A lead created through the services and walked along the funnel to `stage`.

    It earns its MQL under the default agreement's rules (a large company, a director,
    a referral: 60 points), and an opportunity gets an open deal first, as the agreement
    requires.
    """
    at = at or timezone.now()
    qualifying = {"company_size": 200, "title": "Head of Sales, Director", "source": "referral"}
    lead = lead_create(
        data={"email": email, "company": "Acme", "country": "PL", **qualifying, **extra},
        actor=None,
        created_at=at - timedelta(minutes=5),
        score=False,
    )
    path = {
        StageKey.INQUIRY: [],
        StageKey.MQL: [StageKey.MQL],
        StageKey.SAL: [StageKey.MQL, StageKey.SAL],
        StageKey.SQL: [StageKey.MQL, StageKey.SAL, StageKey.SQL],
        StageKey.OPPORTUNITY: [StageKey.MQL, StageKey.SAL, StageKey.SQL, StageKey.OPPORTUNITY],
    }[stage]
    if owner is not None:
        Lead.objects.filter(pk=lead.pk).update(owner=owner)
        lead.owner = owner
    if path:
        lead.score = 60
        Lead.objects.filter(pk=lead.pk).update(score=60)
    for step in path:
        if step == StageKey.OPPORTUNITY:
            Deal.objects.create(lead=lead, owner_id=lead.owner_id, name="Acme", amount=1000)
        lead_transition(lead=lead, to_stage=step, actor=None, at=at)
    lead.refresh_from_db()
    return lead
