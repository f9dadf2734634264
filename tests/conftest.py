from __future__ import annotations

import os
import socket

import pytest
from django.conf import settings
from django.db import connection

from alignment.accounts.roles import Role
from alignment.agreement.services import agreement_create_default
from tests.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Every read on the primary (with DATABASE_REPLICA_URLS set, as in .ci/run), here and in the
# servers and workers tests start: a test's rows are on the primary's test database, and a
# replica is only a mirror of it. tests/foundation/test_replicas.py turns the replica on.
os.environ["DATABASE_REPLICA_READS"] = "false"


def need(condition: bool, reason: str) -> None:
    """Skip a test whose infrastructure is missing, except in CI, where it must fail."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def pg_plan(queryset, *, without: tuple[str, ...] = ("seqscan",)) -> str:
    """PostgreSQL's plan for `queryset` (one line), with the scan kinds in `without`
    switched off for it (a test table is tiny: a table scan would win on cost)."""
    from django.db import connection, transaction

    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        for kind in without:
            cursor.execute(f"SET LOCAL enable_{kind} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return " ".join(row[0] for row in cursor.fetchall())


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
    test's start depend on the order of the run. tests/alignment/agreement/test_default_agreement.py
    and tests/config/test_fresh_database.py prove what `migrate` installs."""
    from alignment.models import Agreement

    with django_db_blocker.unblock():
        Agreement.objects.all().delete()


@pytest.fixture(autouse=True)
def _deployment_language():
    """Each test starts in the deployment's language: a test that activates Polish (a page
    walk, a notification rendered for its reader) must not leak it into the next one."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_generations():
    """Each test starts with nothing cached by generation (config.generations): a rolled
    back test leaves no signal behind, so what it cached must not serve the next."""
    from config.generations import generations_restart

    generations_restart()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: pytest.FixtureRequest) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _primary_reads(settings: pytest.FixtureRequest) -> None:
    settings.DATABASE_REPLICA_READS = False


@pytest.fixture(autouse=True)
def _no_api_throttle(settings: pytest.FixtureRequest) -> None:
    """API rate limits have their own test; elsewhere results would depend on test order."""
    settings.API_THROTTLE_ENABLED = False


# What a name under the domains reserved for documentation (RFC 2606) resolves to in tests:
# a public address, so such a name passes the webhook target check (nothing connects to it).
EXAMPLE_ADDRESS = "93.184.215.14"
_EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example")


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Tests ask no DNS server for example names: a name set in the returned dict
    (`fake_dns["hook.example.com"] = ["169.254.169.254"]`; [] = does not exist) or under
    the reserved example domains (EXAMPLE_ADDRESS) resolves here. IP literals, localhost
    and other names go to the system resolver as before. Webhook targets are vetted by
    the addresses their names resolve to (alignment/webhooks/http.py)."""
    answers: dict[str, list[str]] = {}
    system_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = (host.decode() if isinstance(host, bytes) else str(host or "")).rstrip(".")
        name = name.lower()
        reserved = any(name == d or name.endswith("." + d) for d in _EXAMPLE_DOMAINS)
        if name not in answers and not reserved:
            return system_getaddrinfo(host, port, family, type, proto, flags)
        addresses = answers.get(name, [EXAMPLE_ADDRESS])
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port) if str(port or 0).isdigit() else 0
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, number, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, number))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


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


@pytest.fixture
def active_agreement(db):
    """The signed default agreement, in force (alignment 0008's, installed again: tests
    start without one; see django_db_setup above)."""
    return agreement_create_default()


@pytest.fixture
def api_client():
    """`api_client(user)`: a DRF APIClient authenticated as `user` (force_authenticate);
    `api_client()` is anonymous, `api_client(user, token=True)` sends a real API token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user=None, *, token: bool = False) -> APIClient:
        client = APIClient()
        if user is not None:
            if token:
                key = Token.objects.create(user=user).key
                client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            else:
                client.force_authenticate(user)
        return client

    return make


# The password UserFactory gives every user (the demo users have config.demo.DEMO_PASSWORD).
FACTORY_PASSWORD = "pw-for-tests"


@pytest.fixture
def logged_in(live_server):
    """`logged_in(page, user)`: a Playwright page logged into the live server as `user`
    (a user or a username), landing on the home page.

    Through the login form with `password`, or the demo password or the factories' one,
    whichever is the user's; a user with neither gets a force-login session cookie."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import check_password
    from django.test import Client

    from config.demo import DEMO_PASSWORD

    def log_in(page, user, password: str | None = None) -> None:
        if isinstance(user, str):
            user = get_user_model().objects.get(username=user)
        if password is None:
            known = (DEMO_PASSWORD, FACTORY_PASSWORD)
            password = next((p for p in known if check_password(p, user.password)), None)
        if password is None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            page.context.add_cookies(
                [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
            )
            page.goto("/")
            return
        page.goto("/login/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/")

    return log_in
