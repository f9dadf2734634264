"""Every hand-off between the teams has an owner, a due time from the agreement, one
reminder, one escalation, and shows as overdue in the reader's list and the meeting pack."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.agreement.services import agreement_draft_create
from alignment.handoffs.selectors import handoffs_for, handoffs_overdue_in_week
from alignment.handoffs.services import handoffs_alert
from alignment.models import (
    Agreement,
    AgreementStatus,
    HandoffAlert,
    HandoffKind,
    HandoffStep,
    Notification,
    StageKey,
    Team,
)
from campaigns.models import BriefingAcknowledgment
from config.dates import week_bounds, week_start_of
from leads.models import Lead, SlaBreach
from metrics.models import TerritoryMember
from tests.factories import (
    BriefingFactory,
    CampaignFactory,
    DisputeFactory,
    FieldIntelFactory,
    TerritoryFactory,
    UserFactory,
)
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def world(active_agreement, rep, sales_manager, marketer, marketing_manager, executive):
    territory = TerritoryFactory(code="north", name="North", manager=sales_manager)
    TerritoryMember.objects.create(territory=territory, user=rep)
    return {
        "agreement": active_agreement,
        "territory": territory,
        "rep": rep,
        "sales_manager": sales_manager,
        "marketer": marketer,
        "marketing_manager": marketing_manager,
        "executive": executive,
    }


def _told(event: str, subject_url: str) -> list[int]:
    return sorted(
        Notification.objects.filter(event=event, url__startswith=subject_url).values_list(
            "recipient_id", flat=True
        )
    )


def _alerts(kind: str, step: str) -> int:
    return HandoffAlert.objects.filter(kind=kind, step=step).count()


def _in_pack(kind: str, subject: str, moment) -> bool:
    start_at, end_at = week_bounds(moment)
    return any(
        h.kind == kind and h.subject == subject
        for h in handoffs_overdue_in_week(start_at=start_at, end_at=end_at)
    )


def test_intel_is_reminded_then_escalated_once_and_shows_overdue(world):
    agreement = world["agreement"]
    assert agreement.intel_ack_days == 5 and agreement.handoff_reminder_hours == 24
    created = timezone.now() - timedelta(days=6)
    intel = FieldIntelFactory(author=world["rep"], created_at=created)
    url = reverse("feedback:intel-detail", args=[intel.pk])
    due = created + timedelta(days=5)

    assert handoffs_alert(now=created + HOUR).reminders == 0
    assert handoffs_alert(now=due - DAY + MINUTE).reminders == 1
    assert handoffs_alert(now=due - DAY + 2 * MINUTE).reminders == 0
    # The team owns it: every marketer is reminded; nobody else.
    assert _told("handoff.due", url) == sorted(
        [world["marketer"].pk, world["marketing_manager"].pk]
    )

    first = handoffs_alert(now=due + MINUTE)
    second = handoffs_alert(now=due + 2 * MINUTE)
    assert (first.escalations, second.escalations) == (1, 0)
    assert _told("handoff.overdue", url) == [world["marketing_manager"].pk]
    assert _alerts(HandoffKind.INTEL_ACK, HandoffStep.ESCALATION) == 1

    lists = handoffs_for(user=world["marketer"])
    assert [(h.kind, h.subject) for h in lists.overdue] == [(HandoffKind.INTEL_ACK, str(intel.pk))]
    assert lists.overdue[0].due_at == due
    assert handoffs_for(user=world["rep"]).overdue == []
    assert _in_pack(HandoffKind.INTEL_ACK, str(intel.pk), due)


def test_intel_about_a_campaign_is_its_owner_s(world):
    campaign = CampaignFactory(owner=world["marketer"])
    intel = FieldIntelFactory(author=world["rep"], campaign=campaign)
    [handoff] = handoffs_for(user=world["marketer"], now=intel.created_at + 6 * DAY).overdue
    assert handoff.owner_ids == (world["marketer"].pk,)
    assert handoffs_for(user=world["marketing_manager"], now=intel.created_at + 6 * DAY).escalated


def test_acknowledged_intel_waits_on_nobody(world):
    intel = FieldIntelFactory(author=world["rep"], created_at=timezone.now() - 6 * DAY)
    intel.status, intel.acknowledged_at = "acknowledged", intel.created_at + DAY
    intel.save()
    assert handoffs_alert(now=timezone.now()).escalations == 0
    assert handoffs_for(user=world["marketer"]).overdue == []
    assert not _in_pack(HandoffKind.INTEL_ACK, str(intel.pk), intel.created_at + 5 * DAY)


def test_a_dispute_is_reminded_to_the_other_side_and_escalated_to_the_executive(world):
    lead = make_lead(email="contested@acme.pl", stage=StageKey.MQL, owner=world["rep"])
    created = timezone.now() - timedelta(days=6)
    dispute = DisputeFactory(
        lead=lead, raised_by=world["marketer"], raised_by_team=Team.MARKETING, created_at=created
    )
    url = reverse("feedback:dispute-detail", args=[dispute.pk])
    due = created + timedelta(days=world["agreement"].dispute_resolution_days)

    assert handoffs_alert(now=due - DAY + MINUTE).reminders == 1
    assert handoffs_alert(now=due - DAY + 2 * MINUTE).reminders == 0
    assert _told("handoff.due", url) == [world["rep"].pk]  # the lead's owner answers
    assert [handoffs_alert(now=due + MINUTE).escalations for _ in range(2)] == [1, 0]
    assert world["executive"].pk in _told("handoff.overdue", url)
    assert world["marketer"].pk not in _told("handoff.overdue", url)

    assert [h.subject for h in handoffs_for(user=world["rep"]).overdue] == [str(dispute.pk)]
    assert [h.subject for h in handoffs_for(user=world["executive"]).escalated] == [str(dispute.pk)]
    assert _in_pack(HandoffKind.DISPUTE, str(dispute.pk), due)


def test_a_briefing_is_announced_to_target_reps_and_escalated_when_late(world):
    other_rep = UserFactory(username="outsider", role=Role.SALES_REP)
    TerritoryMember.objects.create(territory=TerritoryFactory(code="south"), user=other_rep)
    owner = world["marketer"]
    campaign = CampaignFactory(owner=owner, starts_on=date(2099, 1, 1))
    campaign.target_territories.set([world["territory"]])
    published = timezone.now() - timedelta(days=4)
    briefing = BriefingFactory(campaign=campaign, published_at=published)
    url = reverse("campaigns:detail", args=[campaign.pk])
    due = published + timedelta(days=world["agreement"].briefing_ack_days)

    # Told at publication: the reminder is the announcement, to target reps only.
    assert handoffs_alert(now=published + MINUTE).reminders == 1
    assert handoffs_alert(now=published + 2 * MINUTE).reminders == 0
    assert _told("handoff.due", url) == [world["rep"].pk]
    assert [handoffs_alert(now=due + MINUTE).escalations for _ in range(2)] == [1, 0]
    assert _told("handoff.overdue", url) == sorted([world["sales_manager"].pk, owner.pk])

    [late] = handoffs_for(user=world["rep"]).overdue
    # The link opens the campaign at its readiness card, where the rep acknowledges.
    page, anchor = late.url.split("#")
    rep_client = Client()
    rep_client.force_login(world["rep"])
    assert f'id="{anchor}"' in rep_client.get(page).content.decode()
    assert (late.kind, late.subject) == (
        HandoffKind.BRIEFING_ACK,
        f"{briefing.pk}:{world['rep'].pk}",
    )
    assert [h.subject for h in handoffs_for(user=world["sales_manager"]).escalated] == [
        late.subject
    ]
    assert _in_pack(HandoffKind.BRIEFING_ACK, late.subject, due)

    BriefingAcknowledgment.objects.create(
        briefing=briefing, user=world["rep"], acknowledged_at=timezone.now()
    )
    assert handoffs_for(user=world["rep"]).overdue == []


def test_a_briefing_is_due_no_later_than_the_launch(world):
    campaign = CampaignFactory(starts_on=timezone.localdate() + timedelta(days=1))
    campaign.target_territories.set([world["territory"]])
    BriefingFactory(campaign=campaign, published_at=timezone.now())
    [handoff] = handoffs_for(user=world["rep"]).due
    launch = timezone.make_aware(
        timezone.datetime.combine(campaign.starts_on, timezone.datetime.min.time())
    )
    assert handoff.due_at == launch


def test_an_mql_is_reminded_before_its_sla_and_escalated_as_one_breach(world):
    lead = make_lead(email="waiting@acme.pl", stage=StageKey.MQL, owner=world["rep"])
    due = timezone.now() - HOUR
    Lead.objects.filter(pk=lead.pk).update(
        sla_due_at=due, assigned_at=due - 2 * DAY, territory=world["territory"]
    )
    url = reverse("leads:detail", args=[lead.pk])

    assert handoffs_alert(now=due - 3 * HOUR).reminders == 1
    assert handoffs_alert(now=due - 2 * HOUR).reminders == 0
    assert _told("handoff.due", url) == [world["rep"].pk]
    assert [handoffs_alert(now=due + MINUTE).escalations for _ in range(2)] == [1, 0]
    assert SlaBreach.objects.filter(lead=lead, due_at=due).count() == 1
    assert _told("sla.breached", url) == sorted([world["rep"].pk, world["sales_manager"].pk])

    assert [h.subject for h in handoffs_for(user=world["rep"]).overdue] == [str(lead.pk)]
    assert [h.subject for h in handoffs_for(user=world["sales_manager"]).escalated] == [
        str(lead.pk)
    ]
    assert _in_pack(HandoffKind.MQL_ACCEPTANCE, str(lead.pk), due)


def test_an_mql_reminder_comes_at_half_a_short_sla(world):
    lead = make_lead(email="short@acme.pl", stage=StageKey.MQL, owner=world["rep"])
    start = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(sla_due_at=start + 4 * HOUR, assigned_at=start)
    assert handoffs_alert(now=start + HOUR).reminders == 0
    assert handoffs_alert(now=start + 2 * HOUR + MINUTE).reminders == 1


def test_a_planned_follow_up_reminds_when_due_and_goes_to_the_manager_when_late(world):
    lead = make_lead(email="plan@acme.pl", stage=StageKey.SAL, owner=world["rep"])
    due = timezone.now() - 2 * DAY
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=due, territory=world["territory"])
    url = reverse("leads:detail", args=[lead.pk])
    grace = timedelta(hours=world["agreement"].follow_up_grace_hours)

    assert handoffs_alert(now=due - MINUTE).reminders == 0
    assert handoffs_alert(now=due + MINUTE).reminders == 1
    assert handoffs_alert(now=due + 2 * MINUTE).reminders == 0
    assert _told("follow_up.due", url) == [world["rep"].pk]
    assert [handoffs_alert(now=due + grace + MINUTE).escalations for _ in range(2)] == [1, 0]
    assert _told("handoff.overdue", url) == [world["sales_manager"].pk]

    assert [h.subject for h in handoffs_for(user=world["rep"]).overdue] == [str(lead.pk)]
    assert _in_pack(HandoffKind.FOLLOW_UP, str(lead.pk), due)

    # Planned again: a new hand-off, reminded again.
    later = timezone.now() + HOUR
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=later)
    assert handoffs_alert(now=later + MINUTE).reminders == 1


def test_the_due_time_follows_the_agreement(world):
    Agreement.objects.filter(status=AgreementStatus.ACTIVE).update(intel_ack_days=2)
    intel = FieldIntelFactory(author=world["rep"])
    [handoff] = handoffs_for(user=world["marketer"], now=intel.created_at + HOUR).due
    assert handoff.due_at == intel.created_at + 2 * DAY


def test_the_reader_s_page_and_the_pack_show_overdue_hand_offs(world):
    intel = FieldIntelFactory(author=world["rep"], created_at=timezone.now() - 6 * DAY)
    lead = make_lead(email="page@acme.pl", stage=StageKey.MQL, owner=world["rep"])
    Lead.objects.filter(pk=lead.pk).update(sla_due_at=timezone.now() - HOUR)
    for user, text in [
        (world["marketer"], intel.text[:40]),
        (world["rep"], "page@acme.pl"),
        (world["sales_manager"], "page@acme.pl"),
    ]:
        client = Client()
        client.force_login(user)
        page = client.get(reverse("handoffs:list"))
        assert page.status_code == 200
        body = page.content.decode()
        assert "overdue-flag" in body
        assert text in body or str(lead.pk) in body
    handoffs_alert()  # the MQL's breach is recorded: the pack reads it
    client = Client()
    client.force_login(world["executive"])
    monday = week_start_of()
    pack = client.get(reverse("metrics:pack") + f"?week={monday.isoformat()}")
    assert pack.status_code == 200
    section = pack.content.decode().split('id="handoffs-overdue"')[1].split("</section>")[0]
    assert reverse("leads:detail", args=[lead.pk]) in section
    # Due yesterday and still waiting: overdue this week whichever day the week began.
    assert reverse("feedback:intel-detail", args=[intel.pk]) in section


def test_managers_set_the_hand_off_times_in_a_draft(world):
    client = Client()
    client.force_login(world["sales_manager"])
    draft = agreement_draft_create(user=world["sales_manager"])
    assert draft.intel_ack_days == world["agreement"].intel_ack_days
    url = reverse("alignment:edit", args=[draft.pk])
    fields = {
        "intel_ack_days": "3",
        "briefing_ack_days": "2",
        "dispute_resolution_days": "4",
        "handoff_reminder_hours": "12",
        "follow_up_grace_hours": "8",
    }
    assert client.post(url, {"action": "handoffs", **fields}).status_code == 302
    draft.refresh_from_db()
    assert (draft.intel_ack_days, draft.follow_up_grace_hours) == (3, 8)
    bad = client.post(url, {"action": "handoffs", **fields, "intel_ack_days": "0"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    draft.refresh_from_db()
    assert draft.intel_ack_days == 3
    marketer = Client()
    marketer.force_login(world["marketer"])
    marketer.post(url, {"action": "handoffs", **fields, "intel_ack_days": "9"})
    draft.refresh_from_db()
    assert draft.intel_ack_days == 3


def test_the_reader_s_list_reads_a_fixed_number_of_queries(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            lists = handoffs_for(user=world["sales_manager"])
        assert lists.escalated or lists.overdue
        return len(captured)

    def add_briefings(count: int) -> None:
        for _n in range(count):
            campaign = CampaignFactory(starts_on=date(2099, 1, 1))
            campaign.target_territories.set([world["territory"]])
            BriefingFactory(campaign=campaign, published_at=timezone.now() - 5 * DAY)

    add_briefings(1)

    def add_leads(first: int, count: int) -> None:
        for n in range(first, first + count):
            lead = make_lead(email=f"n{n}@acme.pl", stage=StageKey.SAL, owner=world["rep"])
            Lead.objects.filter(pk=lead.pk).update(
                next_follow_up_at=timezone.now() - 2 * DAY, territory=world["territory"]
            )

    add_leads(0, 2)
    queries()  # the first read fills the role and permission caches
    few = queries()
    add_leads(2, 6)
    add_briefings(4)
    assert queries() == few


def test_the_intel_inbox_and_the_dispute_list_show_due_and_overdue(world):
    FieldIntelFactory(author=world["rep"], text="Late news.", created_at=timezone.now() - 6 * DAY)
    FieldIntelFactory(author=world["rep"], text="Fresh news.")
    lead = make_lead(email="listed@acme.pl", stage=StageKey.MQL, owner=world["rep"])
    DisputeFactory(lead=lead, raised_by=world["marketer"], created_at=timezone.now() - 6 * DAY)
    client = Client()
    client.force_login(world["marketer"])
    inbox = client.get(reverse("feedback:intel")).content.decode()
    rows = {
        ("late" if "Late news." in row else "fresh"): row
        for row in inbox.split('class="intel-row"')[1:]
    }
    assert "overdue-flag" in rows["late"] and "overdue-flag" not in rows["fresh"]
    assert "due " in rows["fresh"]
    disputes = client.get(reverse("feedback:disputes")).content.decode()
    assert "overdue-flag" in disputes.split('class="dispute-row"')[1]
