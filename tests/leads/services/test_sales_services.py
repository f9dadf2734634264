"""The sales side: assignment, claims, follow-ups, the SLA clock, breaches, ledger, deals."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.models import Notification, StageKey, UserProfile
from leads.models import Deal, DealOutcome, FollowUpKind, FollowUpOutcome, Lead, SlaBreach
from leads.selectors import sla_ledger, week_start_of
from leads.services import LeadConflict, lead_transition
from leads.services.assignment import lead_claim, lead_reassign
from leads.services.deals import deal_close, deal_create
from leads.services.follow_ups import follow_up_log
from leads.services.sla import sla_breaches_check
from metrics.models import TerritoryMember
from tests.conftest import need
from tests.factories import UserFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _call(lead, user, **extra):
    return follow_up_log(
        lead=lead,
        author=user,
        kind=extra.pop("kind", FollowUpKind.CALL),
        outcome=extra.pop("outcome", FollowUpOutcome.CONNECTED),
        **extra,
    )


# --- assignment --------------------------------------------------------------------------


def test_round_robin_spreads_mqls_evenly_over_the_territorys_reps(territory, team):
    third = UserFactory(username="rep3", role=Role.SALES_REP)
    TerritoryMember.objects.create(territory=territory, user=third)
    idle = UserFactory(username="rep4", role=Role.SALES_REP)
    TerritoryMember.objects.create(territory=territory, user=idle, is_active=False)
    for i in range(12):
        make_lead(email=f"mql{i}@acme.pl", stage=StageKey.MQL)
    owners = Counter(Lead.objects.values_list("owner__username", flat=True))
    assert owners == {"rep1": 4, "rep2": 4, "rep3": 4}


def test_a_rep_claims_an_unowned_lead_and_a_second_claim_is_a_conflict(territory, rep):
    lead = make_lead(email="free@acme.pl", stage=StageKey.MQL)  # no rep: stays unowned
    assert lead.owner_id is None
    other = UserFactory(username="rep2", role=Role.SALES_REP)
    for user in (rep, other):  # reps claim the leads of the territory they work
        TerritoryMember.objects.create(territory=territory, user=user)
    claimed = lead_claim(lead_id=lead.pk, user=rep)
    assert claimed.owner == rep and claimed.assigned_at is not None
    with pytest.raises(LeadConflict) as caught:
        lead_claim(lead_id=lead.pk, user=other)
    assert "claimed this lead first" in str(caught.value)
    assert Lead.objects.get(pk=lead.pk).owner == rep


def test_a_marketer_cannot_claim_and_a_closed_lead_cannot_be_claimed(territory, rep, marketer):
    lead = make_lead(email="free@acme.pl")
    with pytest.raises(PermissionDenied):
        lead_claim(lead_id=lead.pk, user=marketer)
    Lead.objects.filter(pk=lead.pk).update(stage=StageKey.DISQUALIFIED)
    with pytest.raises(ValidationError):
        lead_claim(lead_id=lead.pk, user=rep)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_claims_of_one_lead_make_one_owner_and_nineteen_refusals(territory):
    need(connection.vendor == "postgresql", "concurrent claims need PostgreSQL")
    lead = make_lead(email="race@acme.pl", stage=StageKey.MQL)
    reps = [UserFactory(username=f"racer{i}", role=Role.SALES_REP) for i in range(20)]
    for user in reps:  # reps claim the leads of the territory they work
        TerritoryMember.objects.create(territory=territory, user=user)
    barrier = threading.Barrier(20)
    outcomes: list[object] = []
    lock = threading.Lock()

    def claim(user):
        try:
            barrier.wait(10)
            result: object = lead_claim(lead_id=lead.pk, user=user)
        except Exception as exc:
            result = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(user,)) for user in reps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [o for o in outcomes if isinstance(o, Lead)]
    refusals = [o for o in outcomes if isinstance(o, LeadConflict)]
    assert len(winners) == 1 and len(refusals) == 19, outcomes
    assert Lead.objects.get(pk=lead.pk).owner_id == winners[0].owner_id


def test_a_manager_reassigns_a_lead_and_a_rep_cannot(territory, team, sales_manager):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    with pytest.raises(PermissionDenied):
        lead_reassign(lead=lead, to_user=other, actor=rep)
    lead_reassign(lead=lead, to_user=other, actor=sales_manager)
    assert Lead.objects.get(pk=lead.pk).owner == other
    assert Notification.objects.filter(recipient=other, event="lead.assigned").count() == 1


def test_a_lead_cannot_be_reassigned_to_a_marketer(territory, team, sales_manager, marketer):
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=team[0])
    with pytest.raises(ValidationError):
        lead_reassign(lead=lead, to_user=marketer, actor=sales_manager)


# --- follow-ups and the clock ----------------------------------------------------------------


def test_a_follow_up_within_the_sla_stops_the_clock_and_earns_credit(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    assert lead.sla_due_at is not None
    follow_up = _call(lead, rep, next_follow_up_at=timezone.now() + timedelta(days=2))
    lead.refresh_from_db()
    assert follow_up.within_sla is True
    assert lead.sla_due_at is None
    assert lead.first_follow_up_at == follow_up.occurred_at
    assert lead.next_follow_up_at == follow_up.next_follow_up_at
    # The stopped clock is no breach, however late the check runs.
    assert sla_breaches_check(now=timezone.now() + timedelta(days=5)).recorded == 0
    [row] = sla_ledger(reps=[rep], start=week_start_of(follow_up.occurred_at))
    assert (row.credits, row.breaches) == (1, 0)


def test_a_late_follow_up_records_the_breach_and_earns_no_credit(territory, team):
    rep = team[0]
    start = timezone.now() - timedelta(hours=30)
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep, at=start)
    follow_up = _call(lead, rep)
    assert follow_up.within_sla is False
    assert SlaBreach.objects.filter(lead=lead, stage=StageKey.MQL).count() == 1
    assert sla_breaches_check().recorded == 0


def test_a_note_does_not_stop_the_clock(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    note = _call(lead, rep, kind=FollowUpKind.NOTE, outcome=FollowUpOutcome.COMPLETED)
    lead.refresh_from_db()
    assert note.within_sla is None and lead.sla_due_at is not None
    assert lead.first_follow_up_at is None


def test_a_rep_cannot_log_on_another_reps_lead_but_a_manager_can(territory, team, sales_manager):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=other)
    with pytest.raises(PermissionDenied):
        _call(lead, rep)
    assert lead.follow_ups.count() == 0
    _call(lead, sales_manager)
    assert lead.follow_ups.count() == 1


def test_a_follow_up_in_the_future_or_with_a_past_next_date_is_refused(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    with pytest.raises(ValidationError) as caught:
        _call(
            lead,
            rep,
            occurred_at=timezone.now() + timedelta(days=1),
            kind="carrier-pigeon",
        )
    assert {"occurred_at", "kind"} <= caught.value.message_dict.keys()
    with pytest.raises(ValidationError) as caught:
        _call(lead, rep, next_follow_up_at=timezone.now() - timedelta(days=1))
    assert "next_follow_up_at" in caught.value.message_dict
    assert lead.follow_ups.count() == 0


# --- breaches -------------------------------------------------------------------------------


@pytest.fixture
def overdue(territory, team, sales_manager):
    """An MQL of rep1, 30 hours old (the SLA is 24): a breach waiting to be found."""
    rep = team[0]
    for user in (rep, sales_manager):
        UserProfile.objects.create(user=user, email_events=["sla.breached"])
    return make_lead(
        email="late@acme.pl",
        stage=StageKey.MQL,
        owner=rep,
        at=timezone.now() - timedelta(hours=30),
    )


def test_check_slas_run_twice_records_the_breach_once_and_notifies_rep_and_manager_once(
    overdue, team, sales_manager, django_capture_on_commit_callbacks
):
    rep = team[0]
    with django_capture_on_commit_callbacks(execute=True):
        first = sla_breaches_check()
    with django_capture_on_commit_callbacks(execute=True):
        second = sla_breaches_check()
    assert (first.recorded, second.recorded) == (1, 0)
    breach = SlaBreach.objects.get()
    assert (breach.lead, breach.owner, breach.stage) == (overdue, rep, StageKey.MQL)
    notified = Counter(
        Notification.objects.filter(event="sla.breached").values_list("recipient", flat=True)
    )
    assert notified == {rep.pk: 1, sales_manager.pk: 1}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([rep.email, sales_manager.email])
    [row] = sla_ledger(reps=[rep], start=week_start_of(breach.due_at))
    assert row.breaches == 1


def test_the_check_command_records_breaches(overdue):
    from django.core.management import call_command

    call_command("check_slas")
    call_command("check_slas")
    assert SlaBreach.objects.count() == 1


def test_a_closed_lead_or_a_lead_without_a_clock_is_no_breach(territory, team):
    rep = team[0]
    past = timezone.now() - timedelta(days=3)
    make_lead(email="inq@acme.pl", owner=rep, at=past)  # inquiry: no SLA
    lead = make_lead(email="dq@acme.pl", stage=StageKey.MQL, owner=rep, at=past)
    Lead.objects.filter(pk=lead.pk).update(stage=StageKey.DISQUALIFIED)
    assert sla_breaches_check().recorded == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_check_slas_record_each_breach_once_and_notify_once(
    territory, team, sales_manager
):
    need(connection.vendor == "postgresql", "concurrent checks need PostgreSQL")
    rep, other = team
    past = timezone.now() - timedelta(hours=30)
    for i in range(10):
        make_lead(email=f"late{i}@acme.pl", stage=StageKey.MQL, owner=team[i % 2], at=past)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def run():
        try:
            barrier.wait(10)
            results.append(sla_breaches_check(batch_size=3))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(r.recorded for r in results) == 10
    assert SlaBreach.objects.count() == 10
    assert SlaBreach.objects.values("lead").distinct().count() == 10
    per_recipient = Counter(
        Notification.objects.filter(event="sla.breached").values_list("recipient", flat=True)
    )
    assert per_recipient == {rep.pk: 5, other.pk: 5, sales_manager.pk: 10}


# --- ledger ---------------------------------------------------------------------------------


def test_the_ledger_counts_credits_and_breaches_per_rep_and_week(territory, team):
    rep, other = team
    now = timezone.now()
    this_week = week_start_of(now)
    for i in range(3):
        lead = make_lead(email=f"ok{i}@acme.pl", stage=StageKey.MQL, owner=rep)
        _call(lead, rep)
    late = make_lead(
        email="late@acme.pl", stage=StageKey.MQL, owner=other, at=now - timedelta(hours=30)
    )
    sla_breaches_check()
    rows = {
        (r.rep_name, r.week_start): r
        for r in sla_ledger(reps=[rep, other], start=this_week - timedelta(weeks=1), weeks=2)
    }
    due_week = week_start_of(SlaBreach.objects.get(lead=late).due_at)
    assert rows[(rep.get_full_name(), this_week)].credits == 3
    assert rows[(other.get_full_name(), due_week)].breaches == 1
    assert sum(r.breaches for r in rows.values()) == 1
    assert sum(r.credits for r in rows.values()) == 3


# --- deals ----------------------------------------------------------------------------------


def test_a_deal_on_an_sql_moves_the_lead_to_opportunity_and_a_win_to_won(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal = deal_create(lead=lead, actor=rep, amount="12000", name="Rollout")
    lead.refresh_from_db()
    assert lead.stage == StageKey.OPPORTUNITY and deal.owner == rep
    deal_close(deal=deal, actor=rep, outcome=DealOutcome.WON, gross_margin="4000.50")
    lead.refresh_from_db()
    deal.refresh_from_db()
    assert lead.stage == StageKey.WON and lead.won_at is not None
    assert deal.outcome == DealOutcome.WON and deal.gross_margin == Decimal("4000.50")


def test_a_lost_deal_needs_an_agreed_reason_and_moves_the_lead_to_lost(territory, team):
    rep = team[0]
    lead = make_lead(email="a@acme.pl", stage=StageKey.SQL, owner=rep)
    deal = deal_create(lead=lead, actor=rep, amount=5000)
    with pytest.raises(ValidationError) as caught:
        deal_close(deal=deal, actor=rep, outcome=DealOutcome.LOST, lost_reason="bad vibes")
    assert "lost_reason" in caught.value.message_dict
    assert Deal.objects.get(pk=deal.pk).outcome == DealOutcome.OPEN
    deal_close(deal=deal, actor=rep, outcome=DealOutcome.LOST, lost_reason="price")
    lead.refresh_from_db()
    assert lead.stage == StageKey.LOST
    assert lead.stage_events.latest("occurred_at").reason_code == "price"
    with pytest.raises(ValidationError):
        deal_close(deal=deal, actor=rep, outcome=DealOutcome.WON)


def test_a_deal_needs_a_qualified_lead_a_sane_amount_and_the_owner(territory, team):
    rep, other = team
    lead = make_lead(email="a@acme.pl", stage=StageKey.MQL, owner=rep)
    with pytest.raises(ValidationError) as caught:
        deal_create(lead=lead, actor=rep, amount="-5", gross_margin="x")
    assert {"lead", "amount", "gross_margin"} <= caught.value.message_dict.keys()
    sql = make_lead(email="b@acme.pl", stage=StageKey.SQL, owner=rep)
    with pytest.raises(PermissionDenied):
        deal_create(lead=sql, actor=other, amount=100)
    assert Deal.objects.count() == 0


def test_the_beat_runs_the_sla_check_every_five_minutes_and_the_task_is_idempotent(overdue):
    from config.celery import app
    from leads.tasks import check_slas

    entry = app.conf.beat_schedule["check-slas"]
    assert entry["task"] == "leads.tasks.check_slas"
    assert entry["schedule"].minute == set(range(0, 60, 5))
    assert check_slas() == 1
    assert check_slas() == 0


def test_a_lead_moved_on_after_its_deadline_still_counts_one_breach(territory, team):
    rep = team[0]
    lead = make_lead(
        email="slow@acme.pl", stage=StageKey.MQL, owner=rep, at=timezone.now() - timedelta(hours=30)
    )
    lead_transition(lead=lead, to_stage=StageKey.SAL, actor=rep)
    assert list(SlaBreach.objects.values_list("lead", "stage")) == [(lead.pk, StageKey.MQL)]
    assert sla_breaches_check().recorded == 0
    assert SlaBreach.objects.count() == 1


def test_breaches_and_closed_deals_emit_their_webhooks_once(territory, team, sales_manager):
    from alignment.models import WebhookDelivery, WebhookSubscription

    rep = team[0]
    WebhookSubscription.objects.create(
        owner=sales_manager,
        url="https://hooks.example/accord",
        events=["sla.breached", "deal.won", "deal.lost"],
        secret="s3cret",
    )
    make_lead(
        email="late@acme.pl", stage=StageKey.MQL, owner=rep, at=timezone.now() - timedelta(hours=30)
    )
    sla_breaches_check()
    sla_breaches_check()
    won = deal_create(
        lead=make_lead(email="w@acme.pl", stage=StageKey.SQL, owner=rep), actor=rep, amount=10
    )
    deal_close(deal=won, actor=rep, outcome=DealOutcome.WON)
    lost = deal_create(
        lead=make_lead(email="l@acme.pl", stage=StageKey.SQL, owner=rep), actor=rep, amount=10
    )
    deal_close(deal=lost, actor=rep, outcome=DealOutcome.LOST, lost_reason="timing")
    assert Counter(WebhookDelivery.objects.values_list("event", flat=True)) == {
        "sla.breached": 1,
        "deal.won": 1,
        "deal.lost": 1,
    }
    payload = WebhookDelivery.objects.get(event="deal.lost").payload
    assert payload["lost_reason"] == "timing" and payload["deal"] == lost.pk
