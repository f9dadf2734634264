"""Migration alignment 0008 installs the default agreement, as agreement_create_default does.

The migration's own function runs here with the historical models of its moment;
tests/config/test_fresh_database.py runs `migrate` itself on a new database.
"""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings

from alignment.agreement.services import agreement_create_default, agreement_draft_create
from alignment.models import Agreement, AgreementStatus

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("alignment.migrations.0008_default_agreement")


STAGE_FIELDS = ["order", "key", "name", "owner_team", "sla_hours", "entry_criteria",
                "exit_criteria", "win_probability"]  # fmt: skip
RULE_FIELDS = ["kind", "field", "operator", "value", "touch_kind", "half_life_days", "points",
               "description"]  # fmt: skip


def _migrate() -> None:
    state = MigrationLoader(connection).project_state(("alignment", "0008_default_agreement"))
    MIGRATION.install_default_agreement(state.apps, connection.schema_editor())


def _contents(agreement: Agreement) -> dict:
    return {
        "agreement": (agreement.version, agreement.status, agreement.title, agreement.notes),
        "threshold": agreement.mql_threshold,
        "stages": list(agreement.stages.order_by("order").values_list(*STAGE_FIELDS)),
        "transitions": sorted(
            (stage.key, next_stage.key)
            for stage in agreement.stages.all()
            for next_stage in stage.next_stages.all()
        ),
        "reasons": sorted(agreement.reason_codes.values_list("kind", "code", "label", "rest_days")),
        "rules": sorted(agreement.rules.values_list(*RULE_FIELDS), key=repr),
    }


def test_the_migration_installs_what_the_service_installs():
    _migrate()
    migrated = Agreement.objects.get()
    assert migrated.status == AgreementStatus.ACTIVE and migrated.activated_at is not None
    installed = _contents(migrated)
    assert len(installed["stages"]) == 9 and installed["transitions"] and installed["rules"]
    Agreement.objects.all().delete()
    assert _contents(agreement_create_default()) == installed


@override_settings(LANGUAGE_CODE="pl")
def test_the_migration_writes_the_agreement_in_the_deployments_language():
    _migrate()
    agreement = Agreement.objects.get()
    assert agreement.title == "Domyślny lejek popytu"
    assert agreement.stages.get(key="inquiry").name == "Zapytanie"
    assert agreement.reason_codes.get(kind="lost", code="price").label == "Cena"


def test_the_migration_leaves_a_database_that_has_an_agreement_as_it_is(marketing_manager):
    active = agreement_create_default()
    agreement_draft_create(user=marketing_manager)
    before = list(Agreement.objects.order_by("pk").values_list("pk", "version", "status"))
    _migrate()
    assert list(Agreement.objects.order_by("pk").values_list("pk", "version", "status")) == before
    assert agreement_create_default() == active


def test_tests_start_without_an_agreement_as_the_installed_one_is_removed():
    assert not Agreement.objects.exists()
