"""The admin keeps the records behind the metrics append-only, even for a superuser: stage
events, SLA breaches and corrections are read-only; a follow-up's credit and a closed deal's
figures cannot be edited, nothing of it deleted, and a lead someone acted on stays. A
closed deal is corrected through its "Correct…" page, which records who, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from alignment.accounts.roles import Role
from alignment.models import StageKey
from leads.models import (
    Correction,
    Deal,
    DealOutcome,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    SlaBreach,
    StageEvent,
)
from leads.services.corrections import deal_correct
from leads.services.deals import deal_close, deal_create
from tests.factories import UserFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


@dataclass
class History:
    lead: Lead
    follow_up: FollowUp
    breach: SlaBreach
    deal: Deal
    correction: Correction


@pytest.fixture
def history(territory, team, sales_manager) -> History:
    """A lead worked to a won deal: stage events, a credited contact, a breach, a correction."""
    rep = team[0]
    now = timezone.now()
    lead = make_lead(
        email="kept@acme.pl", stage=StageKey.SQL, owner=rep, at=now - timedelta(days=9)
    )
    follow_up = FollowUp.objects.create(
        lead=lead,
        author=rep,
        kind=FollowUpKind.CALL,
        outcome=FollowUpOutcome.CONNECTED,
        occurred_at=now - timedelta(days=8),
        within_sla=True,
        is_contact=True,
    )
    breach = SlaBreach.objects.create(
        lead=lead,
        stage=StageKey.SAL,
        due_at=now - timedelta(days=7),
        detected_at=now - timedelta(days=7),
        owner=rep,
    )
    deal = deal_create(lead=lead, actor=rep, amount="12000", name="Rollout")
    deal_close(deal=deal, actor=rep, outcome=DealOutcome.WON, closed_at=now - timedelta(days=2))
    correction = deal_correct(deal=deal, actor=sales_manager, reason="Typo.", amount="11000")
    deal.refresh_from_db()
    lead.refresh_from_db()
    return History(lead, follow_up, breach, deal, correction)


def _post_data(response) -> dict[str, str]:
    """What the change page's form (and its inlines) would post back unchanged."""
    data: dict[str, str] = {}
    context = response.context
    found = [context["adminform"].form]
    for inline in context.get("inline_admin_formsets", []):
        found += [inline.formset.management_form, *inline.formset.forms]
    for form in found:
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(field.widget, forms.MultiWidget):
                parts = field.widget.decompress(value) if value else [None, None]
                for i, part in enumerate(parts):
                    data[f"{bound.html_name}_{i}"] = "" if part is None else str(part)
            elif isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[bound.html_name] = "on"
            else:
                data[bound.html_name] = "" if value is None else str(value)
    return data


def _url(obj, view: str) -> str:
    return reverse(f"admin:leads_{obj._meta.model_name}_{view}", args=[obj.pk])


def _bulk_delete(client, model, pks) -> object:
    return client.post(
        reverse(f"admin:leads_{model._meta.model_name}_changelist"),
        {"action": "delete_selected", "_selected_action": [str(pk) for pk in pks], "post": "yes"},
    )


