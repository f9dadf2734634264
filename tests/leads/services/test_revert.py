"""A sales manager reverts a stage move: a new event with a reason, never a deletion; only
the latest move, and never one the deal decides; the metrics count neither."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alignment.models import StageKey
from config.formats import person_name
from leads.integrity import lead_invariant_problems
from leads.models import DealOutcome, Lead, StageEvent
from leads.selectors import lead_earlier_rejection, lead_timeline
from leads.services import lead_transition, sla_due_compute
from leads.services.deals import deal_close, deal_create
from leads.services.moves import stage_move_revert, stage_move_revertable
from metrics.definitions import MetricFilter, conversion_cohort, metric_value
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _latest(lead: Lead) -> StageEvent:
    return lead.stage_events.order_by("-occurred_at", "-id").first()


def _history(lead: Lead) -> list[tuple]:
    return list(
        StageEvent.objects.filter(lead=lead)
        .order_by("pk")
        .values_list("pk", "from_stage", "to_stage", "source", "reason")
    )


def _this_month() -> MetricFilter:
    today = timezone.localdate()
    return MetricFilter(start=today - timedelta(days=27), end=today + timedelta(days=1))


@pytest.fixture
def accepted(team):
    """An MQL a rep accepted (mql → sal) an hour ago."""
    return make_lead(
        email="ana@acme.pl",
        stage=StageKey.SAL,
        owner=team[0],
        at=timezone.now() - timedelta(hours=1),
        first_name="Ana",
    )


def test_a_sales_manager_reverts_the_latest_move_with_a_new_event(accepted, sales_manager):
    history = _history(accepted)
    acceptance = _latest(accepted)
    assert stage_move_revertable(lead=accepted) == acceptance

    result = stage_move_revert(
        lead=accepted, event=acceptance, actor=sales_manager, reason="Accepted the wrong Ana"
    )

    assert _history(accepted)[: len(history)] == history  # nothing deleted or rewritten
    revert = result.event
    assert (revert.from_stage, revert.to_stage) == (StageKey.SAL, StageKey.MQL)
    assert revert.source == StageEvent.Source.REVERT and revert.reverts == acceptance
    assert revert.actor == sales_manager and revert.actor_team == "sales"
    assert revert.reason == "Accepted the wrong Ana"
    assert revert.agreement_id == acceptance.agreement_id
    accepted.refresh_from_db()
    assert accepted.stage == StageKey.MQL
    assert accepted.stage_entered_at == revert.occurred_at == accepted.mql_at
    assert accepted.sal_at is None  # the entry into SAL is undone
    assert accepted.sla_due_at == sla_due_compute(
        agreement=acceptance.agreement, hours=24, start=revert.occurred_at
    )
    assert lead_invariant_problems(lead_id=accepted.pk) == []
    assert stage_move_revertable(lead=accepted) is None  # a revert is not reverted


@pytest.mark.parametrize("who", ["rep", "marketer", "marketing_manager", "executive"])
def test_only_a_sales_manager_may_revert(accepted, who, request):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied, match="Only a sales manager"):
        stage_move_revert(lead=accepted, event=_latest(accepted), actor=user, reason="Oops")
    assert Lead.objects.get(pk=accepted.pk).stage == StageKey.SAL


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_revert_needs_a_reason(accepted, sales_manager, reason):
    with pytest.raises(ValidationError) as caught:
        stage_move_revert(
            lead=accepted, event=_latest(accepted), actor=sales_manager, reason=reason
        )
    assert "reason" in caught.value.message_dict
    assert not StageEvent.objects.filter(source=StageEvent.Source.REVERT).exists()


def test_only_the_latest_move_and_never_the_creation_is_reverted(accepted, sales_manager):
    creation, qualification, _acceptance = accepted.stage_events.order_by("occurred_at", "pk")
    with pytest.raises(ValidationError, match="Only the lead's latest move"):
        stage_move_revert(lead=accepted, event=qualification, actor=sales_manager, reason="x")
    with pytest.raises(ValidationError, match="creation cannot be reverted"):
        stage_move_revert(lead=accepted, event=creation, actor=sales_manager, reason="x")
    assert Lead.objects.get(pk=accepted.pk).stage == StageKey.SAL


def test_a_move_is_reverted_once_and_a_revert_is_never_reverted(accepted, sales_manager):
    acceptance = _latest(accepted)
    revert = stage_move_revert(
        lead=accepted, event=acceptance, actor=sales_manager, reason="Wrong lead"
    ).event
    with pytest.raises(ValidationError, match="already been reverted"):
        stage_move_revert(lead=accepted, event=acceptance, actor=sales_manager, reason="Again")
    with pytest.raises(ValidationError, match="cannot itself be reverted"):
        stage_move_revert(lead=accepted, event=revert, actor=sales_manager, reason="Undo")
    assert StageEvent.objects.filter(source=StageEvent.Source.REVERT).count() == 1
    assert Lead.objects.get(pk=accepted.pk).stage == StageKey.MQL


def test_a_won_lead_with_its_won_deal_is_not_reverted_the_deal_decides(team, sales_manager):
    lead = make_lead(email="won@acme.pl", stage=StageKey.SQL, owner=team[0])
    deal = deal_create(lead=lead, actor=team[0], amount=1000)
    deal_close(deal=deal, actor=team[0], outcome=DealOutcome.WON)
    lead.refresh_from_db()
    assert lead.stage == StageKey.WON
    history = _history(lead)

    with pytest.raises(ValidationError, match="Close or correct the deal instead") as caught:
        stage_move_revert(lead=lead, event=_latest(lead), actor=sales_manager, reason="Too soon")

    assert "A lead with a won deal that is not in won." in caught.value.messages[0]
    lead.refresh_from_db()
    assert lead.stage == StageKey.WON and _history(lead) == history  # rolled back
    assert lead_invariant_problems(lead_id=lead.pk) == []


def test_reverting_a_rejection_brings_the_mql_back_without_its_rest(team, sales_manager):
    lead = make_lead(email="bo@acme.pl", stage=StageKey.MQL, owner=team[0])
    lead_transition(lead=lead, to_stage=StageKey.RECYCLED, actor=team[0], reason_code="bad-timing")
    lead.refresh_from_db()
    assert lead.rest_until is not None
    stage_move_revert(
        lead=lead, event=_latest(lead), actor=sales_manager, reason="They are buying now"
    )
    lead.refresh_from_db()
    assert lead.stage == StageKey.MQL and lead.rest_until is None
    # The MQL criterion is judged on the entry that was judged, not on the revert.
    assert lead_invariant_problems(lead_id=lead.pk) == []
    assert lead_earlier_rejection(lead=lead) is None  # the rejection was undone


def test_the_metrics_count_neither_a_reverted_decision_nor_the_revert(team, sales_manager):
    f = _this_month()
    kept = make_lead(email="kept@acme.pl", stage=StageKey.SAL, owner=team[0])
    undone = make_lead(email="undone@acme.pl", stage=StageKey.SAL, owner=team[0])
    assert metric_value(name="mqls_accepted", f=f) == 2
    assert metric_value(name="stage_entries[sal]", f=f) == 2

    stage_move_revert(lead=undone, event=_latest(undone), actor=sales_manager, reason="Slip")

    assert metric_value(name="mqls_accepted", f=f) == 1
    assert metric_value(name="stage_entries[sal]", f=f) == 1
    assert metric_value(name="mqls", f=f) == 2  # the revert back into MQL is no new MQL
    assert metric_value(name="acceptance_rate", f=f) == 1.0  # one decision, accepted
    reached = dict(conversion_cohort(StageKey.MQL, StageKey.SAL)(f).values_list("pk", "reached"))
    assert reached == {kept.pk: True, undone.pk: False}


def test_reverting_an_entry_into_mql_is_no_rejection_by_sales(team, sales_manager):
    lead = make_lead(email="cy@acme.pl", stage=StageKey.INQUIRY, owner=team[0])
    Lead.objects.filter(pk=lead.pk).update(score=60)  # qualifies
    lead.score = 60
    lead_transition(lead=lead, to_stage=StageKey.MQL, actor=None)
    f = _this_month()
    stage_move_revert(lead=lead, event=_latest(lead), actor=sales_manager, reason="Too early")
    lead.refresh_from_db()
    assert lead.stage == StageKey.INQUIRY
    assert metric_value(name="mqls_rejected", f=f) == 0  # the revert: from mql, not a decision
    assert metric_value(name="mqls", f=f) == 0  # the undone entry is no MQL


def test_the_timeline_shows_the_revert_and_marks_the_reverted_move(accepted, sales_manager):
    stage_move_revert(
        lead=accepted, event=_latest(accepted), actor=sales_manager, reason="Wrong Ana"
    )
    stages = [entry for entry in lead_timeline(lead=accepted) if entry.kind == "stage"]
    revert = stages[0]  # the newest
    assert revert.title == "Reverted: Marketing qualified (MQL) → Sales accepted (SAL)"
    assert revert.detail == "Wrong Ana" and revert.actor == person_name(sales_manager)
    titles = [entry.title for entry in stages]
    assert "Marketing qualified (MQL) → Sales accepted (SAL) (reverted)" in titles
    assert "Inquiry → Marketing qualified (MQL)" in titles  # the rest unmarked
