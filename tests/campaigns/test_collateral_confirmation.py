"""Removing collateral asks first, naming the consequence (issue #17, item 4): without the
confirmation nothing is removed; with it the item is removed once."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from campaigns.models import Collateral
from tests.factories import CampaignFactory, CollateralFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(marketer):
    return CollateralFactory(title="Fleet case study", campaign=CampaignFactory(owner=marketer))


def test_the_remove_button_names_what_removing_does(item, marketer):
    client = Client()
    client.force_login(marketer)
    body = unescape(client.get(f"/campaigns/{item.campaign_id}/").content.decode())
    form = re.search(r'<form[^>]*action="/campaigns/\d+/collateral/delete/"[^>]*>', body).group(0)
    assert "data-confirm=\"Removes “Fleet case study” from this campaign's collateral" in form
    assert 'data-confirm-label="Remove"' in form


def test_removing_collateral_asks_first_and_then_happens_once(item, marketer):
    client = Client()
    client.force_login(marketer)
    url = f"/campaigns/{item.campaign_id}/collateral/delete/"

    asked = client.post(url, {"collateral": item.pk})
    body = unescape(asked.content.decode())
    assert asked.status_code == 200 and "confirm-page" in body
    assert "Removes “Fleet case study” from this campaign's collateral" in body
    assert f'name="collateral" value="{item.pk}"' in body
    assert Collateral.objects.filter(pk=item.pk).exists()

    assert client.post(url, {"collateral": item.pk, "confirmed": "yes"}).status_code == 302
    assert not Collateral.objects.filter(pk=item.pk).exists()
    # The same confirmed post again finds nothing to remove.
    assert client.post(url, {"collateral": item.pk, "confirmed": "yes"}).status_code == 404


def test_someone_who_may_not_remove_collateral_is_refused_without_being_asked(item, rep):
    client = Client()
    client.force_login(rep)
    response = client.post(
        f"/campaigns/{item.campaign_id}/collateral/delete/", {"collateral": item.pk}
    )
    assert response.status_code == 403
    assert Collateral.objects.filter(pk=item.pk).exists()
