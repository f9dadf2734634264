from __future__ import annotations

import pytest
from django.test import Client

from alignment.roles import Role
from leads.demo import DEMO_PASSWORD, demo_seed
from leads.models import Lead
from tests.factories import UserFactory
from tests.urlwalk import page_urls

PUBLIC = {"login", "healthz"}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path"), [p for p in page_urls() if p[0] not in PUBLIC])
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
    return demo_seed(lead_count=40)


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("rep", "open leads in my queue"),
        ("rep2", "open leads in my queue"),
        ("salesmgr", "MQLs waiting for an owner"),
        ("marketer", "Live campaigns"),
        ("mktmgr", "Live campaigns"),
        ("exec", "open disputes"),
        ("admin", "Admin"),
    ],
)
def test_every_demo_user_logs_in_and_lands_on_a_home_page_for_the_role(
    client: Client, demo, username: str, expected: str
):
    response = client.post(
        "/login/", {"username": username, "password": DEMO_PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/"
    assert expected in response.content.decode()


def test_reps_do_not_see_marketing_sections_nor_marketers_the_queue(client: Client, demo):
    client.login(username="rep", password=DEMO_PASSWORD)
    assert "Live campaigns" not in client.get("/").content.decode()
    client.login(username="marketer", password=DEMO_PASSWORD)
    body = client.get("/").content.decode()
    assert "open leads in my queue" not in body
    assert "My queue" not in body


def test_admin_works_for_admin(client: Client, demo):
    client.login(username="admin", password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/leads/lead/").status_code == 200


@pytest.mark.parametrize(("name", "path"), [p for p in page_urls() if p[0] != "logout"])
def test_every_page_answers_for_every_role(client: Client, demo, name: str, path: str):
    lead = Lead.objects.order_by("pk").first()
    from campaigns.models import Campaign

    campaign = Campaign.objects.order_by("pk").first()
    path = path.replace("/leads/1/", f"/leads/{lead.pk}/").replace(
        "/campaigns/1/", f"/campaigns/{campaign.pk}/"
    )
    from alignment.models import Agreement

    path = path.replace("/agreement/1/", f"/agreement/{Agreement.objects.get().pk}/")
    from alignment.models import Battlecard, Dispute, FieldIntel

    feedback = (("intel", FieldIntel), ("battlecards", Battlecard), ("disputes", Dispute))
    for prefix, model in feedback:
        first = model.objects.order_by("pk").first()
        path = path.replace(f"/feedback/{prefix}/1/", f"/feedback/{prefix}/{first.pk}/")
    for role in Role.values:
        user = UserFactory(username=f"walker-{role}", role=role)
        client.force_login(user)
        response = client.get(path)
        # 405: an action URL that only takes POST (its form lives on another page).
        assert response.status_code in (200, 302, 405), (name, role, response.status_code)


def test_the_lead_list_refuses_bad_filters_with_a_message(client: Client, demo):
    client.login(username="marketer", password=DEMO_PASSWORD)
    response = client.get("/leads/", {"score_min": "lots", "created_after": "yesterday"})
    assert response.status_code == 200
    assert "Enter a number" in response.content.decode()
