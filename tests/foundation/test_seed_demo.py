from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from alignment.models import Agreement, AgreementStatus
from campaigns.models import Campaign, SpendEntry
from leads.models import Deal, FollowUp, Lead, StageEvent
from metrics.models import Territory

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "territories": Territory.objects.count(),
        "campaigns": Campaign.objects.count(),
        "spend": SpendEntry.objects.count(),
        "leads": Lead.objects.count(),
        "events": StageEvent.objects.count(),
        "follow_ups": FollowUp.objects.count(),
        "deals": Deal.objects.count(),
        "agreements": Agreement.objects.count(),
    }


def test_seed_demo_is_idempotent_and_gives_every_role_a_user():
    call_command("seed_demo", "--leads", "60", verbosity=0)
    first = _counts()
    call_command("seed_demo", "--leads", "60", verbosity=0)
    assert _counts() == first
    User = get_user_model()
    roles = {u.username: set(u.groups.values_list("name", flat=True)) for u in User.objects.all()}
    assert roles["rep"] == roles["rep2"] == {"sales_rep"}
    assert roles["salesmgr"] == {"sales_manager"}
    assert roles["marketer"] == {"marketer"}
    assert roles["mktmgr"] == {"marketing_manager"}
    assert roles["exec"] == {"executive"}
    assert User.objects.get(username="admin").is_superuser
    assert Agreement.objects.filter(status=AgreementStatus.ACTIVE).count() == 1
    assert first["territories"] == 3 and first["leads"] == 60


def test_demo_history_follows_the_agreed_funnel():
    call_command("seed_demo", "--leads", "120", verbosity=0)
    agreement = Agreement.objects.get(status=AgreementStatus.ACTIVE)
    allowed = {(s.key, n.key) for s in agreement.stages.all() for n in s.next_stages.all()}
    for from_stage, to_stage in StageEvent.objects.exclude(from_stage="").values_list(
        "from_stage", "to_stage"
    ):
        assert (from_stage, to_stage) in allowed
    # Every lead's current stage is where its last event took it.
    for lead in Lead.objects.prefetch_related("stage_events"):
        assert list(lead.stage_events.all())[-1].to_stage == lead.stage
    assert Lead.objects.filter(stage="won").exists()
    assert Lead.objects.filter(stage__in=["recycled", "disqualified"]).exists()


def test_the_first_make_run_shows_plausible_figures_everywhere():
    """The demo `make run` seeds, read through the dashboard's own selectors.

    Funnel, hand-off, revenue, campaigns, ledger, scorecards, intelligence and disputes
    all have data, and the conversion rates are those of a real funnel, not 0 or 100 %.
    """
    from alignment.models import Battlecard, Dispute, FieldIntel
    from metrics.definitions import metric_filter_parse
    from metrics.models import Scorecard, Target
    from metrics.reporting.selectors import dashboard_build

    call_command("seed_demo", verbosity=0)  # the default size, as `make run`
    data = dashboard_build(f=metric_filter_parse({}))
    funnel = {row["stage"]: row for row in data.funnel}
    assert all(funnel[stage]["count"] for stage in ("inquiry", "mql", "sal", "sql", "won"))
    values = data.values
    assert 0.03 < values["stage_conversion[mql→won]"] < 0.4
    assert 0.5 < values["acceptance_rate"] < 1
    assert 0.4 < values["sla_compliance"] < 1
    assert values["revenue"] > 0 and values["sla_breaches"] > 0
    assert len([row for row in data.campaigns if row["spend"]]) >= 3
    assert len(data.ledger) >= 2  # the reps' credits and breaches this month
    assert data.history and all(c.alignment_score is not None for c in data.history)
    assert Scorecard.objects.values("week_start").distinct().count() == 12
    assert Target.objects.exists() and data.revenue_target
    assert FieldIntel.objects.exists() and Battlecard.objects.exists()
    assert Dispute.objects.filter(status="open").exists()
    assert Dispute.objects.filter(status="resolved").exists()
    months = {lead.created_at.date().replace(day=1) for lead in Lead.objects.only("created_at")}
    assert len(months) >= 6  # 26 weeks of history
