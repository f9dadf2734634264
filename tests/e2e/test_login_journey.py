from __future__ import annotations

import pytest
from playwright.sync_api import expect

from config.demo import DEMO_PASSWORD, demo_seed
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("username", "landmark"),
    [("rep", "Most urgent in my queue"), ("marketer", "Live campaigns"), ("exec", "open dispute")],
)
def test_a_user_logs_in_in_a_real_browser_and_sees_their_home(page, username, landmark):
    demo_seed(lead_count=30, scorecard_weeks=1)
    page.goto("/")
    assert "/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    expect(page.get_by_text(landmark).first).to_be_visible()
    screenshot(page, f"home-{username}")
    page.click("text=Log out")
    page.wait_for_url("**/login/")


def test_a_wrong_password_gets_a_clear_message(page):
    demo_seed(lead_count=5, scorecard_weeks=1)
    page.goto("/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "not-it")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_be_visible()
    assert "correct username and password" in page.get_by_role("alert").inner_text()
