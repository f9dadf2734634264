"""Campaign forms that don't trap: status choices the service allows, the owner by name
defaulting to the user, spend corrected or removed with a recorded reason."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.forms import CampaignForm
from campaigns.models import CampaignStatus, SpendCorrection, SpendEntry
from campaigns.services import (
    campaign_statuses_allowed,
    campaign_update,
    spend_entry_correct,
    spend_entry_remove,
)
from tests.factories import CampaignFactory, SpendEntryFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, user) -> Client:
    client.force_login(user)
    return client


# --- status choices and owner ---------------------------------------------------------------


def test_a_planned_campaigns_form_offers_only_the_statuses_the_service_allows(marketer):
    campaign = CampaignFactory(owner=marketer, status=CampaignStatus.PLANNED)
    allowed = campaign_statuses_allowed(campaign=campaign)
    form = CampaignForm(instance=campaign, user=marketer, statuses=allowed)
    offered = [value for value, _label in form.fields["status"].choices]
    assert CampaignStatus.LIVE not in offered
    assert offered == allowed
    for status in offered:  # every status offered is one the service accepts
        campaign_update(campaign=campaign, actor=marketer, data={"status": status})


def test_a_launched_campaign_is_offered_live_but_not_planned_again(marketer):
    campaign = CampaignFactory(
        owner=marketer, status=CampaignStatus.LIVE, launched_at=timezone.now()
    )
    allowed = campaign_statuses_allowed(campaign=campaign)
    assert CampaignStatus.LIVE in allowed and CampaignStatus.PLANNED not in allowed
    with pytest.raises(ValidationError) as refused:
        campaign_update(campaign=campaign, actor=marketer, data={"status": "planned"})
    assert "status" in refused.value.message_dict


def test_the_edit_page_refuses_a_status_it_does_not_offer_as_a_form_error(client, marketer):
    campaign = CampaignFactory(owner=marketer, status=CampaignStatus.PLANNED)
    page = _login(client, marketer).get(reverse("campaigns:edit", args=[campaign.pk]))
    assert 'value="live"' not in page.content.decode()
    data = {"name": campaign.name, "channel": campaign.channel, "status": "live",
            "starts_on": campaign.starts_on.isoformat(), "budget": "10"}  # fmt: skip
    response = client.post(reverse("campaigns:edit", args=[campaign.pk]), data)
    assert response.status_code == 400
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PLANNED


def test_a_new_campaigns_owner_defaults_to_the_user_by_name(client, marketer):
    marketer.first_name, marketer.last_name = "Maya", "Lindqvist"
    marketer.save()
    page = _login(client, marketer).get(reverse("campaigns:create")).content.decode()
    assert f'<option value="{marketer.pk}" selected>Maya Lindqvist</option>' in page
    owner = page[page.index('name="owner"') :].split("</select>")[0]
    assert "---------" not in owner


# --- spend corrections ----------------------------------------------------------------------


def test_a_spend_correction_needs_a_reason_and_changes_nothing_without_one(marketer):
    entry = SpendEntryFactory(amount=Decimal("500.00"))
    with pytest.raises(ValidationError) as refused:
        spend_entry_correct(entry=entry, actor=marketer, reason="  ", amount="450")
    assert "reason" in refused.value.message_dict
    entry.refresh_from_db()
    assert entry.amount == Decimal("500.00") and not SpendCorrection.objects.exists()


def test_a_spend_correction_is_recorded_with_before_after_who_and_why(marketer):
    entry = SpendEntryFactory(amount=Decimal("500.00"), date=date(2026, 1, 12))
    correction = spend_entry_correct(
        entry=entry, actor=marketer, reason="Invoice says 450", amount="450", date=date(2026, 1, 13)
    )
    entry.refresh_from_db()
    assert entry.amount == Decimal("450.00") and entry.date == date(2026, 1, 13)
    assert correction.action == SpendCorrection.Action.CORRECTED
    assert correction.actor == marketer and correction.reason == "Invoice says 450"
    assert correction.changes == {
        "date": {"before": "2026-01-12", "after": "2026-01-13"},
        "amount": {"before": "500.00", "after": "450.00"},
    }


def test_a_correction_that_changes_nothing_or_goes_negative_is_refused(marketer):
    entry = SpendEntryFactory(amount=Decimal("500.00"))
    with pytest.raises(ValidationError):
        spend_entry_correct(entry=entry, actor=marketer, reason="Same", amount="500.00")
    with pytest.raises(ValidationError) as refused:
        spend_entry_correct(entry=entry, actor=marketer, reason="Oops", amount="-1")
    assert "amount" in refused.value.message_dict
    assert not SpendCorrection.objects.exists()


def test_a_removal_keeps_what_was_removed_and_why(marketer):
    entry = SpendEntryFactory(amount=Decimal("300.00"), note="Booth")
    pk, campaign = entry.pk, entry.campaign
    correction = spend_entry_remove(entry=entry, actor=marketer, reason="Entered twice")
    assert not SpendEntry.objects.filter(pk=pk).exists()
    assert correction.record_id == pk and correction.campaign == campaign
    assert correction.action == SpendCorrection.Action.REMOVED
    assert correction.changes["amount"] == {"before": "300.00", "after": None}


def test_a_rep_may_neither_correct_nor_remove_spend(rep):
    entry = SpendEntryFactory()
    with pytest.raises(PermissionDenied):
        spend_entry_correct(entry=entry, actor=rep, reason="x", amount="1")
    with pytest.raises(PermissionDenied):
        spend_entry_remove(entry=entry, actor=rep, reason="x")


def test_the_pages_correct_and_remove_spend_and_show_the_record(client, marketer):
    campaign = CampaignFactory(owner=marketer)
    entry = SpendEntryFactory(campaign=campaign, amount=Decimal("500.00"))
    _login(client, marketer)
    url = reverse("campaigns:spend-entry", args=[campaign.pk, entry.pk])
    assert client.get(url).status_code == 200
    missing = client.post(url, {"amount": "450", "date": entry.date.isoformat(), "reason": ""})
    assert missing.status_code == 400 and "reason" in missing.context["correct_form"].errors
    done = client.post(url, {"amount": "450", "date": entry.date.isoformat(), "reason": "Invoice"})
    assert done.status_code == 302
    remove = reverse("campaigns:spend-remove", args=[campaign.pk, entry.pk])
    asked = client.post(remove, {"reason": "Entered twice"})
    assert asked.status_code == 200 and SpendEntry.objects.filter(pk=entry.pk).exists()
    gone = client.post(remove, {"reason": "Entered twice", "confirmed": "yes"})
    assert gone.status_code == 302 and not SpendEntry.objects.filter(pk=entry.pk).exists()
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Invoice" in page and "Entered twice" in page
    assert "$500.00 → $450.00" in page


def test_bad_correction_input_is_a_form_error_not_a_crash(client, marketer):
    entry = SpendEntryFactory()
    url = reverse("campaigns:spend-entry", args=[entry.campaign_id, entry.pk])
    _login(client, marketer)
    far = (timezone.localdate() + timedelta(days=4000)).isoformat()
    for data in (
        {"amount": "abc", "date": "x", "reason": "r"},
        {"amount": "1", "date": far, "reason": "r"},
    ):
        assert client.post(url, data).status_code == 400
