"""Signing a proposal asks first, naming the consequence (issue #17, item 4): without the
confirmation nothing is signed; with it the signature is made once. The API never asks."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from alignment.agreement.services import agreement_draft_create, agreement_propose
from alignment.models import Agreement, AgreementSignature, AgreementStatus

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def proposal(active_agreement, marketer):
    return agreement_propose(agreement=agreement_draft_create(user=marketer), user=marketer)


def test_the_sign_button_names_what_signing_does(proposal, sales_manager):
    body = unescape(_client(sales_manager).get("/agreement/").content.decode())
    form = re.search(rf'<form[^>]*action="/agreement/{proposal.pk}/sign/"[^>]*>', body).group(0)
    assert (
        f'data-confirm="Signs version {proposal.version} of the agreement for Sales. Once both '
        "teams have signed, it comes into force and every lead is rescored under it." in form
    )
    assert 'data-confirm-label="Sign for sales"' in form


def test_signing_asks_first_and_then_signs_once(proposal, sales_manager, marketing_manager):
    url = f"/agreement/{proposal.pk}/sign/"
    client = _client(sales_manager)

    asked = client.post(url)
    body = unescape(asked.content.decode())
    assert asked.status_code == 200 and "confirm-page" in body
    assert f"Signs version {proposal.version} of the agreement for Sales." in body
    assert f'href="/agreement/?version={proposal.pk}#history"' in body  # Cancel
    assert not AgreementSignature.objects.filter(agreement=proposal).exists()

    for _ in range(2):  # a double submit signs once
        client.post(url, {"confirmed": "yes"})
    assert AgreementSignature.objects.filter(agreement=proposal).count() == 1

    last = _client(marketing_manager)
    body = unescape(last.post(url).content.decode())
    assert "The other team has signed, so it comes into force at once" in body
    assert Agreement.objects.get(pk=proposal.pk).status == AgreementStatus.PROPOSED
    last.post(url, {"confirmed": "yes"})
    assert Agreement.objects.get(pk=proposal.pk).status == AgreementStatus.ACTIVE


def test_someone_who_may_not_sign_is_refused_without_being_asked(proposal, rep):
    assert _client(rep).post(f"/agreement/{proposal.pk}/sign/").status_code == 403
    assert not AgreementSignature.objects.filter(agreement=proposal).exists()


def test_the_api_signs_without_any_confirmation(proposal, sales_manager, api_client):
    response = api_client(sales_manager).post(f"/api/v1/agreements/{proposal.pk}/sign/")
    assert response.status_code == 200
    assert AgreementSignature.objects.filter(agreement=proposal).count() == 1
