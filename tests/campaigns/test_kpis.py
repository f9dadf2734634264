"""Campaign and channel KPIs on hand-made data, through the common metric definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from alignment.agreement.services import agreement_create_default
from alignment.models import Notification, StageKey
from campaigns.attribution import AttributionModel
from campaigns.models import Channel, SpendEntry, Touch, TouchKind
from campaigns.selectors import campaign_funnel, campaign_kpis, campaign_spend_revenue_weekly
from campaigns.services import ACCEPTANCE_EVENT, campaigns_acceptance_check
from config.dates import week_start_of
from leads.models import DealOutcome, StageEvent
from metrics.definitions import MetricFilter
from tests.factories import CampaignFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _utc(settings):
    # The hand-made data is in UTC; periods are whole days of the deployment's zone.
    settings.TIME_ZONE = "UTC"


JANUARY = MetricFilter(start=date(2026, 1, 1), end=date(2026, 2, 1))


def at(month: int, day: int, hour: int = 12) -> datetime:
    year = 2025 if month == 12 else 2026
    return datetime(year, month, day, hour, tzinfo=UTC)


def spend(campaign, day: date, amount: str) -> None:
    SpendEntry.objects.create(campaign=campaign, date=day, amount=Decimal(amount))


def moved(lead, from_stage: str, to_stage: str, when: datetime, reason_code: str = "") -> None:
    StageEvent.objects.create(
        lead=lead,
        from_stage=from_stage,
        to_stage=to_stage,
        occurred_at=when,
        reason_code=reason_code,
    )
    setattr(lead, f"{to_stage}_at", when)
    lead.save()


@pytest.fixture
def january():
    """A (paid search), B (email), C (paid search, spend only); boundaries on both sides."""
    a = CampaignFactory(name="A", channel=Channel.PAID_SEARCH, status="live")
    b = CampaignFactory(name="B", channel=Channel.EMAIL, status="live")
    c = CampaignFactory(name="C", channel=Channel.PAID_SEARCH, status="live")
    spend(a, date(2026, 1, 5), "300.00")
    spend(a, date(2026, 1, 31), "300.00")
    spend(a, date(2026, 2, 1), "999.00")  # February
    spend(a, date(2025, 12, 31), "50.00")  # December
    spend(b, date(2026, 1, 15), "1000.00")
    spend(c, date(2026, 1, 1), "100.00")
    l1 = LeadFactory(campaign=a, company="Acme", created_at=at(1, 2))
    l2 = LeadFactory(campaign=a, company="Beta", created_at=at(1, 3))
    l3 = LeadFactory(campaign=a, company="Gamma", created_at=at(1, 4))
    LeadFactory(campaign=a, company="Delta", created_at=at(1, 31, 23))
    LeadFactory(campaign=a, created_at=datetime(2026, 2, 1, tzinfo=UTC))  # February
    LeadFactory(campaign=a, created_at=at(12, 31, 23))  # December
    for lead in (l1, l2, l3):
        moved(lead, StageKey.INQUIRY, StageKey.MQL, at(1, 6))
    moved(l1, StageKey.MQL, StageKey.SAL, at(1, 7))
    moved(l2, StageKey.MQL, StageKey.SAL, at(1, 7))
    moved(l3, StageKey.MQL, StageKey.RECYCLED, at(1, 7), "wrong-fit")
    DealFactory(
        lead=l1,
        amount=Decimal("1200.00"),
        created_at=at(1, 10),
        outcome=DealOutcome.WON,
        closed_at=at(1, 25),
    )
    DealFactory(lead=l2, amount=Decimal("800.00"), created_at=at(1, 12))
    l5 = LeadFactory(campaign=b, company="Acme", created_at=at(1, 2))
    moved(l5, StageKey.INQUIRY, StageKey.MQL, at(1, 3))
    Touch.objects.create(lead=l5, campaign=b, kind=TouchKind.FORM_FILL, occurred_at=at(1, 3))
    Touch.objects.create(lead=l5, campaign=a, kind=TouchKind.AD_CLICK, occurred_at=at(1, 26))
    DealFactory(
        lead=l5,
        amount=Decimal("500.00"),
        created_at=at(1, 20),
        outcome=DealOutcome.WON,
        closed_at=at(1, 28),
    )
    return a, b, c


def test_campaign_kpis_equal_hand_computed_values(january):
    a, b, c = january
    table = campaign_kpis(f=JANUARY)
    assert table.model == AttributionModel.FIRST_TOUCH
    row = table.row(a.pk)
    assert row["spend"] == Decimal("600.00")
    assert row["new_leads"] == 4
    assert row["mqls"] == 3
    assert row["mqls_accepted"] == 2
    assert row["acceptance_rate"] == pytest.approx(0.6667)
    assert row["pipeline_created"] == Decimal("2000.00")
    assert row["new_accounts"] == 1
    assert row["won_revenue"] == Decimal("1200.00")
    assert row["cost_per_lead"] == Decimal("150.00")
    assert row["cost_per_mql"] == Decimal("200.00")
    assert row["cac"] == Decimal("600.00")
    assert row["roi"] == pytest.approx(1.0)
    # B won Acme's second deal: revenue but no new account, so no CAC.
    row = table.row(b.pk)
    assert (row["spend"], row["new_leads"], row["mqls"]) == (Decimal("1000.00"), 1, 1)
    assert row["won_revenue"] == Decimal("500.00")
    assert row["cost_per_lead"] == Decimal("1000.00")
    assert row["new_accounts"] == 0 and row["cac"] is None
    assert row["roi"] == pytest.approx(-0.5)
    # C spent and brought nothing: no lead to divide by, ROI −100%.
    row = table.row(c.pk)
    assert row["cost_per_lead"] is None and row["cost_per_mql"] is None
    assert row["roi"] == pytest.approx(-1.0)


def test_channel_kpis_add_up_their_campaigns(january):
    table = campaign_kpis(f=JANUARY, by="channel")
    paid = table.row(Channel.PAID_SEARCH)
    assert paid["spend"] == Decimal("700.00")
    assert paid["new_leads"] == 4
    assert paid["cost_per_lead"] == Decimal("175.00")
    assert paid["cost_per_mql"] == Decimal("233.33")
    assert paid["cac"] == Decimal("700.00")
    assert paid["won_revenue"] == Decimal("1200.00")
    assert paid["roi"] == pytest.approx(0.7143)
    assert table.row(Channel.EMAIL)["won_revenue"] == Decimal("500.00")
    assert table.totals["spend"] == Decimal("1700.00")
    assert table.totals["won_revenue"] == Decimal("1700.00")


def test_the_linear_model_moves_revenue_and_roi_and_says_so(january):
    a, b, _c = january
    table = campaign_kpis(f=JANUARY, model=AttributionModel.LINEAR)
    assert table.model_label == "Linear over touches before the win"
    # B's deal: touches of B (Jan 3) and A (Jan 26) before the win on Jan 28.
    assert table.row(a.pk)["won_revenue"] == Decimal("1450.00")
    assert table.row(b.pk)["won_revenue"] == Decimal("250.00")
    assert table.row(a.pk)["roi"] == pytest.approx(1.4167)
    assert table.totals["won_revenue"] == Decimal("1700.00")


def test_a_period_boundary_is_respected(january):
    a, _b, _c = january
    february = campaign_kpis(f=MetricFilter(start=date(2026, 2, 1), end=date(2026, 3, 1)))
    row = february.row(a.pk)
    assert row["spend"] == Decimal("999.00")
    assert row["new_leads"] == 1
    assert row["won_revenue"] == Decimal("0.00")
    assert row["roi"] == pytest.approx(-1.0)


def test_the_campaign_funnel_and_weekly_chart_data(january):
    a, _b, _c = january
    f = MetricFilter(start=JANUARY.start, end=JANUARY.end, campaign=a.pk)
    funnel = {step["name"]: step["value"] for step in campaign_funnel(f=f)}
    assert funnel["new_leads"] == 4 and funnel["mqls"] == 3
    assert funnel["stage_entries[sal]"] == 2
    points = campaign_spend_revenue_weekly(campaign=a, f=f)
    assert sum(p.spend for p in points) == Decimal("600.00")
    assert sum(p.revenue for p in points) == Decimal("1200.00")
    by_week = {p.week: p for p in points}
    assert by_week[date(2026, 1, 19)].revenue == Decimal("1200.00")  # won Sunday Jan 25


def test_a_campaign_below_the_acceptance_floor_is_flagged_to_its_owner_once(db, marketer):
    agreement_create_default()
    poor = CampaignFactory(owner=marketer)
    fine = CampaignFactory()
    now = datetime.now(tz=UTC)
    for index in range(4):
        lead = LeadFactory(campaign=poor)
        moved(lead, StageKey.INQUIRY, StageKey.MQL, now)
        to = StageKey.SAL if index == 0 else StageKey.RECYCLED
        moved(lead, StageKey.MQL, to, now, "" if index == 0 else "wrong-fit")
    lead = LeadFactory(campaign=fine)
    moved(lead, StageKey.INQUIRY, StageKey.MQL, now)
    moved(lead, StageKey.MQL, StageKey.SAL, now)
    assert campaigns_acceptance_check() == [poor.pk]
    campaigns_acceptance_check()
    notes = Notification.objects.filter(event=ACCEPTANCE_EVENT)
    week = week_start_of().isoformat()  # flagged once for the scoring week it ran in
    assert [(n.recipient, n.dedupe_key) for n in notes] == [
        (marketer, f"campaign:{poor.pk}:week:{week}")
    ]
    assert "25.0%" in notes.get().body


def test_the_daily_task_runs_the_acceptance_check_and_is_safe_twice(db, marketer):
    from campaigns.tasks import check_campaign_acceptance
    from config.celery import app

    assert "campaigns.tasks.check_campaign_acceptance" in {
        entry["task"] for entry in app.conf.beat_schedule.values()
    }
    agreement_create_default()
    poor = CampaignFactory(owner=marketer)
    lead = LeadFactory(campaign=poor)
    now = datetime.now(tz=UTC)
    moved(lead, StageKey.INQUIRY, StageKey.MQL, now)
    moved(lead, StageKey.MQL, StageKey.RECYCLED, now, "wrong-fit")
    assert check_campaign_acceptance() == [poor.pk]
    assert check_campaign_acceptance() == [poor.pk]
    assert Notification.objects.filter(event=ACCEPTANCE_EVENT).count() == 1
