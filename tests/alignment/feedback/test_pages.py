"""Feedback pages: intel inbox and detail, lead panel, battlecards, disputes, notifications."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from alignment.accounts.roles import Role
from alignment.feedback.services import (
    battlecard_save,
    dispute_raise,
    intel_acknowledge,
    intel_submit,
)
from alignment.models import (
    Battlecard,
    Dispute,
    DisputeStatus,
    FieldIntel,
    IntelStatus,
    Notification,
)
from alignment.notifications.services import notification_preferences_get
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lead(rep, marketer):
    return LeadFactory(owner=rep, campaign=CampaignFactory(owner=marketer))


@pytest.fixture
def intel(rep, lead):
    return intel_submit(author=rep, kind="objection", text="No SSO, they said", lead=lead)


# --- intelligence -------------------------------------------------------------------------


def test_a_rep_sends_intel_from_the_lead_page_and_sees_it_there(rep, marketer, lead):
    client = logged_in(rep)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert 'id="intel-form"' in page and 'id="dispute-form"' in page
    response = client.post(
        "/feedback/intel/new/",
        {
            "lead": lead.pk,
            "kind": "competitor",
            "text": "Rivalix pitched",
            "competitor_name": "Rivalix",
            "next": f"/leads/{lead.pk}/",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    intel = FieldIntel.objects.get()
    assert intel.author == rep and intel.lead == lead and intel.competitor.name == "Rivalix"
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Rivalix pitched" in page
    assert Notification.objects.filter(recipient=marketer, event="intel.submitted").count() == 1


def test_the_panel_form_swaps_in_place_with_htmx_and_shows_errors(rep, lead):
    client = logged_in(rep)
    response = client.post(
        "/feedback/intel/new/",
        {"lead": lead.pk, "kind": "pricing", "text": " "},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="feedback-panel"' in body
    assert "This field is required" in body and "<html" not in body
    response = client.post(
        "/feedback/intel/new/",
        {"lead": lead.pk, "kind": "pricing", "text": "Per-team price"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "Sent to marketing" in body and "Per-team price" in body
    assert FieldIntel.objects.count() == 1


def test_marketers_get_no_submit_form_and_a_post_is_refused(marketer, lead):
    client = logged_in(marketer)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert 'id="intel-form"' not in page and 'id="dispute-form"' in page
    response = client.post("/feedback/intel/new/", {"lead": lead.pk, "kind": "market", "text": "x"})
    assert response.status_code == 403
    assert not FieldIntel.objects.exists()


def test_the_inbox_filters_and_shows_waiting_items_first(rep, marketer, lead, intel):
    acknowledged = intel_submit(author=rep, kind="market", text="Market is shifting", lead=lead)
    intel_acknowledge(intel=acknowledged, user=marketer)
    client = logged_in(marketer)
    body = client.get("/feedback/intel/").content.decode()
    assert "Intel inbox" in body
    assert body.index("No SSO") < body.index("Market is shifting")
    body = client.get("/feedback/intel/", {"status": "new"}).content.decode()
    assert "No SSO" in body and "Market is shifting" not in body
    body = client.get("/feedback/intel/", {"kind": "market", "status": ""}).content.decode()
    assert "No SSO" not in body and "Market is shifting" in body
    body = client.get("/feedback/intel/", {"created_after": "soon"}).content.decode()
    assert "Enter a valid date" in body


def test_the_marketer_acknowledges_with_a_response_and_the_rep_reads_it(rep, marketer, intel):
    client = logged_in(marketer)
    page = client.get(f"/feedback/intel/{intel.pk}/").content.decode()
    assert 'id="acknowledge-form"' in page and 'id="action-form"' in page
    response = client.post(
        f"/feedback/intel/{intel.pk}/respond/",
        {"status": "acknowledged", "response": "Adding an SSO answer to the battlecard"},
    )
    assert response.status_code == 302
    intel.refresh_from_db()
    assert intel.status == IntelStatus.ACKNOWLEDGED and intel.acknowledged_at is not None
    # A second click on the same button changes nothing and tells the rep nothing new.
    response = client.post(
        f"/feedback/intel/{intel.pk}/respond/", {"status": "acknowledged", "response": "again"}
    )
    assert "already acknowledged" in response.content.decode()
    assert Notification.objects.filter(recipient=rep, event="intel.responded").count() == 1
    page = logged_in(rep).get(f"/feedback/intel/{intel.pk}/").content.decode()
    assert "Adding an SSO answer to the battlecard" in page
    assert 'id="acknowledge-form"' not in page


def test_actioning_without_a_response_shows_a_form_error(marketer, intel):
    response = logged_in(marketer).post(
        f"/feedback/intel/{intel.pk}/respond/", {"status": "actioned", "response": ""}
    )
    assert response.status_code == 200
    assert "Say what marketing did about it." in response.content.decode()
    intel.refresh_from_db()
    assert intel.status == IntelStatus.NEW


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.EXECUTIVE])
def test_only_marketing_may_respond_to_intel(role, intel):
    client = logged_in(UserFactory(role=role))
    assert (
        'id="acknowledge-form"' not in client.get(f"/feedback/intel/{intel.pk}/").content.decode()
    )
    response = client.post(
        f"/feedback/intel/{intel.pk}/respond/", {"status": "acknowledged", "response": "x"}
    )
    assert response.status_code == 403
    intel.refresh_from_db()
    assert intel.status == IntelStatus.NEW


def test_the_intel_list_query_count_does_not_grow_with_rows(rep, marketer, lead):
    client = logged_in(marketer)
    intel_submit(author=rep, kind="market", text="one", lead=lead)
    client.get("/feedback/intel/")
    with CaptureQueriesContext(connection) as few:
        client.get("/feedback/intel/")
    for i in range(8):
        other = LeadFactory(owner=UserFactory(role=Role.SALES_REP))
        intel_submit(
            author=other.owner,
            kind="pricing",
            text=f"more {i}",
            lead=other,
            competitor_name=f"C{i}",
        )
    client.get("/feedback/intel/")  # new users: the reader's cached preferences are read again
    with CaptureQueriesContext(connection) as many:
        client.get("/feedback/intel/")
    assert len(many) == len(few)


# --- battlecards --------------------------------------------------------------------------


def test_the_lead_page_shows_the_card_of_a_competitor_recorded_there(rep, marketer, lead):
    battlecard_save(
        user=marketer,
        competitor_name="Rivalix",
        differentiators="Signed funnel",
        objections=[("Cheaper", "Count the blame hours")],
    )
    battlecard_save(user=marketer, competitor_name="Unrelated")
    client = logged_in(rep)
    assert "Battlecard: Rivalix" not in client.get(f"/leads/{lead.pk}/").content.decode()
    intel_submit(author=rep, kind="competitor", text="x", lead=lead, competitor_name="rivalix")
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Battlecard: Rivalix" in page and "Count the blame hours" in page
    assert "Battlecard: Unrelated" not in page


def test_marketing_creates_and_edits_a_battlecard_with_objections(marketer, rep, lead):
    client = logged_in(marketer)
    assert client.get("/feedback/battlecards/new/").status_code == 200
    linked = intel_submit(author=rep, kind="competitor", text="Heard of PipeLane", lead=lead)
    data = {
        "competitor_name": "PipeLane",
        "website": "https://pipelane.example",
        "differentiators": "SLA clock",
        "table_stakes": "Email",
        "link_intel": [str(linked.pk)],
        "objections-TOTAL_FORMS": "2",
        "objections-INITIAL_FORMS": "0",
        "objections-0-objection": "They score too",
        "objections-0-answer": "Ours is agreed by both teams",
        "objections-1-objection": "",
        "objections-1-answer": "",
    }
    response = client.post("/feedback/battlecards/new/", data)
    card = Battlecard.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/feedback/battlecards/{card.pk}/"
    )
    assert [o.answer for o in card.objections.all()] == ["Ours is agreed by both teams"]
    linked.refresh_from_db()
    assert linked.competitor == card.competitor
    edit = client.get(f"/feedback/battlecards/{card.pk}/edit/").content.decode()
    assert "They score too" in edit
    data.update({"objections-0-answer": "", "link_intel": []})
    response = client.post(f"/feedback/battlecards/{card.pk}/edit/", data)
    assert response.status_code == 200
    assert "Every objection needs its answer" in response.content.decode()
    page = logged_in(rep).get(f"/feedback/battlecards/{card.pk}/").content.decode()
    assert "Ours is agreed by both teams" in page and "Heard of PipeLane" in page


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.EXECUTIVE])
def test_everyone_reads_battlecards_but_only_marketing_edits(role, marketer):
    card = battlecard_save(user=marketer, competitor_name="Rivalix", summary="Cheap")
    client = logged_in(UserFactory(role=role))
    assert "Cheap" in client.get(f"/feedback/battlecards/{card.pk}/").content.decode()
    response = client.get(f"/feedback/battlecards/{card.pk}/edit/")
    assert (
        response.status_code == 302 and response["Location"] == f"/feedback/battlecards/{card.pk}/"
    )
    response = client.post(f"/feedback/battlecards/{card.pk}/edit/", {"competitor_name": "X"})
    assert response.status_code == 403
    assert client.post("/feedback/battlecards/new/", {"competitor_name": "X"}).status_code == 403
    assert Battlecard.objects.get().summary == "Cheap"


def test_the_battlecard_list_query_count_does_not_grow(marketer, rep):
    battlecard_save(user=marketer, competitor_name="A", objections=[("o", "a")])
    client = logged_in(rep)
    client.get("/feedback/battlecards/")
    with CaptureQueriesContext(connection) as few:
        client.get("/feedback/battlecards/")
    for i in range(6):
        battlecard_save(user=marketer, competitor_name=f"B{i}", objections=[("o", "a"), ("p", "b")])
    with CaptureQueriesContext(connection) as many:
        client.get("/feedback/battlecards/")
    assert len(many) == len(few)


# --- disputes -----------------------------------------------------------------------------


def test_a_marketer_raises_a_dispute_from_the_lead_page(marketer, executive, lead):
    response = logged_in(marketer).post(
        "/feedback/disputes/new/",
        {
            "lead": lead.pk,
            "kind": "rejection",
            "reason": "It met the criteria",
            "next": f"/leads/{lead.pk}/",
        },
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.raised_by_team == "marketing"
    assert Notification.objects.filter(recipient=executive, event="dispute.raised").count() == 1


def test_an_executive_cannot_raise_a_dispute(executive, lead):
    response = logged_in(executive).post(
        "/feedback/disputes/new/", {"lead": lead.pk, "kind": "rejection", "reason": "x"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "role", [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETER, Role.MARKETING_MANAGER]
)
def test_only_executives_see_the_resolve_form_and_others_get_403_on_post(role, marketer, lead):
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    client = logged_in(UserFactory(role=role))
    page = client.get(f"/feedback/disputes/{dispute.pk}/").content.decode()
    assert "Good fit" in page and 'id="resolve-form"' not in page
    response = client.post(
        f"/feedback/disputes/{dispute.pk}/resolve/",
        {"decision": "for_sales", "resolution_note": "mine"},
    )
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN and dispute.decision == ""


def test_the_executive_resolves_and_raiser_and_other_side_are_notified_once_each(
    rep, marketer, executive, lead
):
    dispute = dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")
    client = logged_in(executive)
    page = client.get(f"/feedback/disputes/{dispute.pk}/").content.decode()
    assert 'id="resolve-form"' in page
    response = client.post(
        f"/feedback/disputes/{dispute.pk}/resolve/", {"decision": "", "resolution_note": ""}
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    for _ in range(2):  # a double submit
        response = client.post(
            f"/feedback/disputes/{dispute.pk}/resolve/",
            {
                "decision": "for_marketing",
                "resolution_note": "It met the agreed criteria",
                "confirmed": "yes",
            },
        )
        assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RESOLVED and dispute.resolved_at is not None
    assert dispute.resolved_by == executive
    for user in (marketer, rep):
        assert Notification.objects.filter(recipient=user, event="dispute.resolved").count() == 1
    page = logged_in(rep).get(f"/feedback/disputes/{dispute.pk}/").content.decode()
    assert "It met the agreed criteria" in page and "In marketing" in page


def test_the_dispute_list_query_count_does_not_grow(marketer, executive):
    client = logged_in(executive)
    dispute_raise(user=marketer, lead=LeadFactory(), kind="lead_quality", reason="x")
    client.get("/feedback/disputes/")
    with CaptureQueriesContext(connection) as few:
        client.get("/feedback/disputes/")
    for _ in range(6):
        dispute_raise(user=marketer, lead=LeadFactory(), kind="lead_quality", reason="y")
    with CaptureQueriesContext(connection) as many:
        client.get("/feedback/disputes/")
    assert len(many) == len(few)


# --- notifications ------------------------------------------------------------------------


def test_the_header_shows_the_unread_count_and_htmx_marks_one_read(rep, marketer, intel):
    intel_acknowledge(intel=intel, user=marketer, response="On it")
    client = logged_in(rep)
    page = client.get("/").content.decode()
    assert 'id="unread-badge"' in page and "1 unread notification" in page
    note = Notification.objects.get(recipient=rep)
    body = client.get("/feedback/notifications/").content.decode()
    assert "Marketing acknowledged your intelligence" in body and "On it" in body
    response = client.post(f"/feedback/notifications/{note.pk}/read/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'hx-swap-oob="true"' in body and "0 unread notifications" in body
    assert "Mark as read" not in body
    note.refresh_from_db()
    assert note.read_at is not None
    other = Notification.objects.create(recipient=marketer, event="x", dedupe_key="1", title="t")
    assert client.post(f"/feedback/notifications/{other.pk}/read/").status_code == 404


def test_the_unread_badge_costs_one_query(rep, marketer, intel):
    client = logged_in(rep)
    client.get("/feedback/battlecards/")
    with CaptureQueriesContext(connection) as without:
        client.get("/feedback/battlecards/")
    intel_acknowledge(intel=intel, user=marketer)
    with CaptureQueriesContext(connection) as with_one:
        client.get("/feedback/battlecards/")
    counts = [q["sql"] for q in with_one if "alignment_notification" in q["sql"]]
    assert len(counts) == 1 and len(with_one) == len(without)


def test_mark_all_read_and_the_list_query_count(rep, marketer, lead):
    client = logged_in(rep)

    def answered(text: str) -> None:
        item = intel_submit(author=rep, kind="market", text=text, lead=lead)
        intel_acknowledge(intel=item, user=marketer, response=f"re: {text}")

    answered("first")
    client.get("/feedback/notifications/")
    with CaptureQueriesContext(connection) as few:
        client.get("/feedback/notifications/")
    for i in range(6):
        answered(f"more {i}")
    with CaptureQueriesContext(connection) as many:
        body = client.get("/feedback/notifications/").content.decode()
    assert body.count("Mark as read") == 7
    assert len(many) == len(few)
    client.post("/feedback/notifications/read-all/")
    assert not Notification.objects.filter(recipient=rep, read_at__isnull=True).exists()


def test_each_user_chooses_on_a_page_which_events_email_them(rep):
    client = logged_in(rep)
    page = client.get("/feedback/notifications/preferences/").content.decode()
    assert "Marketing responded to intelligence I sent" in page
    response = client.post(
        "/feedback/notifications/preferences/",
        {"email_events": ["intel.responded", "dispute.resolved"]},
    )
    assert response.status_code == 302
    assert notification_preferences_get(user=rep) == ["dispute.resolved", "intel.responded"]
    response = client.post("/feedback/notifications/preferences/", {"email_events": ["bogus"]})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert notification_preferences_get(user=rep) == ["dispute.resolved", "intel.responded"]
