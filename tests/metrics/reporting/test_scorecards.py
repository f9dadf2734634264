"""Weekly scorecards: upserted once per (week, territory), scored by the agreed weights."""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from alignment.models import Agreement, AgreementStatus, Notification
from metrics.models import Scorecard
from metrics.reporting.services import (
    last_complete_week,
    scorecard_compute,
    scorecards_compute,
)
from tests.conftest import need
from tests.factories import UserFactory
from tests.metrics.conftest import WARSAW, WEEK

pytestmark = pytest.mark.django_db


def test_running_twice_leaves_one_row_per_week_and_territory(week_data):
    first = scorecard_compute(week=WEEK.start, territory=None)
    again = scorecard_compute(week=date(2026, 3, 6), territory=None)  # any day of the week
    scorecard_compute(week=WEEK.start, territory=week_data.north)
    scorecard_compute(week=WEEK.start, territory=week_data.north.pk)
    assert first.created and not again.created
    assert first.scorecard.pk == again.scorecard.pk
    assert Scorecard.objects.filter(week_start=WEEK.start, territory=None).count() == 1
    assert Scorecard.objects.filter(week_start=WEEK.start, territory=week_data.north).count() == 1


def test_a_scorecard_holds_every_metric_as_the_definitions_compute_it(week_data):
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    assert card.metrics["new_leads"] == 3
    assert card.metrics["revenue"] == "3800.50"
    assert card.metrics["acceptance_rate"] == 0.5
    assert card.metrics["stage_conversion[opportunity→won]"] is None
    north = scorecard_compute(week=WEEK.start, territory=week_data.north).scorecard
    assert north.metrics["new_leads"] == 1


def test_the_alignment_score_is_the_weighted_mean_renormalised_without_a_component(week_data):
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    parts = {c["key"]: c for c in card.components}
    # No trailing MQL→won rate, so "conversion against plan" has no data and drops out:
    # the other weights (25 + 20 + 15 + 10 + 10 = 80) are renormalised.
    assert parts["mql_to_won_vs_plan"]["value"] is None
    assert parts["mql_to_won_vs_plan"]["effective_weight"] is None
    assert parts["sla_compliance"] == {
        "key": "sla_compliance",
        "label": "SLA compliance",
        "raw": 0.75,
        "value": 0.75,
        "weight": 25,
        "effective_weight": round(25 / 80, 4),
    }
    # (0.75×25 + 0.5×20 + 0.5429×15 + 0.6667×10 + 1×10) / 80 × 100 = 66.950625
    assert card.alignment_score == Decimal("66.95")


def test_the_weights_come_from_the_active_agreement(week_data):
    Agreement.objects.filter(status=AgreementStatus.ACTIVE).update(weight_sla_compliance=50)
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    # (0.75×50 + 0.5×20 + 0.5429×15 + 0.6667×10 + 1×10) / 105 × 100 = 68.867
    assert card.alignment_score == Decimal("68.87")
    assert {c["key"]: c["weight"] for c in card.components}["sla_compliance"] == 50


def test_a_past_week_keeps_the_weights_of_the_agreement_then_in_force(second_version):
    """v2 (SLA compliance weighs 50) became active on 20 March: recomputing the week of
    2 March still scores it by v1, and the week of 23 March by v2."""
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    assert card.alignment_score == Decimal("66.95")  # v1's weights, as computed then
    assert card.agreement == second_version.first
    assert {c["key"]: c["weight"] for c in card.components}["sla_compliance"] == 25
    later = scorecard_compute(week=date(2026, 3, 23), territory=None).scorecard
    assert later.agreement == second_version.second
    assert {c["key"]: c["weight"] for c in later.components}["sla_compliance"] == 50


def test_the_weekly_job_scores_each_week_by_its_own_agreement(second_version):
    scorecards_compute(week=date(2026, 3, 23), trailing=3)
    versions = dict(
        Scorecard.objects.filter(territory=None).values_list("week_start", "agreement__version")
    )
    v1, v2 = second_version.first.version, second_version.second.version
    assert versions == {
        date(2026, 3, 2): v1,
        date(2026, 3, 9): v1,
        date(2026, 3, 16): v2,  # v2 came on Friday 20 March: in force when the week ended
        date(2026, 3, 23): v2,
    }


def test_a_past_week_keeps_the_response_sla_of_its_agreement(second_version):
    """With v1's 24 hours, a lead that became an MQL on Saturday noon was due on Sunday
    noon, in the week (and missed); v2's 48 hours would push it into the next week."""
    from leads.models import Lead
    from tests.factories import LeadFactory
    from tests.metrics.conftest import at

    lead = LeadFactory(email="saturday@x.test", created_at=at(3, 7))
    Lead.objects.filter(pk=lead.pk).update(mql_at=at(3, 7, 12), assigned_at=at(3, 7, 12))
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    assert card.metrics["sla_compliance"] == 0.6  # l1, l2, l5 of l6, l1, l2, l5, saturday


def test_no_component_with_data_means_no_score(db):
    card = scorecard_compute(week=date(2026, 3, 2), territory=None).scorecard
    assert card.alignment_score is None
    assert all(c["effective_weight"] is None for c in card.components)


def test_the_change_is_against_the_previous_week(week_data):
    scorecard_compute(week=date(2026, 2, 23), territory=None)  # new_leads: l5 only
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    assert card.delta["new_leads"] == 2
    assert card.delta["revenue"] == pytest.approx(3800.50 - 700.00)
    assert card.delta["acceptance_rate"] is None  # no decisions the week before


