"""The demo is scored by its own agreement and keeps it.

One default-size demo (as `make run` seeds it) serves every test here: seeded once for
the module inside a transaction that is rolled back afterwards.
"""

from __future__ import annotations

from datetime import datetime, time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.agreement.backtest import agreement_backtest
from alignment.agreement.forms import BacktestForm
from alignment.agreement.scoring import score_compute
from alignment.models import Agreement, AgreementStatus, Dispute, StageKey, Team
from campaigns.models import Touch
from leads.models import FollowUp, Lead, StageEvent
from leads.services.follow_ups import follow_up_is_contact
from leads.services.rescoring import agreement_rescore_all

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def agreement(django_db_setup, django_db_blocker):
    """The active agreement of the seeded demo."""
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    blocker = django_db_blocker.unblock()
    with blocker, override_settings(PASSWORD_HASHERS=fast), transaction.atomic():
        call_command("seed_demo", verbosity=0)
        yield Agreement.objects.get(status=AgreementStatus.ACTIVE)
        transaction.set_rollback(True)


def test_check_integrity_finds_nothing_on_the_demo(agreement):
    out = StringIO()
    call_command("check_integrity", stdout=out)  # raises CommandError on any violation
    assert "invariants hold" in out.getvalue()


def test_every_mql_entry_met_the_criteria_or_is_a_marketing_managers_override(agreement):
    entries = list(StageEvent.objects.filter(to_stage=StageKey.MQL).select_related("lead", "actor"))
    overrides = [e for e in entries if e.override]
    assert entries and overrides  # both kinds happen in the demo
    assert len(overrides) < len(entries) / 5  # an exception, not the rule
    for event in entries:
        if event.override:
            assert event.actor.username == "mktmgr" and event.actor_team == Team.MARKETING
            assert event.reason.strip()
        else:
            # The stored score at the move reached the threshold; the must rule passed.
            assert event.source == StageEvent.Source.AUTOMATIC and event.actor is None
            assert event.score is not None and event.score >= agreement.mql_threshold
            assert event.lead.company


def test_scores_and_breakdowns_come_from_the_agreements_rules(agreement):
    rules = list(agreement.rules.all())
    rule_ids = {rule.pk for rule in rules}
    touches: dict[int, list] = {}
    for lead_id, kind, at in Touch.objects.values_list("lead_id", "kind", "occurred_at"):
        touches.setdefault(lead_id, []).append((kind, at))
    leads = list(Lead.objects.all())
    assert not Lead.objects.filter(score_breakdown__icontains="Demo scoring").exists()
    for lead in leads:
        assert lead.scored_at is not None
        expected = score_compute(
            lead=lead, rules=rules, touches=touches.get(lead.pk, []), now=lead.scored_at
        )
        assert lead.score == expected.score, lead.pk
        assert {entry["rule_id"] for entry in lead.score_breakdown} <= rule_ids
    # Engagement earned points, not only the leads' fields.
    engaged = [
        lead for lead in leads if any(e["kind"] == "engagement" for e in lead.score_breakdown)
    ]
    assert len(engaged) > len(leads) / 4


def test_many_inquiries_stay_below_the_threshold_and_none_is_left_qualifying(agreement):
    never = Lead.objects.exclude(stage_events__to_stage=StageKey.MQL)
    share = never.count() / Lead.objects.count()
    assert 0.3 < share < 0.7
    # An inquiry at the threshold today is one the must rule holds back (no company).
    assert not Lead.objects.filter(
        stage=StageKey.INQUIRY, score__gte=agreement.mql_threshold
    ).exclude(company="")
    # The nightly job finds the demo at rest: same scores, nobody to promote.
    before = dict(Lead.objects.values_list("pk", "score"))
    result = agreement_rescore_all(agreement=agreement)
    assert result.promoted == 0
    after = dict(Lead.objects.values_list("pk", "score"))
    changed = [pk for pk in before if before[pk] != after[pk]]
    assert len(changed) <= len(before) / 100  # only decay in the seconds since seeding


def test_the_backtest_of_the_demo_shows_real_precision_and_recall(agreement):
    tz = timezone.get_current_timezone()
    window = BacktestForm.default_initial()  # what the criteria preview page shows first
    start, end = (
        timezone.make_aware(datetime.combine(window[key], time.min), tz) for key in ("start", "end")
    )
    counts = agreement_backtest(agreement=agreement, start=start, end=end).candidate
    assert counts.mqls and counts.won_total
    assert 0 < counts.precision < 1
    assert 0 < counts.recall < 1


def test_follow_ups_are_contacts_or_attempts_as_the_agreement_defines_them(agreement):
    follow_ups = list(FollowUp.objects.select_related("author"))
    for follow_up in follow_ups:
        assert follow_up.is_contact == follow_up_is_contact(
            agreement=agreement, kind=follow_up.kind, outcome=follow_up.outcome
        )
        assert follow_up.author.groups.filter(name=Role.SALES_REP).exists()
    attempts = [f for f in follow_ups if not f.is_contact]
    assert attempts and len(attempts) < len(follow_ups) / 2
    assert {f.within_sla for f in follow_ups if f.is_contact} >= {True, False}


def test_only_sales_decides_on_the_demos_mqls(agreement):
    decisions = StageEvent.objects.filter(from_stage=StageKey.MQL)
    assert decisions.exists()
    assert set(decisions.values_list("actor_team", flat=True)) == {Team.SALES}
    # Every recorded move carries the lead's score at that moment.
    assert not StageEvent.objects.exclude(from_stage="").filter(score__isnull=True).exists()


def test_the_demo_disputes_are_about_what_happened_to_their_leads(agreement):
    rejection = Dispute.objects.get(kind="rejection")
    assert rejection.lead.stage_events.filter(
        from_stage=StageKey.MQL,
        to_stage=StageKey.RECYCLED,
        reason_code="no-budget",
        occurred_at__lt=rejection.created_at,
    ).exists()
    quality = Dispute.objects.get(kind="lead_quality")
    assert quality.lead.stage_events.filter(
        from_stage=StageKey.MQL,
        to_stage__in=[StageKey.RECYCLED, StageKey.DISQUALIFIED],
        occurred_at__lt=quality.created_at,
    ).exists()
