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


def pytest_report_header(config: pytest.Config) -> list[str]:
    broker = "redis" if settings.REDIS_URL else "filesystem (local)"
    return [f"accord: database={settings.DATABASE_VENDOR} broker={broker} CI={IN_CI}"]


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
