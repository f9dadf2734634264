"""Disputes with evidence and effect (issue #18, item 4): the dispute page shows the
rejection, the score then and now, the timeline and the campaign's acceptance rate; a
decision in marketing's favour overturns the rejection (a revert, then an acceptance for
the rep: the acceptance rate counts one acceptance and no rejection), one in sales' favour
upholds it (the campaign's quality counts it); a rejection that can no longer be
overturned is refused and nothing changes."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from alignment.accounts.roles import dispute_overturn_refusal
from alignment.feedback.services import dispute_raise, dispute_resolve
from alignment.models import Dispute, DisputeEffect, DisputeStatus, Notification, StageKey
from campaigns.selectors import campaign_rejections_upheld
from config.formats import percent_format
from leads.integrity import lead_invariant_problems
from leads.models import Lead, StageEvent
from leads.services import lead_transition
from leads.services.moves import lead_move, stage_move_revert
from metrics.definitions import MetricFilter, metric_value, rejections_upheld
from tests.factories import CampaignFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _this_month(**narrow) -> MetricFilter:
    today = timezone.localdate()
    return MetricFilter(start=today - timedelta(days=27), end=today + timedelta(days=1), **narrow)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="Spring webinar")


@pytest.fixture
def rejected(active_agreement, rep, campaign):
    """An MQL of the campaign that rep rejected an hour ago (no budget), scored 60 then."""
    lead = make_lead(
        email="ola@acme.pl",
        stage=StageKey.MQL,
        owner=rep,
        at=timezone.now() - timedelta(hours=2),
        first_name="Ola",
        last_name="Nowak",
    )
    Lead.objects.filter(pk=lead.pk).update(campaign=campaign)
    lead.refresh_from_db()
    lead_move(
        lead=lead,
        to_stage=StageKey.RECYCLED,
        actor=rep,
        reason_code="no-budget",
        note="They said maybe next year.",
    )
    lead.refresh_from_db()
    return lead


def _rejection(lead: Lead) -> StageEvent:
    return lead.stage_events.get(from_stage=StageKey.MQL, to_stage=StageKey.RECYCLED)


@pytest.fixture
def contested(rejected, marketer):
    return dispute_raise(
        user=marketer, lead=rejected, kind="rejection", reason="They booked a pricing call."
    )


def test_raising_a_dispute_records_the_rejection_it_contests(rejected, contested):
    assert contested.rejection == _rejection(rejected)


def test_a_decision_for_marketing_overturns_the_rejection_and_the_rep_gets_an_accepted_mql(
    rejected, contested, executive, rep, marketer
):
    rejection = _rejection(rejected)
    month = _this_month()
    assert metric_value(name="mqls_rejected", f=month) == 1
    assert metric_value(name="acceptance_rate", f=month) == 0.0

    resolved = dispute_resolve(
        dispute=contested, user=executive, decision="for_marketing", note="The call counts."
    )

    rejected.refresh_from_db()
    assert rejected.stage == StageKey.SAL and rejected.owner == rep
    assert resolved.effect == DisputeEffect.OVERTURNED
    revert, acceptance = resolved.revert_event, resolved.acceptance_event
    assert revert.source == StageEvent.Source.REVERT and revert.reverts == rejection
    assert (revert.from_stage, revert.to_stage) == (StageKey.RECYCLED, StageKey.MQL)
    assert (acceptance.from_stage, acceptance.to_stage) == (StageKey.MQL, StageKey.SAL)
    assert revert.actor == executive and acceptance.actor == executive
    assert f"#{contested.pk}" in acceptance.reason
    assert lead_invariant_problems(lead_id=rejected.pk) == []
    # The acceptance rate counts the acceptance and not the rejection.
    assert metric_value(name="mqls_accepted", f=month) == 1
    assert metric_value(name="mqls_rejected", f=month) == 0
    assert metric_value(name="acceptance_rate", f=month) == 1.0
    assert rejections_upheld(month).count() == 0
    # The rep and the raiser are told what the decision did, once each.
    for user in (rep, marketer):
        note = Notification.objects.get(recipient=user, event="dispute.resolved")
        assert "overturned" in note.body and "accepted MQL" in note.body


def test_a_decision_for_sales_keeps_the_lead_rejected_and_counts_the_rejection_as_upheld(
    rejected, contested, executive, rep, campaign
):
    events = rejected.stage_events.count()
    resolved = dispute_resolve(
        dispute=contested, user=executive, decision="for_sales", note="No budget was stated."
    )
    rejected.refresh_from_db()
    assert rejected.stage == StageKey.RECYCLED and rejected.stage_events.count() == events
    assert resolved.effect == DisputeEffect.UPHELD
    assert resolved.revert_event is None and resolved.acceptance_event is None
    f = _this_month(campaign=campaign.pk)
    assert list(rejections_upheld(f)) == [_rejection(rejected)]
    assert campaign_rejections_upheld(f=f) == 1
    assert campaign_rejections_upheld(f=_this_month(campaign=CampaignFactory().pk)) == 0
    assert metric_value(name="mqls_rejected", f=f) == 1
    assert "upheld" in Notification.objects.get(recipient=rep, event="dispute.resolved").body


def test_the_campaign_page_shows_its_upheld_rejections(rejected, contested, executive, campaign):
    dispute_resolve(dispute=contested, user=executive, decision="for_sales", note="No budget.")
    page = _client(executive).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "1 rejection in the period was upheld by the arbiter on dispute." in page


def test_sales_disputing_a_leads_quality_gets_the_same_effects(rejected, rep, executive, campaign):
    dispute = dispute_raise(user=rep, lead=rejected, kind="lead_quality", reason="A student.")
    assert dispute.rejection == _rejection(rejected)
    dispute_resolve(dispute=dispute, user=executive, decision="for_sales", note="Agreed.")
    assert rejections_upheld(_this_month(campaign=campaign.pk)).count() == 1


def test_a_compromise_or_a_deal_credit_dispute_leaves_the_lead_as_it_is(
    rejected, contested, executive
):
    events = rejected.stage_events.count()
    resolved = dispute_resolve(dispute=contested, user=executive, decision="shared", note="Both")
    assert resolved.effect == DisputeEffect.NONE
    rejected.refresh_from_db()
    assert rejected.stage == StageKey.RECYCLED and rejected.stage_events.count() == events
    assert rejections_upheld(_this_month()).count() == 0


def test_a_dispute_with_no_rejection_to_act_on_changes_nothing(
    active_agreement, marketer, rep, executive
):
    lead = make_lead(email="eva@acme.pl", stage=StageKey.SAL, owner=rep)
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Hmm")
    assert dispute.rejection is None
    resolved = dispute_resolve(dispute=dispute, user=executive, decision="for_marketing", note="ok")
    assert resolved.effect == DisputeEffect.NONE
    lead.refresh_from_db()
    assert lead.stage == StageKey.SAL


@pytest.fixture
def moved_on(rejected, contested, marketing_manager):
    """The rejected lead went back to MQL since (marketing re-qualified it)."""
    lead_transition(
        lead=rejected,
        to_stage=StageKey.MQL,
        actor=marketing_manager,
        override_reason="They asked for a demo.",
    )
    rejected.refresh_from_db()
    return rejected


def _state(lead: Lead, dispute: Dispute) -> tuple:
    lead.refresh_from_db()
    dispute.refresh_from_db()
    return (
        lead.stage,
        lead.owner_id,
        list(lead.stage_events.values_list("pk", flat=True)),
        dispute.status,
        dispute.decision,
        dispute.effect,
        Notification.objects.filter(event="dispute.resolved").count(),
    )


def test_overturning_a_rejection_the_lead_moved_on_from_is_refused_and_changes_nothing(
    moved_on, contested, executive
):
    before = _state(moved_on, contested)
    with pytest.raises(ValidationError) as exc:
        dispute_resolve(dispute=contested, user=executive, decision="for_marketing", note="x")
    assert set(exc.value.message_dict) == {"decision"}
    assert "can no longer be overturned" in exc.value.message_dict["decision"][0]
    assert "compromise" in exc.value.message_dict["decision"][0]
    assert _state(moved_on, contested) == before
    assert before[3] == DisputeStatus.OPEN


def test_the_page_and_the_api_refuse_it_with_a_field_error(
    moved_on, contested, executive, api_client
):
    before = _state(moved_on, contested)
    page = _client(executive).post(
        f"/feedback/disputes/{contested.pk}/resolve/",
        {"decision": "for_marketing", "resolution_note": "x", "confirmed": "yes"},
    )
    assert page.status_code == 200
    assert "can no longer be overturned" in unescape(page.content.decode())
    answer = api_client(executive).post(
        f"/api/v1/disputes/{contested.pk}/resolve/",
        {"decision": "for_marketing", "resolution_note": "x"},
        format="json",
    )
    assert answer.status_code == 400
    assert "can no longer be overturned" in str(answer.json())
    assert "decision" in str(answer.json())
    assert _state(moved_on, contested) == before


def test_the_api_answers_with_the_effect_and_the_events_written(
    rejected, contested, executive, api_client
):
    answer = api_client(executive).post(
        f"/api/v1/disputes/{contested.pk}/resolve/",
        {"decision": "for_marketing", "resolution_note": "The call counts."},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    resolved = Dispute.objects.get(pk=contested.pk)
    assert body["effect"] == "overturned"
    assert body["rejection"] == _rejection(rejected).pk
    assert body["revert_event"] == resolved.revert_event_id is not None
    assert body["acceptance_event"] == resolved.acceptance_event_id is not None
    assert "overturned" in body["effect_summary"]
    schema = api_client(executive).get("/api/v1/schema/")
    if schema.status_code == 200:
        assert "acceptance_event" in schema.content.decode()


def test_only_the_arbiter_of_a_decision_for_marketing_may_overturn(
    rejected, contested, executive, sales_manager
):
    rejection = _rejection(rejected)
    # Without a dispute an executive may not revert a move: that is a sales manager's.
    with pytest.raises(PermissionDenied):
        stage_move_revert(lead=rejected, event=rejection, actor=executive, reason="x")
    # An open dispute, or one decided for sales, is no authority to overturn.
    with pytest.raises(PermissionDenied):
        stage_move_revert(
            lead=rejected, event=rejection, actor=executive, reason="x", dispute=contested
        )
    contested.status, contested.decision = DisputeStatus.RESOLVED, "for_marketing"
    contested.resolved_by = executive
    allowed = {"user": executive, "dispute": contested, "lead": rejected}
    assert dispute_overturn_refusal(**allowed, from_stage="recycled", to_stage="mql") is None
    assert dispute_overturn_refusal(**allowed, from_stage="mql", to_stage="sal") is None
    assert dispute_overturn_refusal(**allowed, from_stage="sal", to_stage="sql")  # no other
    assert dispute_overturn_refusal(
        user=sales_manager, dispute=contested, lead=rejected, from_stage="mql", to_stage="sal"
    )
    contested.decision = "for_sales"
    assert dispute_overturn_refusal(**allowed, from_stage="mql", to_stage="sal")


def test_the_dispute_page_shows_the_evidence(rejected, contested, executive, rep, campaign):
    Lead.objects.filter(pk=rejected.pk).update(
        score=35, score_breakdown=[{"rule": "Visited pricing", "kind": "fit", "points": 35}]
    )
    for user in (executive, rep):
        body = unescape(_client(user).get(f"/feedback/disputes/{contested.pk}/").content.decode())
        evidence = re.search(r'<section class="card" id="evidence">.*?</section>', body, re.S)
        assert evidence, body[:400]
        text = evidence.group(0)
        rejection = re.search(r'id="rejection">.*?</dl>', text, re.S).group(0)
        assert "No budget" in rejection and "no-budget" in rejection
        assert "They said maybe next year." in text
        assert rep.get_full_name() in rejection
        then = re.search(r'id="score-then">.*?</div>', text, re.S).group(0)
        now = re.search(r'id="score-now">.*?</div>', text, re.S).group(0)
        assert ">60<" in then and ">35<" in now and "Visited pricing" in now
        assert "Spring webinar" in text
        assert percent_format(0.0) in re.search(r'id="campaign">.*?</dl>', text, re.S).group(0)
        excerpt = re.search(r'id="excerpt">.*?</ol>', text, re.S).group(0)
        assert "ev-rejection" in excerpt and excerpt.count("<li") <= 8


def test_neither_decision_is_preselected_and_each_says_its_effect(contested, executive):
    body = unescape(_client(executive).get(f"/feedback/disputes/{contested.pk}/").content.decode())
    select = re.search(r'<select name="decision".*?</select>', body, re.S).group(0)
    options = re.findall(r"<option[^>]*>", select)
    assert options[0].startswith('<option value=""')
    assert not any("selected" in option for option in options[1:])  # only the blank one
    assert "The rejection is overturned: the lead goes back to" in select
    assert "the rejection counts as upheld for its campaign" in select
