"""The agreement's own texts (stage names and criteria, reason labels, rule descriptions)
in the reader's language: the field holds the deployment's language, `translations` the
others, and every display falls back to the field."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from alignment.agreement.selectors import funnel_active, localized
from alignment.agreement.services import (
    agreement_draft_create,
    agreement_reason_code_add,
    agreement_stage_update,
)
from alignment.models import ReasonCode, StageKey
from leads.forms import RejectForm
from tests.factories import FunnelStageFactory
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def test_a_text_shows_in_the_readers_language_and_falls_back_to_the_deployments():
    stage = FunnelStageFactory(
        name="Inquiry", exit_criteria="Scored", translations={"pl": {"name": "Zapytanie"}}
    )
    with translation.override("pl"):
        assert localized(stage, "name") == "Zapytanie"
        assert localized(stage, "exit_criteria") == "Scored"  # no Polish text: the base
    with translation.override("id"):
        assert localized(stage, "name") == "Inquiry"  # no Indonesian at all
    with translation.override("en"):
        assert localized(stage, "name") == "Inquiry"  # the deployment's language


def test_a_blank_translation_falls_back_too():
    stage = FunnelStageFactory(name="Inquiry", translations={"pl": {"name": "  "}})
    with translation.override("pl"):
        assert localized(stage, "name") == "Inquiry"


def test_the_default_agreement_carries_polish_and_indonesian_texts(active_agreement):
    stage = active_agreement.stages.get(key=StageKey.SAL)
    reason = active_agreement.reason_codes.get(kind="rejection", code="no-authority")
    assert stage.name == "Sales accepted lead" and reason.label == "Not a decision maker"
    with translation.override("pl"):
        assert localized(stage, "name") == "Lead zaakceptowany przez sprzedaż"
        assert localized(reason, "label") == "Nie jest decydentem"
    with translation.override("id"):
        assert localized(stage, "name") == "Prospek diterima tim penjualan"
        assert localized(reason, "label") == "Bukan pengambil keputusan"


def test_a_new_draft_keeps_the_translations(active_agreement, sales_manager):
    draft = agreement_draft_create(user=sales_manager)
    with translation.override("pl"):
        assert localized(draft.stages.get(key=StageKey.MQL), "name") == (
            "Lead zakwalifikowany przez marketing"
        )
        assert localized(draft.reason_codes.get(code="no-budget"), "label") == "Brak budżetu"


def test_a_draft_stage_and_reason_take_translations_and_drop_unknown_ones(
    active_agreement, sales_manager
):
    draft = agreement_draft_create(user=sales_manager)
    stage = agreement_stage_update(
        agreement=draft,
        user=sales_manager,
        key=StageKey.SAL,
        data={"translations": {"pl": {"name": "Przyjęty", "exit_criteria": ""}, "xx": {"a": "b"}}},
    )
    assert stage.translations["pl"]["name"] == "Przyjęty"
    assert "exit_criteria" not in stage.translations["pl"] and "xx" not in stage.translations
    assert stage.translations["id"]["name"] == "Prospek diterima tim penjualan"  # untouched
    code = agreement_reason_code_add(
        agreement=draft,
        user=sales_manager,
        kind="rejection",
        code="",
        label="Student",
        translations={"pl": {"label": "Student"}, "id": {"label": "Pelajar"}, "en": {"label": "x"}},
    )
    assert code.translations == {"pl": {"label": "Student"}, "id": {"label": "Pelajar"}}


def test_the_editor_offers_an_input_per_language_and_saves_them(
    client: Client, active_agreement, sales_manager, marketer
):
    draft = agreement_draft_create(user=sales_manager)
    url = reverse("alignment:edit", args=[draft.pk])
    client.force_login(marketer)
    assert 'name="description_id"' in client.get(url).content.decode()
    client.force_login(sales_manager)
    page = client.get(url).content.decode()
    assert 'name="sal-name_pl"' in page and 'name="sal-entry_criteria_id"' in page
    assert 'name="label_pl"' in page and 'value="Nie jest decydentem"' not in page
    assert 'value="Lead zaakceptowany przez sprzedaż"' in page  # the stage's Polish name
    response = client.post(
        url,
        {
            "action": "reason_add",
            "kind": "rejection",
            "code": "no-project",
            "label": "No project",
            "label_pl": "Brak projektu",
            "label_id": "",
        },
    )
    assert response.status_code == 302
    code = ReasonCode.objects.get(agreement=draft, code="no-project")
    assert code.translations == {"pl": {"label": "Brak projektu"}}


def test_the_reject_form_lists_the_reasons_in_the_readers_language(active_agreement):
    with translation.override("pl"):
        choices = dict(RejectForm(funnel=funnel_active()).fields["reason_code"].choices)
    assert choices["no-authority"] == "Nie jest decydentem"


def test_polish_pages_show_polish_stage_names_and_reason_labels(
    client: Client, active_agreement, rep
):
    lead = make_lead(email="zakupy@wisla.pl", stage=StageKey.MQL, owner=rep)
    client.force_login(rep)
    lead_page = client.get(
        reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="pl"
    ).content.decode()
    assert "Nie jest decydentem" in lead_page and "Not a decision maker" not in lead_page
    agreement_page = client.get(
        reverse("alignment:agreement"), HTTP_ACCEPT_LANGUAGE="pl"
    ).content.decode()
    assert "Lead zaakceptowany przez sprzedaż" in agreement_page
    assert "Sales accepted lead" not in agreement_page
    assert "Nie jest decydentem" in agreement_page
