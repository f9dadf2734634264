"""Attribution: each model credits every won deal once, to the cent, within the period."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from campaigns.attribution import (
    AttributionModel,
    attribution_first_touch,
    attribution_for_period,
    attribution_last_touch,
    attribution_linear,
    split_evenly,
    won_deals,
)
from campaigns.models import Touch, TouchKind
from leads.models import DealOutcome
from tests.factories import CampaignFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _utc(settings):
    # The hand-made data is in UTC; periods are whole days of the deployment's zone.
    settings.TIME_ZONE = "UTC"


JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def day(n: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, n, hour, tzinfo=UTC)


def touch(lead, campaign, at):
    return Touch.objects.create(
        lead=lead, campaign=campaign, kind=TouchKind.PAGE_VISIT, occurred_at=at
    )


def won(lead, amount, closed_at):
    return DealFactory(
        lead=lead, amount=Decimal(amount), outcome=DealOutcome.WON, closed_at=closed_at
    )


@pytest.fixture
def book():
    """Three campaigns, three won deals in January and some that must not count."""
    a, b, c = CampaignFactory(name="A"), CampaignFactory(name="B"), CampaignFactory(name="C")
    # Deal 1: first touch A (the lead's UTM campaign); touches A, B, MQL, C; won 1000.00
    # on the period's last evening.
    l1 = LeadFactory(campaign=a, mql_at=day(4))
    touch(l1, a, day(1))
    touch(l1, b, day(3))
    touch(l1, c, day(6))
    won(l1, "1000.00", datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    # Deal 2: no UTM campaign; C twice (once before MQL), A only after the win.
    l2 = LeadFactory(campaign=None, mql_at=day(3))
    touch(l2, c, day(2))
    touch(l2, c, day(5))
    touch(l2, a, day(20))
    won(l2, "500.00", day(15))
    # Deal 3: nobody can claim it.
    won(LeadFactory(campaign=None), "200.00", day(10))
    # Not January revenue: won exactly at the period's end, open, lost, a December win.
    won(l1, "9999.00", FEB)
    DealFactory(lead=l1, amount=Decimal("777.00"))
    DealFactory(
        lead=l2,
        amount=Decimal("555.00"),
        outcome=DealOutcome.LOST,
        closed_at=day(9),
        lost_reason="price",
    )
    won(l2, "4444.00", datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))
    return a, b, c


def test_first_touch_credits_the_leads_first_touch_campaign(book):
    a, _b, _c = book
    result = attribution_first_touch(deals=won_deals(start=JAN, end=FEB))
    assert result.model == AttributionModel.FIRST_TOUCH
    # Deal 2's lead was given no first-touch campaign (a raw row): unattributed.
    assert result.credits == {a.pk: Decimal("1000.00"), None: Decimal("700.00")}


def test_last_touch_credits_the_latest_touch_before_the_lead_became_an_mql(book):
    _a, b, c = book
    result = attribution_last_touch(deals=won_deals(start=JAN, end=FEB))
    assert result.credits == {
        b.pk: Decimal("1000.00"),
        c.pk: Decimal("500.00"),
        None: Decimal("200.00"),
    }


def test_linear_splits_over_touches_before_the_win_to_the_cent(book):
    a, b, c = book
    result = attribution_linear(deals=won_deals(start=JAN, end=FEB))
    # 1000.00 over A, B, C = 333.34 + 333.33 + 333.33; 500.00 to C twice; A's touch after
    # deal 2 was won earns nothing.
    assert result.credits == {
        a.pk: Decimal("333.34"),
        b.pk: Decimal("333.33"),
        c.pk: Decimal("833.33"),
        None: Decimal("200.00"),
    }


@pytest.mark.parametrize("model", AttributionModel.values)
def test_every_model_credits_all_won_revenue_of_the_period_exactly_once(book, model):
    result = attribution_for_period(model=model, start=JAN, end=FEB)
    assert result.total == Decimal("1700.00")
    assert sum(result.credits.values()) == Decimal("1700.00")
    assert all(isinstance(v, Decimal) for v in result.credits.values())


def test_the_period_boundary_is_half_open(book):
    a, _b, _c = book
    feb = attribution_for_period(
        model=AttributionModel.FIRST_TOUCH, start=FEB, end=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert feb.total == Decimal("9999.00")
    assert feb.credits == {a.pk: Decimal("9999.00")}


def test_first_touch_is_the_common_metrics_attributed_revenue(book):
    from metrics.definitions import REGISTRY, MetricFilter

    f = MetricFilter(start=JAN.date(), end=FEB.date())
    common = REGISTRY["attributed_revenue"].values_grouped(f, by="campaign")
    ours = attribution_first_touch(deals=won_deals(start=f.start_at, end=f.end_at))
    assert {k: v for k, v in ours.credits.items() if k is not None} == common


def test_attribution_takes_two_queries_however_many_deals(book, django_assert_num_queries):
    with django_assert_num_queries(2):
        attribution_linear(deals=won_deals(start=JAN, end=FEB))


@pytest.mark.parametrize(
    ("amount", "parts"), [("100.00", 3), ("0.01", 4), ("999.99", 7), ("0.00", 2), ("10", 1)]
)
def test_split_evenly_adds_up_exactly(amount, parts):
    shares = split_evenly(Decimal(amount), parts)
    assert len(shares) == parts
    assert sum(shares) == Decimal(amount)
    assert max(shares) - min(shares) <= Decimal("0.01")
