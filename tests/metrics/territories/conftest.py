"""Two territories: EMEA (Poland, the default) with three reps in turn, APAC (Indonesia)
with one rep of its own."""

from __future__ import annotations

import pytest

from alignment.accounts.roles import Role
from metrics.models import TerritoryCountry, TerritoryMember
from tests.factories import TerritoryFactory, UserFactory


@pytest.fixture
def emea(active_agreement, sales_manager):
    territory = TerritoryFactory(code="emea", name="EMEA", is_default=True, manager=sales_manager)
    TerritoryCountry.objects.create(territory=territory, country="PL")
    return territory


@pytest.fixture
def apac(active_agreement, sales_manager):
    territory = TerritoryFactory(code="apac", name="APAC", manager=sales_manager)
    TerritoryCountry.objects.create(territory=territory, country="ID")
    return territory


@pytest.fixture
def emea_reps(emea):
    """Ana, Ben and Cid work EMEA, in that round-robin order."""
    reps = [
        UserFactory(username=name.lower(), first_name=name, last_name="Rep", role=Role.SALES_REP)
        for name in ("Ana", "Ben", "Cid")
    ]
    for position, rep in enumerate(reps, 1):
        TerritoryMember.objects.create(territory=emea, user=rep, position=position)
    return reps


@pytest.fixture
def outsider(apac):
    """A rep who works APAC only."""
    rep = UserFactory(username="dewi", first_name="Dewi", last_name="Rep", role=Role.SALES_REP)
    TerritoryMember.objects.create(territory=apac, user=rep, position=1)
    return rep
