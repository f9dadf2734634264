"""A hand-built week of records in a non-UTC time zone, with its hand-computed metrics.

The week is Monday 2 March 2026 to Monday 9 March 2026 in Europe/Warsaw (UTC+1), so
its first instant is 2026-03-01 23:00 UTC: a lead created then is in this week here and
in the previous one in UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from alignment.models import Dispute, FieldIntel, IntelKind, StageKey
from campaigns.models import SpendEntry
from leads.models import Deal, FollowUp, Lead, SlaBreach, SourceChannel, StageEvent
from metrics.definitions import MetricFilter
from metrics.models import Target
from tests.factories import CampaignFactory, LeadFactory, TerritoryFactory, UserFactory

WARSAW = ZoneInfo("Europe/Warsaw")
WEEK = MetricFilter(start=date(2026, 3, 2), end=date(2026, 3, 9))


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=WARSAW)


def _event(lead: Lead, from_stage: str, to_stage: str, when: datetime, **extra) -> None:
    StageEvent.objects.create(
        lead=lead, from_stage=from_stage, to_stage=to_stage, occurred_at=when, **extra
    )


@pytest.fixture
def warsaw(settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    return WARSAW


@pytest.fixture
def week_data(db, warsaw, active_agreement):
    """The data set; each value in EXPECTED below is computed by hand from it.
    The active agreement is the default one (MQL response SLA: 24 hours)."""
    rep = UserFactory(username="rep-week")
    author = UserFactory(username="author-week")
    manager = UserFactory(username="manager-week", first_name="Maria", last_name="Manager")
    north = TerritoryFactory(code="north", name="North")
    c1 = CampaignFactory(name="Spring search", owner=author)

    l1 = LeadFactory(email="l1@x.test", company="Acme", created_at=at(3, 2), territory=north,
                     owner=rep, campaign=c1, source=SourceChannel.PAID_SEARCH)  # fmt: skip
    l2 = LeadFactory(email="l2@x.test", company="Initech", created_at=at(3, 4, 12),
                     campaign=c1, source=SourceChannel.EMAIL)  # fmt: skip
    l3 = LeadFactory(email="l3@x.test", company="Umbrella", created_at=at(3, 8, 23, 59, 59),
                     source=SourceChannel.PAID_SEARCH)  # fmt: skip
    l4 = LeadFactory(email="l4@x.test", company="Hooli", created_at=at(3, 9))
    l5 = LeadFactory(email="l5@x.test", company="acme ", created_at=at(3, 1, 23, 30))
    l6 = LeadFactory(email="l6@x.test", company="Globex", created_at=at(2, 20))
    for lead in (l1, l2, l3, l4, l5, l6):
        _event(lead, "", StageKey.INQUIRY, lead.created_at)
    _event(l1, StageKey.INQUIRY, StageKey.MQL, at(3, 2, 10))
    # Two hand overrides into MQL below the threshold: l2's in the week, l4's the next.
    _event(l2, StageKey.INQUIRY, StageKey.MQL, at(3, 4, 13), override=True, actor=manager,
           actor_team="marketing", reason="Met the CFO at the trade fair.")  # fmt: skip
    _event(l4, StageKey.INQUIRY, StageKey.MQL, at(3, 9, 1), override=True, actor=manager,
           actor_team="marketing", reason="Referral from a customer.")  # fmt: skip
    _event(l5, StageKey.INQUIRY, StageKey.MQL, at(3, 2))
    _event(l6, StageKey.INQUIRY, StageKey.MQL, at(3, 1, 12))
    _event(l1, StageKey.MQL, StageKey.SAL, at(3, 3))
    _event(l2, StageKey.MQL, StageKey.RECYCLED, at(3, 5))
    _event(l5, StageKey.MQL, StageKey.SAL, at(3, 9))
    # Response clocks: MQL entry = assignment; first follow-ups after 2h, 6h, exactly 24h.
    Lead.objects.filter(pk=l1.pk).update(mql_at=at(3, 2, 10), assigned_at=at(3, 2, 10),
                                         first_follow_up_at=at(3, 2, 12))  # fmt: skip
    Lead.objects.filter(pk=l2.pk).update(mql_at=at(3, 4, 13), assigned_at=at(3, 4, 13),
                                         first_follow_up_at=at(3, 4, 19))  # fmt: skip
    Lead.objects.filter(pk=l5.pk).update(mql_at=at(3, 2), assigned_at=at(3, 2),
                                         first_follow_up_at=at(3, 3))  # fmt: skip
    Lead.objects.filter(pk=l6.pk).update(mql_at=at(3, 1, 12), assigned_at=at(3, 1, 12))
    Lead.objects.filter(pk=l3.pk).update(assigned_at=at(3, 5))  # never followed up
    Lead.objects.filter(pk=l4.pk).update(mql_at=at(3, 9, 1))

    def deal(lead, amount, outcome, created, closed=None, **extra):
        return Deal.objects.create(lead=lead, amount=Decimal(amount), outcome=outcome,
                                   created_at=created, closed_at=closed, **extra)  # fmt: skip

    deal(l1, "1000.00", "won", at(3, 2, 12), at(3, 6), owner=rep)
    deal(l2, "500.00", "lost", at(3, 3), at(3, 5), lost_reason="price")
    deal(l3, "3000.00", "won", at(3, 9), at(3, 9))
    deal(l5, "2000.50", "won", at(2, 28), at(3, 7, 23, 30))
    deal(l6, "700.00", "won", at(2, 20), at(2, 25))
    deal(l6, "800.00", "won", at(3, 2), at(3, 4))

    SpendEntry.objects.create(campaign=c1, date=date(2026, 3, 2), amount=Decimal("300.00"))
    SpendEntry.objects.create(campaign=c1, date=date(2026, 3, 8), amount=Decimal("200.00"))
    SpendEntry.objects.create(campaign=c1, date=date(2026, 3, 9), amount=Decimal("1000.00"))

    def intel(created, acked=None):
        return FieldIntel.objects.create(
            author=rep, kind=IntelKind.COMPETITOR, text="heard", created_at=created,
            acknowledged_at=acked, status="acknowledged" if acked else "new",
        )  # fmt: skip

    intel(at(2, 26))  # window ends 3 March: never acknowledged
    intel(at(3, 2, 9), at(3, 2, 21))  # 12 h
    intel(at(3, 3), at(3, 6))  # 72 h
    intel(at(3, 4, 12))  # window ends after the week

    def dispute(created, resolved=None):
        return Dispute.objects.create(
            lead=l2, kind="rejection", raised_by=author, raised_by_team="marketing",
            reason="r", created_at=created, resolved_at=resolved,
            status="resolved" if resolved else "open", decision="shared" if resolved else "",
        )  # fmt: skip

    dispute(at(3, 2), at(3, 3, 12))  # 36 h
    dispute(at(2, 20), at(3, 4))  # 288 h
    dispute(at(3, 5))

    SlaBreach.objects.create(lead=l6, stage="mql", due_at=at(3, 2, 12), detected_at=at(3, 2, 13),
                             owner=rep)  # fmt: skip
    SlaBreach.objects.create(lead=l3, stage="sal", due_at=at(3, 9), detected_at=at(3, 9, 1))
    FollowUp.objects.create(lead=l1, author=rep, kind="call", outcome="connected",
                            occurred_at=at(3, 2, 12), within_sla=True)  # fmt: skip
    FollowUp.objects.create(lead=l2, author=rep, kind="call", outcome="connected",
                            occurred_at=at(3, 4, 19), within_sla=False)  # fmt: skip
    Target.objects.create(period="month", starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 1),
                          revenue_target=Decimal("31000.00"))  # fmt: skip
    return SimpleNamespace(
        rep=rep, manager=manager, north=north, c1=c1, leads=[l1, l2, l3, l4, l5, l6]
    )


@pytest.fixture
def second_version(week_data):
    """The week's agreement (v1, in force since January) superseded on 20 March by v2:
    SLA compliance weighs 50, the acceptance floor is 90% and the MQL SLA is 48 hours."""
    from alignment.models import Agreement, AgreementStatus

    first = Agreement.objects.get(status=AgreementStatus.ACTIVE)
    switch = at(3, 20, 9)
    Agreement.objects.filter(pk=first.pk).update(
        activated_at=at(1, 1), status=AgreementStatus.SUPERSEDED, superseded_at=switch
    )
    second = Agreement.objects.create(
        version=first.version + 1, title="v2", status=AgreementStatus.ACTIVE,
        activated_at=switch, based_on=first, weight_sla_compliance=50,
        acceptance_floor=Decimal("0.900"),
    )  # fmt: skip
    for stage in first.stages.all():
        stage.pk = None
        stage.agreement = second
        if stage.key == StageKey.MQL:
            stage.sla_hours = 48
        stage.save()
    first.refresh_from_db()
    return SimpleNamespace(first=first, second=second)


# Computed by hand from week_data (see the comments there).
EXPECTED = {
    "new_leads": 3,  # l1 (Monday 00:00 exactly), l2, l3 (Sunday 23:59:59)
    "mqls": 3,  # l1, l2, l5 (Monday 00:00); l4 enters the next Monday at 01:00
    "stage_entries[sal]": 1,  # l1; l5 is accepted the next Monday 00:00
    "stage_entries[sql]": 0,
    "stage_entries[opportunity]": 0,
    "stage_entries[won]": 0,
    "mqls_accepted": 1,
    "mqls_rejected": 1,
    "acceptance_rate": 0.5,  # 1 / (1 + 1)
    "mql_overrides": 1,  # l2's (l4's falls on the next Monday)
    "response_time_hours_median": 6.0,  # median of 2, 6, 24
    "sla_compliance": 0.75,  # due in the week: l6 (missed), l1, l2, l5 (exactly on time)
    "stage_conversion[inquiry→mql]": 0.6667,  # l1, l2 of l1, l2, l3
    "stage_conversion[mql→sal]": 0.6667,  # l1, l5 of l1, l2, l5
    "stage_conversion[sal→sql]": 0.0,
    "stage_conversion[sql→opportunity]": None,
    "stage_conversion[opportunity→won]": None,
    "stage_conversion[mql→won]": 0.0,
    "win_rate": 0.75,  # 3 won of 4 closed
    "revenue": Decimal("3800.50"),  # 1000 + 2000.50 + 800
    "avg_deal_size": Decimal("1266.83"),
    "new_accounts": 1,  # Acme (again as "acme "); Globex first won in February
    "pipeline_created": Decimal("2300.00"),  # 1000 + 500 + 800
    "sales_cycle_days_median": 6.0,  # 4, 6 and 12 days
    "spend": Decimal("500.00"),
    "attributed_revenue": Decimal("1000.00"),
    "cost_per_lead": Decimal("166.67"),
    "cost_per_mql": Decimal("166.67"),
    "cac": Decimal("500.00"),
    "roi": 1.0,
    "intel_ack_hours_median": 42.0,  # 12 and 72
    "intel_ack_within_5d": 0.6667,  # 2 of 3 whose window ended in the week
    "disputes_opened": 2,
    "disputes_resolved": 2,
    "dispute_resolution_hours_median": 162.0,  # 36 and 288
    "disputes_resolved_within_5d": 1.0,
    "sla_breaches": 1,
    "follow_ups_within_sla": 1,
    "target_attainment": 0.5429,  # 3800.50 / (31000 × 7/31)
    "mql_attainment": None,  # no trailing MQL→SAL conversion: the plan has no MQL figure
}
