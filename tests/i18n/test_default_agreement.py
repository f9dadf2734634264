"""A fresh installation writes the default agreement in the deployment's language."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import translation

from alignment.agreement.services import agreement_create_default
from alignment.models import StageKey

pytestmark = pytest.mark.django_db


def test_a_polish_deployment_gets_its_default_agreement_in_polish_whoever_installs_it():
    with override_settings(LANGUAGE_CODE="pl"), translation.override("en"):
        agreement = agreement_create_default()
    assert agreement.title == "Domyślny lejek popytu"
    mql = agreement.stages.get(key=StageKey.MQL)
    assert mql.name == "Lead zakwalifikowany przez marketing"
    assert mql.exit_criteria.startswith("Handlowiec kontaktuje się")
    labels = set(agreement.reason_codes.values_list("label", flat=True))
    assert "Brak budżetu" in labels
    assert set(agreement.reason_codes.values_list("code", flat=True)) >= {"no-budget", "spam"}
    assert "Poprosił o prezentację" in set(agreement.rules.values_list("description", flat=True))


def test_an_english_deployment_keeps_the_agreement_as_written():
    agreement = agreement_create_default()
    assert agreement.title == "Default demand waterfall"
    assert agreement.stages.get(key=StageKey.MQL).name == "Marketing qualified lead"
