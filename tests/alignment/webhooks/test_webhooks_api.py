"""webhooks/: subscribe, list, unsubscribe, deliveries; each user sees only their own."""

from __future__ import annotations

import pytest

from alignment.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from alignment.webhooks.services import webhook_subscription_create

pytestmark = pytest.mark.django_db


def test_webhooks_need_auth(api_client):
    assert api_client().get("/api/v1/webhooks/").status_code == 401


def test_subscribe_shows_the_secret_once_then_lists_without_it(marketer, api_client):
    response = api_client(marketer).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/accord", "events": ["lead.created", "deal.won"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert len(body["secret"]) >= 32 and body["is_active"] is True
    assert WebhookSubscription.objects.get().secret == body["secret"]
    listed = api_client(marketer).get("/api/v1/webhooks/").json()["results"]
    assert [s["id"] for s in listed] == [body["id"]] and "secret" not in listed[0]


def test_a_given_secret_is_kept(marketer, api_client):
    api_client(marketer).post(
        "/api/v1/webhooks/",
        {"url": "https://h.example.com/", "events": ["lead.created"], "secret": "mine"},
        format="json",
    )
    assert WebhookSubscription.objects.get().secret == "mine"


def test_bad_subscriptions_are_400_with_field_errors(marketer, api_client):
    response = api_client(marketer).post(
        "/api/v1/webhooks/", {"url": "ftp://x.example.com", "events": ["nope"]}, format="json"
    )
    assert response.status_code == 400 and set(response.json()) == {"url", "events"}
    response = api_client(marketer).post(
        "/api/v1/webhooks/", {"url": "https://x.example.com", "events": []}, format="json"
    )
    assert response.status_code == 400 and "events" in response.json()


def test_others_subscriptions_are_invisible_and_cannot_be_deleted(marketer, rep, api_client):
    theirs = webhook_subscription_create(
        owner=rep, url="https://rep.example.com/", events=["lead.created"]
    )
    assert api_client(marketer).get("/api/v1/webhooks/").json()["results"] == []
    assert api_client(marketer).get(f"/api/v1/webhooks/{theirs.pk}/").status_code == 404
    assert api_client(marketer).delete(f"/api/v1/webhooks/{theirs.pk}/").status_code == 404
    assert api_client(marketer).get(f"/api/v1/webhooks/{theirs.pk}/deliveries/").status_code == 404
    assert api_client(rep).delete(f"/api/v1/webhooks/{theirs.pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_deliveries_list_every_attempt(marketer, api_client):
    subscription = webhook_subscription_create(
        owner=marketer, url="https://m.example.com/", events=["lead.created"]
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event="lead.created", event_key="lead:1", payload={"a": 1}
    )
    WebhookAttempt.objects.create(delivery=delivery, status_code=500, error="boom")
    WebhookAttempt.objects.create(delivery=delivery, status_code=200)
    body = api_client(marketer).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").json()
    [item] = body["results"]
    assert item["delivery_id"] == str(delivery.delivery_id)
    assert [a["status_code"] for a in item["attempt_log"]] == [500, 200]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://internal.example.com/",
    ],
)
def test_any_role_is_refused_a_loopback_private_or_metadata_target(
    marketer, rep, executive, fake_dns, url, api_client
):
    fake_dns["internal.example.com"] = ["10.20.30.40"]
    for user in (marketer, rep, executive):
        response = api_client(user).post(
            "/api/v1/webhooks/", {"url": url, "events": ["lead.created"]}, format="json"
        )
        assert response.status_code == 400, response.json()
        [message] = response.json()["url"]
        assert "public addresses" in message and "10.20.30.40" not in message
    assert not WebhookSubscription.objects.exists()


def test_http_is_400_in_production(marketer, api_client):
    response = api_client(marketer).post(
        "/api/v1/webhooks/",
        {"url": "http://hooks.example.com/accord", "events": ["lead.created"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"url": ["Use an https:// URL."]}


def test_past_the_cap_a_subscription_is_400_with_a_clear_message(marketer, settings, api_client):
    settings.WEBHOOK_MAX_SUBSCRIPTIONS_PER_USER = 5
    for n in range(5):
        response = api_client(marketer).post(
            "/api/v1/webhooks/",
            {"url": f"https://h{n}.example.com/", "events": ["lead.created"]},
            format="json",
        )
        assert response.status_code == 201, response.json()
    response = api_client(marketer).post(
        "/api/v1/webhooks/",
        {"url": "https://h5.example.com/", "events": ["lead.created"]},
        format="json",
    )
    assert response.status_code == 400
    [message] = response.json()["non_field_errors"]
    assert "5 active webhook subscriptions" in message and "Delete one" in message
    assert WebhookSubscription.objects.filter(owner=marketer).count() == 5
    # After unsubscribing one, there is room again.
    first = WebhookSubscription.objects.filter(owner=marketer).first()
    assert api_client(marketer).delete(f"/api/v1/webhooks/{first.pk}/").status_code == 204
    response = api_client(marketer).post(
        "/api/v1/webhooks/",
        {"url": "https://h5.example.com/", "events": ["lead.created"]},
        format="json",
    )
    assert response.status_code == 201


def test_a_refused_delivery_shows_in_the_deliveries_api(marketer, fake_dns, api_client):
    from alignment.webhooks.services import webhook_deliver

    subscription = webhook_subscription_create(
        owner=marketer, url="https://hook.example.com/", events=["lead.created"]
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event="lead.created", event_key="lead:1", payload={"a": 1}
    )
    fake_dns["hook.example.com"] = ["169.254.169.254"]
    webhook_deliver(delivery_id=delivery.pk)
    [item] = (
        api_client(marketer)
        .get(f"/api/v1/webhooks/{subscription.pk}/deliveries/")
        .json()["results"]
    )
    assert item["status"] == "failed"
    [attempt] = item["attempt_log"]
    assert attempt["status_code"] is None and attempt["error"].startswith("Refused")
    assert "169.254" not in attempt["error"]
