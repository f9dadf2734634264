"""The feedback loop's services: intelligence, battlecards, disputes, notification preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.feedback.selectors import (
    battlecards_for_deal,
    battlecards_for_lead,
    dispute_list,
    intel_for_lead,
    intel_inbox,
)
from alignment.feedback.services import (
    battlecard_save,
    dispute_other_side,
    dispute_raise,
    dispute_resolve,
    intel_acknowledge,
    intel_action,
    intel_respond,
    intel_submit,
)
from alignment.models import (
    Battlecard,
    Competitor,
    Dispute,
    DisputeStatus,
    FieldIntel,
    IntelStatus,
    Notification,
    Team,
)
from alignment.notifications.services import (
    notification_preferences_get,
    notification_preferences_set,
    notification_unread_count,
)
from tests.factories import CampaignFactory, DealFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def notes(user, event: str | None = None):
    qs = Notification.objects.filter(recipient=user)
    return qs.filter(event=event) if event else qs


@pytest.fixture
def lead(rep, marketer):
    return LeadFactory(owner=rep, campaign=CampaignFactory(owner=marketer))


# --- intelligence -------------------------------------------------------------------------


def test_a_rep_submits_intel_from_a_lead_and_marketing_is_notified_once(rep, marketer, lead):
    intel = intel_submit(
        author=rep,
        kind="competitor",
        text="They quoted Rivalix at half price",
        lead=lead,
        competitor_name="Rivalix",
    )
    assert intel.status == IntelStatus.NEW and intel.created_at is not None
    assert intel.competitor == Competitor.objects.get(name="Rivalix")
    assert notes(marketer, "intel.submitted").count() == 1
    assert not notes(rep).exists()


def test_intel_from_a_deal_is_also_recorded_on_the_deal_s_lead(rep, lead):
    deal = DealFactory(lead=lead)
    intel = intel_submit(author=rep, kind="pricing", text="Too expensive", deal=deal)
    assert intel.lead == lead and intel.deal == deal


def test_intel_needs_a_kind_text_and_a_lead_deal_or_campaign(rep, lead):
    with pytest.raises(ValidationError) as exc:
        intel_submit(author=rep, kind="gossip", text="  ")
    assert set(exc.value.message_dict) == {"kind", "text", "lead"}
    other = DealFactory()
    with pytest.raises(ValidationError) as exc:
        intel_submit(author=rep, kind="market", text="x", lead=lead, deal=other)
    assert "deal" in exc.value.message_dict
    assert not FieldIntel.objects.exists()


def test_marketers_cannot_submit_intel_and_reps_cannot_answer_it(rep, marketer, lead):
    with pytest.raises(PermissionDenied):
        intel_submit(author=marketer, kind="market", text="x", lead=lead)
    intel = intel_submit(author=rep, kind="market", text="x", lead=lead)
    with pytest.raises(PermissionDenied):
        intel_acknowledge(intel=intel, user=rep, response="me?")
    intel.refresh_from_db()
    assert intel.status == IntelStatus.NEW and intel.acknowledged_at is None


def test_status_changes_are_recorded_with_times_and_each_response_notifies_the_author_once(
    rep, marketer, marketing_manager, lead
):
    t0 = timezone.now() - timedelta(days=3)
    intel = intel_submit(author=rep, kind="objection", text="No SSO", lead=lead, now=t0)
    t1 = t0 + timedelta(hours=5)
    intel = intel_acknowledge(intel=intel, user=marketer, response="Checking with product", now=t1)
    assert intel.status == IntelStatus.ACKNOWLEDGED
    assert intel.acknowledged_at == t1 and intel.acknowledged_by == marketer
    assert intel.actioned_at is None
    assert notes(rep, "intel.responded").count() == 1
    assert notes(rep).get().body == "Checking with product"
    # A second acknowledgement (double click, another marketer) changes and sends nothing.
    with pytest.raises(ValidationError):
        intel_acknowledge(
            intel=intel, user=marketing_manager, response="again", now=t1 + timedelta(hours=1)
        )
    intel.refresh_from_db()
    assert intel.acknowledged_at == t1 and intel.response == "Checking with product"
    assert notes(rep, "intel.responded").count() == 1
    t2 = t1 + timedelta(days=1)
    intel = intel_action(
        intel=intel, user=marketing_manager, response="SSO one-pager added", now=t2
    )
    assert intel.status == IntelStatus.ACTIONED
    assert (intel.acknowledged_at, intel.actioned_at) == (t1, t2)  # the ack time is kept
    assert notes(rep, "intel.responded").count() == 2
    with pytest.raises(ValidationError):
        intel_action(intel=intel, user=marketer, response="twice")
    assert notes(rep, "intel.responded").count() == 2


def test_actioning_a_new_item_acknowledges_it_at_the_same_time_and_needs_a_response(
    rep, marketer, lead
):
    intel = intel_submit(author=rep, kind="content_request", text="Need a case study", lead=lead)
    with pytest.raises(ValidationError) as exc:
        intel_action(intel=intel, user=marketer, response=" ")
    assert "response" in exc.value.message_dict
    intel = intel_action(intel=intel, user=marketer, response="Case study published")
    assert intel.acknowledged_at == intel.actioned_at
    assert notes(rep, "intel.responded").count() == 1


def test_editing_a_response_without_a_status_change_does_not_notify_again(rep, marketer, lead):
    intel = intel_submit(author=rep, kind="market", text="x", lead=lead)
    intel = intel_respond(intel=intel, user=marketer, status="acknowledged", response="seen")
    intel = intel_respond(intel=intel, user=marketer, status="acknowledged", response="seen, typo")
    assert FieldIntel.objects.get().response == "seen, typo"
    assert notes(rep).count() == 1
    with pytest.raises(ValidationError):
        intel_respond(intel=intel, user=marketer, status="new")


def test_the_response_email_goes_out_only_to_authors_who_opted_in(
    rep, marketer, lead, django_capture_on_commit_callbacks
):
    intel = intel_submit(author=rep, kind="market", text="x", lead=lead)
    with django_capture_on_commit_callbacks(execute=True):
        intel_acknowledge(intel=intel, user=marketer, response="thanks")
    assert mail.outbox == []
    notification_preferences_set(user=rep, email_events=["intel.responded"])
    with django_capture_on_commit_callbacks(execute=True):
        intel_action(intel=intel, user=marketer, response="done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [rep.email]
    assert "done" in mail.outbox[0].body


def test_the_inbox_lists_what_waits_first_and_filters(rep, marketer, lead):
    old = intel_submit(author=rep, kind="market", text="old", lead=lead)
    intel_acknowledge(intel=old, user=marketer)
    new = intel_submit(author=rep, kind="pricing", text="new", lead=lead)
    assert list(intel_inbox()) == [new, FieldIntel.objects.get(pk=old.pk)]
    assert list(intel_inbox(filters={"status": "new"})) == [new]
    assert list(intel_inbox(filters={"kind": "market"})) == [old]
    assert list(intel_inbox(filters={"status": "open"})) == [new, old]
    assert list(intel_inbox(filters={"search": "OLD"})) == [old]
    assert list(intel_for_lead(lead=lead)) == [new, old]


# --- battlecards --------------------------------------------------------------------------


def test_marketing_keeps_one_battlecard_per_competitor(marketer, rep, lead):
    intel = intel_submit(author=rep, kind="competitor", text="Rivalix came up", lead=lead)
    card = battlecard_save(
        user=marketer,
        competitor_name="Rivalix",
        differentiators="Native alignment scorecards",
        table_stakes="Lead scoring",
        objections=[("They are cheaper", "Count the hours of lead blame"), ("", "")],
        link_intel=[intel.pk],
    )
    again = battlecard_save(
        user=marketer,
        competitor_name="rivalix",
        differentiators="Signed agreement",
        objections=[("No SSO", "SSO ships in Q3")],
    )
    assert again.pk == card.pk and Battlecard.objects.count() == 1
    assert [o.objection for o in again.objections.all()] == ["No SSO"]
    intel.refresh_from_db()
    assert intel.competitor == card.competitor
    with pytest.raises(PermissionDenied):
        battlecard_save(user=rep, competitor_name="Rivalix")
    with pytest.raises(ValidationError) as exc:
        battlecard_save(user=marketer, competitor_name="Rivalix", objections=[("alone", "")])
    assert "objections" in exc.value.message_dict
    assert [o.objection for o in Battlecard.objects.get().objections.all()] == ["No SSO"]


def test_a_lead_shows_the_cards_of_competitors_recorded_on_its_intel_and_deals(marketer, rep, lead):
    rivalix = battlecard_save(user=marketer, competitor_name="Rivalix")
    battlecard_save(user=marketer, competitor_name="Other")
    assert battlecards_for_lead(lead=lead) == []
    deal = DealFactory(lead=lead)
    intel_submit(author=rep, kind="competitor", text="x", deal=deal, competitor=rivalix.competitor)
    assert battlecards_for_lead(lead=lead) == [rivalix]
    assert battlecards_for_deal(deal=deal) == [rivalix]
    assert battlecards_for_lead(lead=LeadFactory()) == []


# --- disputes -----------------------------------------------------------------------------


def test_either_team_raises_a_dispute_executives_cannot(rep, marketer, executive, lead):
    d1 = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="The fit was perfect")
    assert d1.raised_by_team == Team.MARKETING and d1.status == DisputeStatus.OPEN
    d2 = dispute_raise(user=rep, lead=lead, kind="lead_quality", reason="Student email")
    assert d2.raised_by_team == Team.SALES
    with pytest.raises(PermissionDenied):
        dispute_raise(user=executive, lead=lead, kind="lead_quality", reason="x")
    with pytest.raises(ValidationError):  # one open dispute per lead and kind
        dispute_raise(user=marketer, lead=lead, kind="rejection", reason="again")
    with pytest.raises(ValidationError) as exc:
        dispute_raise(user=rep, lead=lead, kind="deal_credit", reason=" ")
    assert set(exc.value.message_dict) == {"reason", "deal"}
    assert Dispute.objects.count() == 2


def test_raising_notifies_the_executives_and_the_other_side(rep, marketer, executive, lead):
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    assert notes(executive, "dispute.raised").count() == 1
    assert notes(rep, "dispute.raised").count() == 1  # the lead's owner answers for sales
    assert not notes(marketer).exists()
    assert dispute_other_side(dispute=dispute) == [rep]


def test_the_other_side_of_a_sales_dispute_is_the_campaign_owner_or_marketing_managers(
    rep, marketer, marketing_manager, lead
):
    dispute = dispute_raise(user=rep, lead=lead, kind="lead_quality", reason="Junk")
    assert dispute_other_side(dispute=dispute) == [marketer]
    orphan = dispute_raise(user=rep, lead=LeadFactory(), kind="lead_quality", reason="Junk")
    assert dispute_other_side(dispute=orphan) == [marketing_manager]


@pytest.mark.parametrize(
    "role", [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETER, Role.MARKETING_MANAGER]
)
def test_only_executives_resolve_disputes(role, marketer, lead):
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    with pytest.raises(PermissionDenied):
        dispute_resolve(
            dispute=dispute, user=UserFactory(role=role), decision="for_sales", note="no"
        )
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN and dispute.resolved_at is None


def test_resolving_stores_decision_note_and_time_and_notifies_raiser_and_other_side_once(
    rep, marketer, executive, lead
):
    t0 = timezone.now() - timedelta(days=2)
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit", now=t0)
    with pytest.raises(ValidationError) as exc:
        dispute_resolve(dispute=dispute, user=executive, decision="maybe", note="")
    assert set(exc.value.message_dict) == {"decision", "resolution_note"}
    t1 = t0 + timedelta(hours=30)
    resolved = dispute_resolve(
        dispute=dispute, user=executive, decision="for_marketing", note="Met the criteria", now=t1
    )
    assert resolved.status == DisputeStatus.RESOLVED and resolved.resolved_at == t1
    assert resolved.resolved_by == executive and resolved.resolution_note == "Met the criteria"
    assert (resolved.resolved_at - resolved.created_at) == timedelta(hours=30)
    assert notes(marketer, "dispute.resolved").count() == 1
    assert notes(rep, "dispute.resolved").count() == 1
    assert not notes(executive, "dispute.resolved").exists()
    with pytest.raises(ValidationError):
        dispute_resolve(dispute=dispute, user=executive, decision="for_sales", note="changed mind")
    resolved.refresh_from_db()
    assert resolved.decision == "for_marketing"
    assert notes(marketer, "dispute.resolved").count() == 1
    assert notes(rep, "dispute.resolved").count() == 1


def test_dispute_list_puts_open_ones_first(rep, marketer, executive, lead):
    first = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="a")
    second = dispute_raise(user=rep, lead=lead, kind="lead_quality", reason="b")
    dispute_resolve(dispute=second, user=executive, decision="shared", note="half")
    assert list(dispute_list()) == [first, second]
    assert list(dispute_list(filters={"status": "resolved"})) == [second]


# --- notification preferences -------------------------------------------------------------


def test_each_user_chooses_which_events_email_them(rep):
    assert notification_preferences_get(user=rep) == []
    assert notification_preferences_set(
        user=rep, email_events=["dispute.resolved", "intel.responded", "intel.responded"]
    ) == ["dispute.resolved", "intel.responded"]
    assert notification_preferences_get(user=rep) == ["dispute.resolved", "intel.responded"]
    with pytest.raises(ValidationError):
        notification_preferences_set(user=rep, email_events=["nonsense"])
    assert notification_preferences_get(user=rep) == ["dispute.resolved", "intel.responded"]


def test_unread_count(rep, marketer, lead):
    intel = intel_submit(author=rep, kind="market", text="x", lead=lead)
    intel_acknowledge(intel=intel, user=marketer)
    assert notification_unread_count(user=rep) == 1


def test_new_intel_and_resolved_disputes_reach_webhook_subscribers_once(
    rep, marketer, executive, lead
):
    from alignment.models import WebhookDelivery, WebhookSubscription

    WebhookSubscription.objects.create(
        owner=executive,
        url="https://hooks.example/accord",
        events=["intel.created", "dispute.resolved"],
        secret="s3cret",
    )
    intel = intel_submit(author=rep, kind="pricing", text="Per-team price", lead=lead)
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    dispute_resolve(dispute=dispute, user=executive, decision="shared", note="Both right")
    deliveries = {d.event: d for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {"intel.created", "dispute.resolved"}
    assert deliveries["intel.created"].payload["id"] == intel.pk
    assert deliveries["intel.created"].payload["kind"] == "pricing"
    assert deliveries["dispute.resolved"].payload["decision"] == "shared"
    assert deliveries["dispute.resolved"].event_key == f"dispute:{dispute.pk}"
