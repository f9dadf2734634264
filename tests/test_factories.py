"""Every concrete model of the project apps has a factory in tests/factories.py, and each
factory builds a valid row: it saves, and the saved row passes full_clean()."""

from __future__ import annotations

import factory
import pytest
from django.apps import apps

from tests import factories

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("alignment", "leads", "campaigns", "metrics")


def _project_models() -> list[type]:
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS
        and not model._meta.abstract
        and not model._meta.proxy
        and model._meta.managed
    ]


def _factories_by_model() -> dict[type, type[factory.django.DjangoModelFactory]]:
    found: dict[type, type[factory.django.DjangoModelFactory]] = {}
    for value in vars(factories).values():
        if (
            isinstance(value, type)
            and issubclass(value, factory.django.DjangoModelFactory)
            and value._meta.model is not None
        ):
            found.setdefault(value._meta.model, value)
    return found


MODELS = _project_models()


def test_the_project_apps_have_models_to_check():
    assert len(MODELS) >= 30


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_every_model_has_a_factory_that_saves_a_valid_row(model):
    by_model = _factories_by_model()
    assert model in by_model, f"tests/factories.py has no factory for {model._meta.label}"
    row = by_model[model]()
    assert row.pk is not None
    row.refresh_from_db()
    row.full_clean()
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_two_rows_from_one_factory_do_not_collide(model):
    make = _factories_by_model()[model]
    first, second = make(), make()
    assert first.pk != second.pk
    second.full_clean()
