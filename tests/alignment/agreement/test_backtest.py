"""The backtest's counts equal a hand-computed example."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from alignment.agreement.backtest import agreement_backtest
from alignment.agreement.services import (
    agreement_create_default,
    agreement_draft_create,
    agreement_rule_add,
    agreement_threshold_set,
)
from campaigns.models import Touch
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def at(month, day, year=2026):
    return timezone.make_aware(datetime(year, month, day, 12))


def test_the_backtest_counts_equal_a_hand_computed_example(marketer):
    active = agreement_create_default()  # threshold 50; fit: size≥50 +20, head +15, …
    draft = agreement_draft_create(user=marketer)
    agreement_threshold_set(agreement=draft, user=marketer, threshold=30)
    agreement_rule_add(
        agreement=draft,
        user=marketer,
        data={
            "kind": "fit",
            "field": "industry",
            "operator": "eq",
            "value": "software",
            "points": 15,
        },
    )
    won = {"sal_at": at(1, 20), "opportunity_at": at(1, 25), "won_at": at(1, 30)}
    # A: fit 45 (+40 demo on Jan 10 = 85): an MQL under both; won.
    a = LeadFactory(
        created_at=at(1, 2), company_size=100, title="Head of IT", source="referral", **won
    )
    Touch.objects.create(lead=a, kind="demo_request", occurred_at=at(1, 10))
    # B: fit 20 + software 15 = 35: only the draft's MQL; accepted, reached opportunity.
    LeadFactory(
        created_at=at(1, 3),
        company_size=100,
        title="Engineer",
        source="email",
        industry="Software",
        sal_at=at(1, 5),
        opportunity_at=at(1, 9),
    )
    # C: fit 40 (+15) but no company: fails the must rule under both; won → missed by both.
    LeadFactory(
        created_at=at(1, 4),
        company="",
        company_size=10,
        title="Director",
        source="event",
        industry="Software",
        **won,
    )
    # D: fit 45; its webinar falls after the window: only the draft's MQL; won.
    d = LeadFactory(
        created_at=at(1, 5),
        company_size=200,
        title="Head of Ops",
        source="referral",
        industry="Retail",
        **won,
    )
    Touch.objects.create(lead=d, kind="webinar", occurred_at=at(2, 5))
    # E: created before the window: not counted at all.
    LeadFactory(
        created_at=at(12, 15, 2025), company_size=500, title="Head", source="referral", **won
    )
    # F: fit 20 + demo 40 = 60: an MQL under both; never accepted.
    f = LeadFactory(created_at=at(1, 6), company_size=60, title="Analyst", source="organic_search")
    Touch.objects.create(lead=f, kind="demo_request", occurred_at=at(1, 20))
    # G: nothing.
    LeadFactory(created_at=at(1, 7), company_size=10, title="", source="unknown")

    result = agreement_backtest(agreement=draft, start=at(1, 1), end=at(2, 1))

    cand, cur = result.candidate, result.active
    assert (cand.leads, cand.mqls, cand.accepted, cand.opportunities, cand.won) == (6, 4, 3, 3, 2)
    assert (cand.won_total, cand.won_missed) == (3, 1)
    assert cand.precision == pytest.approx(2 / 4) and cand.recall == pytest.approx(2 / 3)
    assert cur.version == active.version
    assert (cur.leads, cur.mqls, cur.accepted, cur.opportunities, cur.won) == (6, 2, 1, 1, 1)
    assert (cur.won_total, cur.won_missed) == (3, 2)
    assert cur.precision == pytest.approx(1 / 2) and cur.recall == pytest.approx(1 / 3)
