from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from alignment.roles import Role
from tests.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    """Skip a test whose infrastructure is missing, except in CI, where it must fail."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _compile_catalogs() -> None:
    """Build any missing or stale .mo next to its .po (Babel, pure Python), as `make test` does.

    Running pytest directly must not test against absent catalogs: every page would be English.
    """
    import tempfile
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/django.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with open(po, "rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        # A temporary *.mo (ignored by git) in the same directory, then an atomic rename.
        with tempfile.NamedTemporaryFile(dir=po.parent, suffix=".mo", delete=False) as out:
            write_mo(out, catalog)
        os.replace(out.name, mo)  # atomic: a concurrent test run never reads half a catalog


def pytest_sessionstart(session: pytest.Session) -> None:
    _compile_catalogs()


def pytest_report_header(config: pytest.Config) -> list[str]:
    broker = "redis" if settings.REDIS_URL else "filesystem (local)"
    return [f"accord: database={settings.DATABASE_VENDOR} broker={broker} CI={IN_CI}"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test starts without an agreement, as before `migrate` installed the default one
    (alignment 0008): a test that needs one installs it (agreement_create_default, which
    would otherwise hand back the migrated one) or builds its own version 1. A transactional
    test's flush empties the tables anyway, so keeping the migrated agreement would make a
    test's start depend on the order of the run. tests/alignment/test_default_agreement.py
    and tests/integration/test_fresh_database.py prove what `migrate` installs."""
    from alignment.models import Agreement

    with django_db_blocker.unblock():
        Agreement.objects.all().delete()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: pytest.FixtureRequest) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_api_throttle(settings: pytest.FixtureRequest) -> None:
    """API rate limits have their own test; elsewhere results would depend on test order."""
    settings.API_THROTTLE_ENABLED = False


@pytest.fixture
def rep(db):
    return UserFactory(username="rep1", role=Role.SALES_REP)


@pytest.fixture
def sales_manager(db):
    return UserFactory(username="smgr", role=Role.SALES_MANAGER)


@pytest.fixture
def marketer(db):
    return UserFactory(username="mkt", role=Role.MARKETER)


@pytest.fixture
def marketing_manager(db):
    return UserFactory(username="mmgr", role=Role.MARKETING_MANAGER)


@pytest.fixture
def executive(db):
    return UserFactory(username="boss", role=Role.EXECUTIVE)


@pytest.fixture
def db_vendor() -> str:
    return connection.vendor
