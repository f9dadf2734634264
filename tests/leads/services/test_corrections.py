"""Corrections of a closed deal's figures: who may, the reason, the audit row, the dates,
the metrics reading the corrected figures, and the lead's timeline showing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alignment.models import StageKey
from leads.models import Correction, Deal, DealOutcome
from leads.selectors import lead_timeline
from leads.services.corrections import deal_correct
from leads.services.deals import deal_close, deal_create
from metrics.definitions import MetricFilter, metric_value
from tests.factories import UserFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _closed(rep, *, outcome=DealOutcome.WON, closed_at=None, email="won@acme.pl", **close):
    lead = make_lead(
        email=email, stage=StageKey.SQL, owner=rep, at=timezone.now() - timedelta(days=60)
    )
    deal = deal_create(lead=lead, actor=rep, amount="12000", name="Rollout")
    deal_close(
        deal=deal,
        actor=rep,
        outcome=outcome,
        closed_at=closed_at or timezone.now() - timedelta(days=10),
        **close,
    )
    deal.refresh_from_db()
    return deal


def _unchanged(deal: Deal) -> None:
    before = {f: getattr(deal, f) for f in ("amount", "closed_at", "gross_margin", "lost_reason")}
    deal.refresh_from_db()
    assert {f: getattr(deal, f) for f in before} == before
    assert not Correction.objects.exists()


def test_a_sales_manager_corrects_a_won_deal_and_the_correction_records_before_and_after(
    territory, team, sales_manager
):
    deal = _closed(team[0], gross_margin="4000")
    old_close = deal.closed_at
    new_close = old_close - timedelta(days=3)
    correction = deal_correct(
        deal=deal,
        actor=sales_manager,
        reason="  The contract says 11,500: a typo at closing.  ",
        amount="11500",
        closed_at=new_close,
        gross_margin=Decimal("4000.00"),  # as it was: no change, not recorded
    )
    deal.refresh_from_db()
    assert (deal.amount, deal.closed_at) == (Decimal("11500.00"), new_close)
    assert deal.outcome == DealOutcome.WON and deal.gross_margin == Decimal("4000.00")
    stored = Correction.objects.get()
    assert stored == correction
    assert (stored.lead_id, stored.record, stored.record_id) == (deal.lead_id, "deal", deal.pk)
    assert stored.actor == sales_manager
    assert stored.reason == "The contract says 11,500: a typo at closing."
    assert stored.changes == {
        "amount": ["12000.00", "11500.00"],
        "closed_at": [old_close.astimezone(UTC).isoformat(), new_close.astimezone(UTC).isoformat()],
    }


def test_the_metrics_read_the_corrected_amount_and_close_date(territory, team, sales_manager):
    closed = timezone.now() - timedelta(days=40)
    deal = _closed(team[0], closed_at=closed)
    old_period = MetricFilter(start=closed.date() - timedelta(days=1), end=closed.date())
    old_period = old_period.shifted(start=old_period.start, end=closed.date() + timedelta(days=1))
    new_close = closed + timedelta(days=20)
    new_period = MetricFilter(
        start=new_close.date() - timedelta(days=1), end=new_close.date() + timedelta(days=1)
    )
    assert metric_value(name="revenue", f=old_period) == Decimal("12000.00")
    deal_correct(
        deal=deal, actor=sales_manager, reason="Signed later.", amount=9000, closed_at=new_close
    )
    assert metric_value(name="revenue", f=old_period) in (0, None, Decimal(0))
    assert metric_value(name="revenue", f=new_period) == Decimal("9000.00")


def test_only_a_sales_manager_or_a_superuser_corrects(territory, team, marketer, executive):
    deal = _closed(team[0])
    for user in (team[0], marketer, executive):  # the deal's own rep too
        with pytest.raises(PermissionDenied):
            deal_correct(deal=deal, actor=user, reason="Typo.", amount=1)
    _unchanged(deal)
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    deal_correct(deal=deal, actor=root, reason="Typo.", amount=1)
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("1.00")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_correction_without_a_reason_is_refused_on_the_reason_field(
    territory, team, sales_manager, reason
):
    deal = _closed(team[0])
    with pytest.raises(ValidationError) as refused:
        deal_correct(deal=deal, actor=sales_manager, reason=reason, amount=1)
    assert "reason" in refused.value.message_dict
    _unchanged(deal)


@pytest.mark.parametrize(
    "closed_at",
    [
        pytest.param(lambda deal: timezone.now() + timedelta(hours=1), id="future"),
        pytest.param(lambda deal: datetime(1969, 12, 31, 23, 0, tzinfo=UTC), id="before-1970"),
        pytest.param(lambda deal: deal.lead.created_at - timedelta(days=1), id="before-the-lead"),
    ],
)
def test_a_close_date_in_the_future_before_1970_or_before_the_lead_is_refused(
    territory, team, sales_manager, closed_at
):
    deal = _closed(team[0])
    with pytest.raises(ValidationError) as refused:
        deal_correct(deal=deal, actor=sales_manager, reason="Date.", closed_at=closed_at(deal))
    assert list(refused.value.message_dict) == ["closed_at"]
    _unchanged(deal)


def test_figures_are_validated_like_a_deals_own(territory, team, sales_manager):
    deal = _closed(team[0], gross_margin="4000")
    for arguments, field in [
        ({"amount": "-1"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"amount": "1e15"}, "amount"),
        ({"amount": "3000"}, "gross_margin"),  # the margin of 4,000 would exceed it
        ({"gross_margin": "12000.01"}, "gross_margin"),
        ({"lost_reason": "price"}, "lost_reason"),  # a won deal has none
    ]:
        with pytest.raises(ValidationError) as refused:
            deal_correct(deal=deal, actor=sales_manager, reason="Fix.", **arguments)
        assert field in refused.value.message_dict, arguments
    _unchanged(deal)


def test_a_lost_deals_reason_is_corrected_to_an_agreed_reason_only(territory, team, sales_manager):
    deal = _closed(team[0], outcome=DealOutcome.LOST, lost_reason="price")
    with pytest.raises(ValidationError) as refused:
        deal_correct(deal=deal, actor=sales_manager, reason="Fix.", lost_reason="bad vibes")
    assert "lost_reason" in refused.value.message_dict
    deal_correct(
        deal=deal, actor=sales_manager, reason="They chose Rival.", lost_reason="competitor"
    )
    deal.refresh_from_db()
    assert deal.lost_reason == "competitor"
    assert Correction.objects.get().changes == {"lost_reason": ["price", "competitor"]}


def test_an_open_deal_or_a_correction_that_changes_nothing_is_refused(
    territory, team, sales_manager
):
    rep = team[0]
    lead = make_lead(email="open@acme.pl", stage=StageKey.SQL, owner=rep)
    open_deal = deal_create(lead=lead, actor=rep, amount="500")
    with pytest.raises(ValidationError) as refused:
        deal_correct(deal=open_deal, actor=sales_manager, reason="Fix.", amount=400)
    assert "__all__" in refused.value.message_dict
    assert Deal.objects.get(pk=open_deal.pk).amount == Decimal("500.00")
    deal = _closed(rep)
    with pytest.raises(ValidationError) as refused:
        deal_correct(
            deal=deal, actor=sales_manager, reason="Fix.", amount="12000", closed_at=deal.closed_at
        )
    assert "__all__" in refused.value.message_dict
    assert not Correction.objects.exists()


def test_the_timeline_shows_who_corrected_what_when_and_why(client, territory, team, sales_manager):
    rep = team[0]
    deal = _closed(rep)
    sales_manager.first_name, sales_manager.last_name = "Maria", "Manager"
    sales_manager.save()
    deal_correct(deal=deal, actor=sales_manager, reason="Typo in the contract value.", amount=11500)
    entry = next(e for e in lead_timeline(lead=deal.lead) if e.kind == "correction")
    assert entry.title == "Deal “Rollout” corrected"
    assert entry.detail == "Amount: $12,000.00 → $11,500.00 · Why: Typo in the contract value."
    assert entry.actor == "Maria Manager"  # the person by name, not the username
    assert entry.at == Correction.objects.get().occurred_at

    client.force_login(rep)
    page = client.get(f"/leads/{deal.lead_id}/").content.decode()
    assert 'class="tl-correction"' in page
    assert "Deal “Rollout” corrected" in page
    assert "Amount: $12,000.00 → $11,500.00 · Why: Typo in the contract value." in page
