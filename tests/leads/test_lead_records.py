"""Create, edit and merge leads by hand: the new-lead page with its duplicate warning, the
edit page recording each change on the timeline, and a manager's merge that keeps every
related row of both leads and forwards the old id (page and API)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alignment.models import Dispute, FieldIntel, StageKey
from campaigns.models import Touch
from leads.imports.importer import lead_import
from leads.integrity import integrity_violations
from leads.models import (
    Correction,
    Deal,
    FollowUp,
    Lead,
    LeadEdit,
    LeadMerge,
    SlaBreach,
    StageEvent,
)
from leads.services import lead_transition, lead_upsert
from leads.services.follow_ups import follow_up_log
from leads.services.merge import lead_merge
from tests.factories import (
    CampaignFactory,
    CorrectionFactory,
    DisputeFactory,
    FieldIntelFactory,
    SlaBreachFactory,
    TouchFactory,
)
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

RELATED = [StageEvent, FollowUp, SlaBreach, Correction, Deal, Touch, FieldIntel, Dispute, LeadEdit]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _new_lead(**extra) -> dict:
    return {
        "first_name": "Ana",
        "last_name": "Lopez",
        "email": "ana@lopez-logistics.pl",
        "phone": "+48 600 100 200",
        "company": "Lopez Logistics",
        "title": "Fleet manager",
        "country": "pl",
        "source": "event",
        **extra,
    }


# --- the new-lead page -----------------------------------------------------------------


def test_a_rep_creates_a_lead_met_at_an_event_and_owns_it(team):
    rep, _other = team
    campaign = CampaignFactory(name="Trade fair Poznań")
    client = _client(rep)
    assert client.get(reverse("leads:create")).status_code == 200
    response = client.post(reverse("leads:create"), _new_lead(campaign=campaign.pk, claim="on"))
    lead = Lead.objects.get(email="ana@lopez-logistics.pl")
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert (lead.owner, lead.country, lead.campaign, lead.stage) == (
        rep,
        "PL",
        campaign,
        StageKey.INQUIRY,
    )
    assert lead.created_by == rep and lead.assigned_at is not None
    assert list(lead.stage_events.values_list("to_stage", flat=True)) == [StageKey.INQUIRY]


def test_the_same_email_is_refused_with_a_link_to_the_lead_that_has_it(team):
    rep, _other = team
    existing = make_lead(email="Ana@Lopez-Logistics.pl", first_name="Ana")
    response = _client(rep).post(reverse("leads:create"), _new_lead())
    assert response.status_code == 200
    assert "already has this e-mail" in response.content.decode()
    assert reverse("leads:detail", args=[existing.pk]) in response.content.decode()
    assert Lead.objects.count() == 1


def test_a_namesake_at_the_same_company_is_warned_about_then_created_when_confirmed(team):
    rep, _other = team
    existing = make_lead(email="a.lopez@lopez-logistics.pl", first_name="ana", last_name="LOPEZ")
    Lead.objects.filter(pk=existing.pk).update(company="Lopez Logistics")
    client = _client(rep)
    warned = client.post(reverse("leads:create"), _new_lead())
    page = warned.content.decode()
    assert warned.status_code == 200 and Lead.objects.count() == 1
    assert "Already in Accord?" in page and "same name at the same company" in page
    assert "create the lead anyway" in page
    created = client.post(reverse("leads:create"), _new_lead(create_anyway="on"))
    assert created.status_code == 302 and Lead.objects.count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not an email"), ("country", "Poland"), ("company_size", "-3"), ("email", "")],
)
def test_bad_input_on_the_new_lead_page_is_a_form_error(team, field, value):
    rep, _other = team
    response = _client(rep).post(reverse("leads:create"), _new_lead(**{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Lead.objects.exists()


def test_an_executive_may_not_create_leads_and_is_told_why(executive):
    client = _client(executive)
    response = client.post(reverse("leads:create"), _new_lead())
    assert response.status_code == 302 and not Lead.objects.exists()
    assert "may not create leads" in client.get(response["Location"]).content.decode()


# --- the edit page ----------------------------------------------------------------------


def test_the_owner_corrects_a_phone_and_the_timeline_shows_field_old_new_and_who(team):
    rep, _other = team
    rep.first_name, rep.last_name = "Rina", "Wijaya"
    rep.save()
    lead = make_lead(email="old@acme.pl", stage=StageKey.SAL, owner=rep, phone="+48 1")
    client = _client(rep)
    data = {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": "new@acme.pl",
        "phone": "+48 600 700 800",
        "title": lead.title,
        "company": lead.company,
        "country": "PL",
        "industry": "",
        "company_size": "200",
    }
    response = client.post(reverse("leads:edit", args=[lead.pk]), data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.email, lead.phone) == ("new@acme.pl", "+48 600 700 800")
    edit = LeadEdit.objects.get(lead=lead)
    assert edit.changes == {
        "email": ["old@acme.pl", "new@acme.pl"],
        "phone": ["+48 1", "+48 600 700 800"],
    }
    assert (edit.actor, edit.source) == (rep, LeadEdit.Source.PAGE)
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Details edited" in page
    assert "+48 1 → +48 600 700 800" in page and "Rina Wijaya" in page
    # Saving again without a change records nothing.
    client.post(reverse("leads:edit", args=[lead.pk]), {**data})
    assert LeadEdit.objects.filter(lead=lead).count() == 1


def test_only_the_owner_managers_and_marketing_edit(team, marketer, executive):
    rep, other = team
    lead = make_lead(email="x@acme.pl", stage=StageKey.SAL, owner=rep)
    back = reverse("leads:detail", args=[lead.pk])
    for outsider in (other, executive):
        refused = _client(outsider).post(
            reverse("leads:edit", args=[lead.pk]), {"email": "x@y.pl", "first_name": "Z"}
        )
        assert (refused.status_code, refused["Location"]) == (302, back)
    lead.refresh_from_db()
    assert lead.email == "x@acme.pl" and not LeadEdit.objects.exists()
    assert _client(marketer).get(reverse("leads:edit", args=[lead.pk])).status_code == 200


def test_an_edit_to_another_leads_email_is_a_form_error_and_changes_nothing(team):
    rep, _other = team
    make_lead(email="taken@acme.pl")
    lead = make_lead(email="mine@acme.pl", stage=StageKey.SAL, owner=rep)
    response = _client(rep).post(
        reverse("leads:edit", args=[lead.pk]),
        {"email": "TAKEN@acme.pl", "first_name": "A", "last_name": "B", "country": "PL"},
    )
    assert response.status_code == 200 and response.context["form"].errors["email"]
    lead.refresh_from_db()
    assert lead.email == "mine@acme.pl" and lead.first_name != "A"
    assert not LeadEdit.objects.exists()


def test_the_api_and_the_importer_record_their_edits_too(team, api_client, marketer):
    lead = make_lead(email="api@acme.pl")
    response = api_client(marketer).patch(
        reverse("api-lead", args=[lead.pk]), {"phone": "+48 22 111"}, format="json"
    )
    assert response.status_code == 200
    lead_upsert(data={"email": "api@acme.pl", "title": "CEO"}, actor=marketer, source="import")
    sources = sorted(LeadEdit.objects.filter(lead=lead).values_list("source", flat=True))
    assert sources == [LeadEdit.Source.API, LeadEdit.Source.IMPORT]


# --- merging ----------------------------------------------------------------------------


def _counts(*leads: Lead) -> dict[str, int]:
    ids = [lead.pk for lead in leads]
    return {model.__name__: model.objects.filter(lead_id__in=ids).count() for model in RELATED}


def _history(lead: Lead, rep) -> None:
    """A lead with a row of every related kind."""
    follow_up_log(lead=lead, author=rep, kind="call", outcome="connected", notes="Called")
    TouchFactory(lead=lead)
    FieldIntelFactory(lead=lead, author=rep)
    DisputeFactory(lead=lead, raised_by=rep)
    CorrectionFactory(lead=lead, actor=rep)
    SlaBreachFactory(lead=lead, owner=rep, due_at=timezone.now() - timedelta(hours=lead.pk))
    LeadEdit.objects.create(lead=lead, changes={"title": ["", "CTO"]}, actor=rep, source="page")


@pytest.fixture
def pair(team):
    rep, _other = team
    survivor = make_lead(email="ana@lopez.pl", stage=StageKey.OPPORTUNITY, owner=rep, phone="")
    duplicate = make_lead(
        email="a.lopez@gmail.com",
        stage=StageKey.SAL,
        owner=rep,
        phone="+48 600 100 200",
        at=timezone.now() - timedelta(days=3),
    )
    for lead in (survivor, duplicate):
        _history(lead, rep)
    return survivor, duplicate


def test_a_merge_keeps_every_related_row_of_both_leads(pair, sales_manager):
    survivor, duplicate = pair
    before = _counts(survivor, duplicate)
    theirs = _counts(duplicate)
    assert all(before.values()) and sum(theirs.values()) >= 8, (before, theirs)
    result = lead_merge(
        survivor=survivor, duplicate=duplicate, actor=sales_manager, reason="Same person"
    )
    assert not Lead.objects.filter(pk=duplicate.pk).exists()
    after = _counts(survivor)
    # Every row moved; the merge adds one edit (the survivor's blank phone filled in).
    assert after == {**before, "LeadEdit": before["LeadEdit"] + 1}
    survivor.refresh_from_db()
    assert survivor.phone == "+48 600 100 200"
    assert survivor.stage == StageKey.OPPORTUNITY  # it moved last
    merge = LeadMerge.objects.get()
    assert (merge.survivor, merge.merged_lead_id, merge.merged_email) == (
        survivor,
        duplicate.pk,
        "a.lopez@gmail.com",
    )
    assert merge.snapshot["email"] == "a.lopez@gmail.com" and merge.actor == sales_manager
    assert sum(merge.moved.values()) == sum(theirs.values())
    assert result.survivor.pk == survivor.pk
    assert list(integrity_violations()) == []


def test_the_old_id_redirects_on_the_page_and_in_the_api(pair, sales_manager, api_client):
    survivor, duplicate = pair
    lead_merge(survivor=survivor, duplicate=duplicate, actor=sales_manager, reason="Same")
    page = _client(sales_manager).get(reverse("leads:detail", args=[duplicate.pk]))
    assert page.status_code == 301
    assert page["Location"] == reverse("leads:detail", args=[survivor.pk])
    api = api_client(sales_manager).get(reverse("api-lead", args=[duplicate.pk]))
    assert api.status_code == 301
    assert api["Location"].endswith(reverse("api-lead", args=[survivor.pk]))
    assert api.json()["id"] == survivor.pk
    patch = api_client(sales_manager).patch(
        reverse("api-lead", args=[duplicate.pk]), {"title": "x"}, format="json"
    )
    assert patch.status_code == 308
    never = api_client(sales_manager).get(reverse("api-lead", args=[10**30]))
    assert never.status_code == 404


def test_the_merged_email_still_names_the_survivor_for_an_upsert(pair, sales_manager):
    survivor, duplicate = pair
    lead_merge(survivor=survivor, duplicate=duplicate, actor=sales_manager, reason="Same")
    lead, outcome = lead_upsert(
        data={"email": "A.Lopez@gmail.com", "industry": "Logistics"}, actor=sales_manager
    )
    assert (lead.pk, outcome) == (survivor.pk, "updated")
    assert Lead.objects.count() == 1
    survivor.refresh_from_db()
    assert (survivor.email, survivor.industry) == ("ana@lopez.pl", "Logistics")


def test_an_import_naming_the_merged_email_updates_the_survivor(pair, sales_manager, marketer):
    """The importer's batch path reads keys the same way as an upsert (leads_by_keys):
    the duplicate is not created again, and the survivor keeps its own e-mail."""
    survivor, duplicate = pair
    lead_merge(survivor=survivor, duplicate=duplicate, actor=sales_manager, reason="Same")
    result = lead_import(
        rows=[{"email": "a.lopez@GMAIL.com", "industry": "Retail", "company": "Acme"}],
        user=marketer,
    )
    assert [r.status for r in result.results] == ["updated"]
    assert Lead.objects.count() == 1
    survivor.refresh_from_db()
    assert (survivor.email, survivor.industry) == ("ana@lopez.pl", "Retail")


def test_the_api_merges_for_a_manager_and_refuses_a_rep(pair, sales_manager, api_client):
    survivor, duplicate = pair
    url = reverse("api-lead-merge", args=[survivor.pk])
    body = {"duplicate": duplicate.pk, "reason": "Same person"}
    assert api_client(survivor.owner).post(url, body, format="json").status_code == 403
    bad = api_client(sales_manager).post(url, {"duplicate": 10**30}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"duplicate", "reason"}
    itself = api_client(sales_manager).post(
        url, {"duplicate": survivor.pk, "reason": "x"}, format="json"
    )
    assert itself.status_code == 400 and "duplicate" in itself.json()
    response = api_client(sales_manager).post(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["merged_lead"] == duplicate.pk
    assert response.json()["lead"]["id"] == survivor.pk
    assert not Lead.objects.filter(pk=duplicate.pk).exists()


def test_a_merge_that_would_break_the_funnel_is_refused_and_changes_nothing(team, sales_manager):
    rep, _other = team
    # The duplicate has an open deal; the survivor was rejected after it: merged, the
    # lead would be recycled with an open deal.
    duplicate = make_lead(
        email="dup@acme.pl",
        stage=StageKey.OPPORTUNITY,
        owner=rep,
        at=timezone.now() - timedelta(days=2),
    )
    survivor = make_lead(email="keep@acme.pl", stage=StageKey.MQL, owner=rep)
    lead_transition(lead=survivor, to_stage=StageKey.RECYCLED, actor=rep, reason_code="no-budget")
    before = _counts(survivor, duplicate)
    with pytest.raises(Exception) as refused:
        lead_merge(survivor=survivor, duplicate=duplicate, actor=sales_manager, reason="Same")
    assert "open deal" in str(refused.value)
    assert Lead.objects.filter(pk=duplicate.pk).exists()
    assert _counts(survivor, duplicate) == before
    assert not LeadMerge.objects.exists()


def test_the_merge_page_asks_to_confirm_then_merges_once(pair, sales_manager, rep):
    survivor, duplicate = pair
    url = reverse("leads:merge", args=[survivor.pk])
    client = _client(sales_manager)
    page = client.get(url).content.decode()
    assert "Likely duplicates" not in page or str(duplicate.pk) in page
    asked = client.post(url, {"duplicate": duplicate.pk, "reason": "Same person"})
    text = asked.content.decode()
    assert asked.status_code == 200 and "stops existing as a record of its own" in text
    assert "stage events" in text  # what moves, counted
    assert Lead.objects.filter(pk=duplicate.pk).exists()
    done = client.post(url, {"duplicate": duplicate.pk, "reason": "Same", "confirmed": "yes"})
    assert done.status_code == 302 and LeadMerge.objects.count() == 1
    again = client.post(url, {"duplicate": duplicate.pk, "reason": "Same", "confirmed": "yes"})
    assert again.status_code == 200 and LeadMerge.objects.count() == 1
    assert "There is no lead with this number." in again.content.decode()
    refused = _client(rep).post(url, {"duplicate": 1, "reason": "x", "confirmed": "yes"})
    assert refused.status_code == 302 and LeadMerge.objects.count() == 1
