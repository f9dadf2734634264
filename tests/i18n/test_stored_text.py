"""Sentences Accord stores on records read in each reader's language, whoever stored them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from alignment.agreement.services import agreement_create_default
from alignment.models import StageKey
from config.stored_text import (
    DEAL_OPENED,
    SCORE_REACHED,
    stored_text,
    stored_text_display,
)
from leads.models import StageEvent
from leads.services.deals import deal_create
from tests.leads.conftest import make_lead


def test_a_stored_sentence_is_shown_in_the_active_language_with_its_values():
    text = stored_text(sentence=SCORE_REACHED, score=60, threshold=50)
    assert text == "Score 60 reached the threshold of 50."
    with translation.override("pl"):
        assert stored_text_display(text=text) == "Punktacja 60 osiągnęła próg 50."
    with translation.override("en"):
        assert stored_text_display(text=text) == text


def test_text_a_user_typed_is_shown_as_it_is():
    with translation.override("pl"):
        assert stored_text_display(text="Score high, call back") == "Score high, call back"
        assert stored_text_display(text="") == ""
        assert stored_text_display(text=None) is None


@pytest.mark.django_db
def test_a_polish_rep_opens_a_deal_and_an_indonesian_manager_reads_why_the_lead_moved(
    rep, sales_manager
):
    agreement_create_default()
    lead = make_lead(email="a@wisla.pl", stage=StageKey.SQL, owner=rep)
    with translation.override("pl"):
        deal_create(lead=lead, actor=rep, amount=Decimal("100.00"))
    event = StageEvent.objects.filter(lead=lead, to_stage=StageKey.OPPORTUNITY).get()
    assert event.reason == DEAL_OPENED  # stored as written in the code
    client = Client(HTTP_ACCEPT_LANGUAGE="id")
    client.force_login(sales_manager)
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    with translation.override("id"):
        assert translation.gettext(DEAL_OPENED) in body
    assert "Deal opened." not in body
