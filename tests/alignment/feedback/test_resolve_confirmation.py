"""Resolving a dispute asks first, naming the decision's consequence (issue #17, item 4):
no decision is chosen beforehand; without the confirmation nothing changes; with it the
dispute is resolved once. The API never asks."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from alignment.feedback.services import dispute_raise
from alignment.models import Dispute, DisputeStatus, Notification
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dispute(rep, marketer):
    lead = LeadFactory(owner=rep, first_name="Bo", last_name="Quinn", company="Baltic")
    return dispute_raise(user=marketer, lead=lead, kind="rejection", reason="Good fit")


def test_no_decision_is_chosen_and_each_names_its_consequence(dispute, executive):
    body = unescape(_client(executive).get(f"/feedback/disputes/{dispute.pk}/").content.decode())
    form = re.search(r'<form[^>]*id="resolve-form".*?</form>', body, re.S).group(0)
    assert "data-confirm-options" in form
    select = re.search(r'<select name="decision".*?</select>', form, re.S).group(0)
    options = re.findall(r"<option[^>]*>", select)
    assert options[0].startswith('<option value=""')
    assert not any("selected" in option for option in options[1:])
    assert (
        "Resolves the dispute about Bo Quinn · Baltic: In sales' favour. Both teams are told "
        "at once, and a resolved dispute cannot be reopened." in select
    )


def test_resolving_asks_first_and_then_happens_once(dispute, executive, rep, marketer):
    url = f"/feedback/disputes/{dispute.pk}/resolve/"
    data = {"decision": "for_sales", "resolution_note": "No budget was stated."}
    client = _client(executive)

    asked = client.post(url, data)
    body = unescape(asked.content.decode())
    assert asked.status_code == 200 and "confirm-page" in body
    assert "Resolves the dispute about Bo Quinn · Baltic: In sales' favour." in body
    assert 'name="resolution_note" value="No budget was stated."' in body
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.OPEN
    assert not Notification.objects.filter(event="dispute.resolved").exists()

    for _ in range(2):
        assert client.post(url, {**data, "confirmed": "yes"}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RESOLVED and dispute.decision == "for_sales"
    for user in (rep, marketer):
        assert Notification.objects.filter(recipient=user, event="dispute.resolved").count() == 1


def test_a_resolve_without_a_decision_is_a_form_error_not_a_question(dispute, executive):
    response = _client(executive).post(
        f"/feedback/disputes/{dispute.pk}/resolve/", {"decision": "", "resolution_note": "x"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "confirm-page" not in body
    assert "Choose a decision." in body


def test_the_api_resolves_without_any_confirmation(dispute, executive, api_client):
    response = api_client(executive).post(
        f"/api/v1/disputes/{dispute.pk}/resolve/",
        {"decision": "shared", "resolution_note": "Both right."},
        format="json",
    )
    assert response.status_code == 200
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.RESOLVED