def test_the_trailing_twelve_weeks_are_recomputed_oldest_first(week_data):
    results = scorecards_compute(week=WEEK.start)
    weeks = sorted({r.scorecard.week_start for r in results})
    assert len(weeks) == 13 and weeks[-1] == WEEK.start and weeks[0] == date(2025, 12, 8)
    assert Scorecard.objects.count() == 13 * 2  # overall + North
    scorecards_compute(week=WEEK.start)
    assert Scorecard.objects.count() == 13 * 2


def test_a_new_week_is_published_once(week_data, monkeypatch):
    emitted = []
    monkeypatch.setattr("metrics.reporting.services.webhook_emit", lambda **kw: emitted.append(kw))
    manager = UserFactory(username="pub-mgr", role="sales_manager")
    scorecard_compute(week=WEEK.start, territory=None)
    scorecard_compute(week=WEEK.start, territory=None)
    scorecard_compute(week=WEEK.start, territory=week_data.north)
    assert [e["event"] for e in emitted] == ["scorecard.published"]
    assert emitted[0]["key"] == "week:2026-03-02"
    assert emitted[0]["payload"]["alignment_score"] == "66.95"
    notices = Notification.objects.filter(recipient=manager, event="scorecard.published")
    assert notices.count() == 1
    assert notices.get().url == "/metrics/pack/?week=2026-03-02"


def test_last_complete_week_is_taken_in_the_deployment_time_zone(warsaw):
    # Monday 00:30 in Warsaw is still Sunday in UTC: the week just ended is 2–9 March.
    now = datetime(2026, 3, 9, 0, 30, tzinfo=WARSAW)
    assert last_complete_week(now=now) == date(2026, 3, 2)


def test_the_command_computes_a_week_with_its_trailing_weeks(week_data):
    call_command("compute_scorecards", "--week", "2026-03-04", "--trailing", "1")
    assert set(Scorecard.objects.values_list("week_start", flat=True)) == {
        date(2026, 2, 23),
        date(2026, 3, 2),
    }
    call_command("compute_scorecards", "--week", "2026-03-04", "--trailing", "1")
    assert Scorecard.objects.count() == 4
    with pytest.raises(CommandError):
        call_command("compute_scorecards", "--week", "March")


def test_the_command_all_covers_every_week_since_the_first_lead(week_data, monkeypatch):
    monkeypatch.setattr(
        "metrics.reporting.services.timezone.now", lambda: datetime(2026, 3, 10, 12, tzinfo=WARSAW)
    )
    call_command("compute_scorecards", "--all")
    weeks = set(Scorecard.objects.values_list("week_start", flat=True))
    assert min(weeks) == date(2026, 2, 16)  # l6 was created on 20 February
    assert max(weeks) == date(2026, 3, 2)


def test_the_task_computes_the_given_week(week_data):
    from metrics.tasks import compute_weekly_scorecards

    assert compute_weekly_scorecards("2026-03-04") == 13 * 2


def test_beat_runs_the_scorecards_on_monday_at_six_in_the_deployment_time_zone(settings):
    from config.celery import app

    entry = app.conf.beat_schedule["compute-weekly-scorecards"]
    assert entry["task"] == "metrics.tasks.compute_weekly_scorecards"
    schedule = entry["schedule"]
    assert (schedule.hour, schedule.minute, schedule.day_of_week) == ({6}, {0}, {1})
    assert settings.CELERY_TIMEZONE == settings.TIME_ZONE


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_leave_one_row(monkeypatch):
    need(connection.vendor == "postgresql", "the insert race needs PostgreSQL")
    from alignment.agreement.services import agreement_create_default

    agreement_create_default()
    # Both workers find no row, then insert together: one wins, the other updates.
    barrier = threading.Barrier(2, timeout=20)
    real_create = Scorecard.objects.create

    def create_together(**kwargs):
        barrier.wait()
        return real_create(**kwargs)

    monkeypatch.setattr(Scorecard.objects, "create", create_together)
    results, errors = [], []

    def run():
        try:
            results.append(scorecard_compute(week=date(2026, 3, 2), territory=None))
        except Exception as exc:  # pragma: no cover - shown in the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    assert Scorecard.objects.filter(week_start=date(2026, 3, 2), territory=None).count() == 1


def test_a_webhook_subscriber_gets_one_delivery_per_published_week(week_data):
    from alignment.models import WebhookDelivery, WebhookSubscription

    subscription = WebhookSubscription.objects.create(
        owner=week_data.rep, url="https://hooks.example/accord",
        events=["scorecard.published"], secret="s" * 32,
    )  # fmt: skip
    scorecards_compute(week=WEEK.start, trailing=1)
    scorecards_compute(week=WEEK.start, trailing=1)
    deliveries = WebhookDelivery.objects.filter(subscription=subscription)
    assert sorted(deliveries.values_list("event_key", flat=True)) == [
        "week:2026-02-23",
        "week:2026-03-02",
    ]
    latest = deliveries.get(event_key="week:2026-03-02")
    assert latest.event == "scorecard.published"
    assert latest.payload["alignment_score"] == "66.95"


def test_a_scorecard_computes_its_plan_once(week_data, monkeypatch):
    """The plan costs six cohort queries over the trailing half-year: the score and the
    MQL attainment share one."""
    from metrics import definitions
    from metrics.reporting import services

    calls = []
    real = definitions.plan_compute

    def counting(**kwargs):
        calls.append(kwargs["f"])
        return real(**kwargs)

    monkeypatch.setattr(definitions, "plan_compute", counting)
    monkeypatch.setattr(services, "plan_compute", counting)
    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    assert len(calls) == 1
    assert card.metrics["mql_attainment"] == definitions.metric_value(name="mql_attainment", f=WEEK)
