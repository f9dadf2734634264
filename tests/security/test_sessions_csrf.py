"""Sessions end at logout, every state-changing page needs its CSRF token, passwords use Argon2."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from config.demo import DEMO_PASSWORD, demo_seed
from tests.urlwalk import page_urls

pytestmark = pytest.mark.django_db


def test_logout_ends_the_session_on_the_server(client: Client, rep):
    client.force_login(rep)
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    assert client.post("/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = key
    response = stolen.get("/leads/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_logout_by_get_is_refused(client: Client, rep):
    client.force_login(rep)
    assert client.get("/logout/").status_code == 405
    assert client.get("/leads/").status_code == 200


def test_every_page_refuses_a_post_without_its_csrf_token():
    """One walk over the URL conf (one demo seed): every page answers 403 to a forged POST."""
    demo_seed(lead_count=5, scorecard_weeks=1)
    client = Client(enforce_csrf_checks=True)
    client.login(username="salesmgr", password=DEMO_PASSWORD)
    accepted = {}
    for name, path in page_urls():
        if name == "logout":
            continue
        status = client.post(path, {"anything": "1"}).status_code
        if status != 403:
            accepted[f"{name} {path}"] = status
    assert accepted == {}


def test_the_login_form_itself_needs_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


def test_new_passwords_are_hashed_with_argon2():
    """The deployed setting (tests swap in a fast hasher), and Argon2 really works here."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    from config import settings as deployed

    assert deployed.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    hasher = Argon2PasswordHasher()
    encoded = hasher.encode("correct horse", hasher.salt())
    assert encoded.startswith("argon2$argon2id$")
    assert hasher.verify("correct horse", encoded)