@pytest.mark.parametrize("record", ["stage_event", "breach", "correction"])
def test_stage_events_breaches_and_corrections_are_read_only_even_for_a_superuser(
    admin_client, history, record
):
    obj = {
        "stage_event": history.lead.stage_events.order_by("pk").last(),
        "breach": history.breach,
        "correction": history.correction,
    }[record]
    model = type(obj)
    before = model_to_dict(obj)
    page = admin_client.get(_url(obj, "change"))
    assert page.status_code == 200  # shown…
    assert page.context["adminform"].form.fields == {}  # …with no field to edit
    assert 'name="_save"' not in page.content.decode()
    forged = {"lead": history.lead.pk, "stage": "won", "to_stage": "won", "reason": "edited"}
    assert admin_client.post(_url(obj, "change"), forged).status_code == 403
    assert admin_client.post(_url(obj, "delete"), {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse(f"admin:leads_{model._meta.model_name}_add")).status_code == 403
    _bulk_delete(admin_client, model, [obj.pk])
    assert model_to_dict(model.objects.get(pk=obj.pk)) == before


def test_a_follow_ups_credit_contact_and_time_cannot_be_edited_nor_the_follow_up_deleted(
    admin_client, history, team
):
    follow_up = history.follow_up
    data = _post_data(admin_client.get(_url(follow_up, "change")))
    data.update(
        {
            "notes": "Spoke to the CFO.",
            "within_sla": "",
            "is_contact": "",
            "occurred_at_0": "2020-01-01",
            "occurred_at_1": "10:00:00",
            "kind": FollowUpKind.NOTE,
            "outcome": FollowUpOutcome.NO_ANSWER,
            "author": str(team[1].pk),
        }
    )
    assert admin_client.post(_url(follow_up, "change"), data).status_code == 302
    after = FollowUp.objects.get(pk=follow_up.pk)
    assert after.notes == "Spoke to the CFO."  # the note stays editable
    assert (after.within_sla, after.is_contact, after.occurred_at) == (
        True,
        True,
        follow_up.occurred_at,
    )
    assert (after.kind, after.outcome, after.author_id) == ("call", "connected", team[0].pk)
    assert admin_client.post(_url(follow_up, "delete"), {"post": "yes"}).status_code == 403
    _bulk_delete(admin_client, FollowUp, [follow_up.pk])
    assert FollowUp.objects.filter(pk=follow_up.pk).exists()
    assert admin_client.get(reverse("admin:leads_followup_add")).status_code == 403


def test_a_closed_deals_outcome_figures_and_rep_cannot_be_edited_nor_the_deal_deleted(
    admin_client, history, team
):
    deal = history.deal
    before = model_to_dict(deal)
    data = _post_data(admin_client.get(_url(deal, "change")))
    data.update(
        {
            "name": "Rollout (phase 1)",
            "amount": "1",
            "gross_margin": "1",
            "outcome": DealOutcome.LOST,
            "lost_reason": "price",
            "closed_at_0": "2020-01-01",
            "closed_at_1": "10:00:00",
            "owner": str(team[1].pk),
            "created_at_0": "2020-01-01",
            "created_at_1": "10:00:00",
        }
    )
    assert admin_client.post(_url(deal, "change"), data).status_code == 302
    after = model_to_dict(Deal.objects.get(pk=deal.pk))
    assert after.pop("name") == "Rollout (phase 1)"
    before.pop("name")
    assert after == before
    assert admin_client.post(_url(deal, "delete"), {"post": "yes"}).status_code == 403
    _bulk_delete(admin_client, Deal, [deal.pk])
    assert Deal.objects.filter(pk=deal.pk).exists()
    assert admin_client.get(reverse("admin:leads_deal_add")).status_code == 403


def test_an_open_deals_amount_stays_editable_but_not_its_outcome(admin_client, territory, team):
    lead = make_lead(email="open@acme.pl", stage=StageKey.SQL, owner=team[0])
    deal = deal_create(lead=lead, actor=team[0], amount="500")
    data = _post_data(admin_client.get(_url(deal, "change")))
    data.update(
        {"amount": "700", "outcome": "won", "closed_at_0": "2020-01-01", "closed_at_1": "10:00"}
    )
    assert admin_client.post(_url(deal, "change"), data).status_code == 302
    deal.refresh_from_db()
    assert (deal.amount, deal.outcome, deal.closed_at) == (Decimal("700.00"), "open", None)


def test_the_lead_page_adds_changes_or_deletes_no_stage_event_nor_its_recorded_moments(
    admin_client, history
):
    lead = history.lead
    events = list(lead.stage_events.values())
    page = admin_client.get(_url(lead, "change"))
    data = _post_data(page)
    assert "stage_events-0-to_stage" not in page.content.decode()  # shown, not editable
    total = int(data["stage_events-TOTAL_FORMS"])
    data.update(
        {
            "company": "Acme Group",
            "stage_events-0-to_stage": StageKey.WON,
            "stage_events-0-DELETE": "on",
            "stage_events-TOTAL_FORMS": str(total + 1),
            f"stage_events-{total}-lead": str(lead.pk),
            f"stage_events-{total}-to_stage": StageKey.LOST,
            f"stage_events-{total}-occurred_at_0": "2020-01-01",
            f"stage_events-{total}-occurred_at_1": "10:00:00",
            "mql_at_0": "2020-01-01",
            "mql_at_1": "10:00:00",
            "created_at_0": "2020-01-01",
            "created_at_1": "10:00:00",
        }
    )
    response = admin_client.post(_url(lead, "change"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    after = Lead.objects.get(pk=lead.pk)
    assert after.company == "Acme Group"  # the lead's own data stays editable
    assert (after.mql_at, after.created_at) == (lead.mql_at, lead.created_at)
    assert list(after.stage_events.values()) == events
    add_page = admin_client.get(reverse("admin:leads_lead_add")).content.decode()
    assert "stage_events-TOTAL_FORMS" not in add_page  # a new lead has no history to show


def test_a_lead_someone_acted_on_cannot_be_deleted_one_by_one_or_in_bulk(admin_client, history):
    lead = history.lead
    assert admin_client.get(_url(lead, "delete")).status_code == 403
    assert admin_client.post(_url(lead, "delete"), {"post": "yes"}).status_code == 403
    fresh = make_lead(email="spam@example.com")
    response = _bulk_delete(admin_client, Lead, [lead.pk, fresh.pk])
    assert "its history counts in the metrics" in response.content.decode()
    assert set(Lead.objects.values_list("pk", flat=True)) >= {lead.pk, fresh.pk}
    assert StageEvent.objects.filter(lead=lead).count() > 1


def test_a_lead_nobody_acted_on_can_be_deleted(admin_client, territory):
    """Spam, a test entry, a duplicate: only its creation event goes with it."""
    spam = make_lead(email="spam@example.com")
    other = make_lead(email="spam2@example.com")
    page = admin_client.get(_url(spam, "delete"))
    assert page.status_code == 200 and not page.context["perms_lacking"]
    assert admin_client.post(_url(spam, "delete"), {"post": "yes"}).status_code == 302
    assert _bulk_delete(admin_client, Lead, [other.pk]).status_code == 302
    assert not Lead.objects.filter(pk__in=[spam.pk, other.pk]).exists()
    assert not StageEvent.objects.filter(lead_id__in=[spam.pk, other.pk]).exists()


# --- the "Correct…" page ---------------------------------------------------------------------


def _correct_data(deal: Deal, **changes) -> dict[str, str]:
    local = timezone.localtime(deal.closed_at)
    data = {
        "amount": str(deal.amount),
        "closed_at_0": local.date().isoformat(),
        "closed_at_1": local.time().replace(microsecond=0).isoformat(),
        "gross_margin": "",
        "reason": "",
    }
    return {**data, **changes}


def test_a_closed_deals_page_links_the_correct_page_and_an_open_deals_does_not(
    admin_client, history, team
):
    correct_url = _url(history.deal, "correct")
    assert correct_url in admin_client.get(_url(history.deal, "change")).content.decode()
    lead = make_lead(email="open@acme.pl", stage=StageKey.SQL, owner=team[0])
    open_deal = deal_create(lead=lead, actor=team[0], amount="500")
    assert (
        _url(open_deal, "correct")
        not in admin_client.get(_url(open_deal, "change")).content.decode()
    )
    response = admin_client.get(_url(open_deal, "correct"))
    assert response.status_code == 302 and response.url == _url(open_deal, "change")


def test_the_correct_page_corrects_through_the_service_and_records_who_and_why(
    admin_client, admin_user, history
):
    deal = history.deal
    page = admin_client.get(_url(deal, "correct"))
    assert page.status_code == 200
    assert {"amount", "closed_at", "gross_margin", "reason"} <= set(page.context["form"].fields)
    assert "Typo." in page.content.decode()  # the earlier correction is listed

    data = _correct_data(deal, amount="10500", reason="The signed order says 10,500.")
    response = admin_client.post(_url(deal, "correct"), data)
    assert response.status_code == 302 and response.url == _url(deal, "change")
    deal.refresh_from_db()
    assert deal.amount == Decimal("10500.00")
    latest = Correction.objects.filter(actor=admin_user).get()
    assert latest.changes == {"amount": ["11000.00", "10500.00"]}  # the close date untouched
    assert latest.reason == "The signed order says 10,500."
    assert LogEntry.objects.filter(object_id=str(deal.pk), user=admin_user).exists()


def test_the_correct_page_needs_a_reason_and_shows_the_services_refusals_on_their_fields(
    admin_client, history
):
    deal = history.deal
    response = admin_client.post(_url(deal, "correct"), _correct_data(deal, amount="1"))
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    future = timezone.localtime() + timedelta(days=2)
    data = _correct_data(
        deal, reason="Date.", closed_at_0=future.date().isoformat(), closed_at_1="10:00:00"
    )
    response = admin_client.post(_url(deal, "correct"), data)
    assert response.status_code == 200
    assert "A deal cannot close in the future." in response.context["form"].errors["closed_at"]
    response = admin_client.post(_url(deal, "correct"), _correct_data(deal, reason="Same."))
    assert response.context["form"].non_field_errors()  # nothing to correct
    deal.refresh_from_db()
    assert deal.amount == Decimal("11000.00")
    assert Correction.objects.count() == 1


def test_only_a_sales_manager_may_use_the_correct_page(client, history, team):
    deal = history.deal
    rep = team[0]
    rep.is_staff = True
    rep.save()
    client.force_login(rep)
    assert client.get(_url(deal, "correct")).status_code == 403
    data = _correct_data(deal, amount="1", reason="Mine.")
    assert client.post(_url(deal, "correct"), data).status_code == 403
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("11000.00")
    assert _url(deal, "correct") not in client.get(_url(deal, "change")).content.decode()

    manager = UserFactory(username="staffmgr", role=Role.SALES_MANAGER, is_staff=True)
    client.force_login(manager)
    assert client.post(_url(deal, "correct"), data).status_code == 302
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("1.00")


def test_an_import_run_is_read_only_in_the_admin(admin_client, db):
    from leads.models import LeadImport

    run = LeadImport.objects.create(filename="a.csv", status="running")
    url = f"/admin/leads/leadimport/{run.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and 'name="status"' not in page.content.decode()
    admin_client.post(url, {"status": "done", "filename": "b.csv"})
    run.refresh_from_db()
    assert (run.status, run.filename) == ("running", "a.csv")
    assert admin_client.get("/admin/leads/leadimport/add/").status_code == 403
