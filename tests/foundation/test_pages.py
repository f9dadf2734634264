from __future__ import annotations

import pytest
from django.test import Client

from alignment.accounts.roles import Role
from config.demo import DEMO_PASSWORD, demo_seed
from tests.factories import UserFactory
from tests.urlwalk import page_urls, with_demo_ids

PUBLIC = {"login", "healthz"}
# Opened by the secret in its URL, without a session; a wrong secret is a 404 for anyone
# (tests/leads/test_agenda_plan.py).
BY_SECRET = {"leads:calendar-feed"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "path"), [p for p in page_urls() if p[0] not in PUBLIC | BY_SECRET]
)
def test_every_page_redirects_to_login_when_logged_out(client: Client, name: str, path: str):
    response = client.get(path)
    assert response.status_code == 302, name
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_the_login_page_is_public(client: Client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Log in to Accord" in response.content


@pytest.fixture
def demo(db):
    return demo_seed(lead_count=40, scorecard_weeks=1)


HOMES = {
    "rep": "in my queue",
    "rep2": "in my queue",
    "salesmgr": "waiting for an owner",
    "marketer": "Live campaigns",
    "mktmgr": "Live campaigns",
    "exec": "open dispute",
    "admin": "Admin",
}


def test_every_demo_user_logs_in_and_lands_on_a_home_page_for_the_role(demo):
    for username, expected in HOMES.items():
        client = Client()
        response = client.post(
            "/login/", {"username": username, "password": DEMO_PASSWORD}, follow=True
        )
        assert response.status_code == 200, username
        assert response.request["PATH_INFO"] == "/", username
        assert expected in response.content.decode(), username


def test_reps_do_not_see_marketing_sections_nor_marketers_the_queue(client: Client, demo):
    client.login(username="rep", password=DEMO_PASSWORD)
    assert "Live campaigns" not in client.get("/").content.decode()
    client.login(username="marketer", password=DEMO_PASSWORD)
    body = client.get("/").content.decode()
    assert "in my queue" not in body
    assert "My queue" not in body


def test_admin_works_for_admin(client: Client, demo):
    client.login(username="admin", password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/leads/lead/").status_code == 200


def test_every_page_answers_for_every_role(client: Client, demo):
    """One walk over the URL conf (one demo seed), every role on every page."""
    users = {role: UserFactory(username=f"walker-{role}", role=role) for role in Role.values}
    failures = {}
    for name, raw in page_urls():
        if name == "logout" or name in BY_SECRET:
            continue
        path = with_demo_ids(raw)
        for role, user in users.items():
            client.force_login(user)
            status = client.get(path).status_code
            # 405: an action URL that only takes POST (its form lives on another page).
            if status not in (200, 302, 405):
                failures[f"{name} {path} as {role}"] = status
    assert failures == {}


def test_the_lead_list_refuses_bad_filters_with_a_message(client: Client, demo):
    client.login(username="marketer", password=DEMO_PASSWORD)
    response = client.get("/leads/", {"score_min": "lots", "created_after": "yesterday"})
    assert response.status_code == 200
    assert "Enter a number" in response.content.decode()
