"""Webhooks: signed deliveries to a receiver on loopback, retries, one id per event."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alignment.models import (
    Notification,
    StageKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from alignment.services import agreement_create_default
from alignment.services.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    webhook_backoff,
    webhook_deliver,
    webhook_emit,
    webhook_signature_verify,
    webhook_subscription_create,
)
from alignment.tasks import deliver_webhook
from leads.models import Lead
from leads.services import lead_create, lead_transition

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # answered in turn; the last one repeats
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP receiver on loopback that verifies every signature it gets."""
    state = Receiver(url="", statuses=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(
                {
                    "body": json.loads(body),
                    "delivery": self.headers[DELIVERY_HEADER],
                    "event": self.headers["X-Accord-Event"],
                    "signature_ok": webhook_signature_verify(
                        secret=SECRET, body=body, header=self.headers[SIGNATURE_HEADER]
                    ),
                }
            )
            code = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def active():
    return agreement_create_default()


@pytest.fixture
def subscription(receiver, marketer) -> WebhookSubscription:
    return webhook_subscription_create(
        owner=marketer,
        url=receiver.url,
        events=["lead.created", "lead.qualified", "lead.accepted", "lead.rejected"],
        secret=SECRET,
    )


def test_a_delivery_is_signed_and_the_receiver_verifies_it(active, subscription, receiver):
    lead = lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription, event="lead.created")

    outcome = webhook_deliver(delivery_id=delivery.pk)

    assert outcome.status == "succeeded"
    [got] = receiver.received
    assert got["signature_ok"] is True
    assert got["delivery"] == str(delivery.delivery_id) == got["body"]["id"]
    assert got["event"] == "lead.created"
    assert got["body"]["data"]["lead"]["id"] == lead.pk
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert WebhookAttempt.objects.get(delivery=delivery).status_code == 200


def test_a_wrong_secret_fails_verification():
    body = b'{"id":"x"}'
    from alignment.services.webhooks import webhook_signature

    assert not webhook_signature_verify(
        secret="other", body=body, header=webhook_signature(secret=SECRET, body=body)
    )


def test_a_failing_receiver_is_retried_with_backoff_under_the_same_delivery_id(
    active, subscription, receiver
):
    receiver.statuses = [500, 503, 200]
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription, event="lead.created")

    first = webhook_deliver(delivery_id=delivery.pk)
    second = webhook_deliver(delivery_id=delivery.pk)
    third = webhook_deliver(delivery_id=delivery.pk)
    again = webhook_deliver(delivery_id=delivery.pk)

    assert first.status == "pending" and first.retry_in is not None
    assert second.status == "pending" and second.retry_in is not None
    assert third.status == "succeeded"
    assert again.status == "skipped"  # a duplicate task run sends nothing
    assert [r["delivery"] for r in receiver.received] == [str(delivery.delivery_id)] * 3
    assert all(r["signature_ok"] for r in receiver.received)
    assert list(
        WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)
    ) == [500, 503, 200]
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_the_celery_task_retries_until_the_receiver_answers(
    active, subscription, receiver, settings
):
    settings.WEBHOOK_BACKOFF_SECONDS = 1
    receiver.statuses = [500, 200]
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription, event="lead.created")

    deliver_webhook.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2
    assert len(receiver.received) == 2


def test_backoff_grows_exponentially_and_is_capped(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 10
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 100
    waits = [webhook_backoff(attempt=n) for n in (1, 2, 3, 6)]
    assert 8 <= waits[0] <= 12
    assert 16 <= waits[1] <= 24
    assert 32 <= waits[2] <= 48
    assert 80 <= waits[3] <= 120


def test_an_unreachable_receiver_is_logged_and_retried(active, marketer):
    subscription = webhook_subscription_create(
        owner=marketer, url="http://127.0.0.1:9/nothing", events=["lead.created"], secret=SECRET
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    outcome = webhook_deliver(delivery_id=delivery.pk)
    assert outcome.status == "pending"
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error


def test_a_delivery_gives_up_after_the_last_attempt(active, subscription, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500]
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert webhook_deliver(delivery_id=delivery.pk).status == "pending"
    assert webhook_deliver(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2


def test_repeated_failures_disable_the_subscription_and_notify_its_owner(
    active, subscription, receiver, settings, marketer
):
    settings.WEBHOOK_DISABLE_AFTER = 3
    receiver.statuses = [500]
    lead_create(data={"email": "a@example.com"}, actor=None, score=False)
    lead_create(data={"email": "b@example.com"}, actor=None, score=False)
    first, second = WebhookDelivery.objects.filter(subscription=subscription).order_by("pk")
    webhook_deliver(delivery_id=first.pk)
    webhook_deliver(delivery_id=first.pk)
    assert WebhookSubscription.objects.get(pk=subscription.pk).is_active

    webhook_deliver(delivery_id=second.pk)

    subscription.refresh_from_db()
    assert not subscription.is_active and subscription.disabled_at is not None
    note = Notification.objects.get(recipient=marketer, event="webhook.disabled")
    assert receiver.url in note.title
    assert webhook_deliver(delivery_id=first.pk).status == "skipped"  # no more attempts
    assert len(receiver.received) == 3


def test_one_delivery_id_per_event_even_when_emitted_twice(active, subscription):
    webhook_emit(event="lead.created", key="lead:999", payload={"lead": {"id": 999}})
    webhook_emit(event="lead.created", key="lead:999", payload={"lead": {"id": 999}})
    webhook_emit(event="lead.created", key="lead:1000", payload={"lead": {"id": 1000}})
    ids = list(WebhookDelivery.objects.values_list("delivery_id", flat=True))
    assert len(ids) == 2 and len(set(ids)) == 2


def test_only_subscribers_of_the_event_get_a_delivery(active, marketer, subscription):
    other = webhook_subscription_create(
        owner=marketer, url="http://127.0.0.1:9/x", events=["deal.won"], secret=SECRET
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    assert not WebhookDelivery.objects.filter(subscription=other).exists()
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1


def test_the_lead_lifecycle_emits_qualified_accepted_and_rejected(active, subscription, rep):
    accepted = lead_create(data={"email": "a@example.com"}, actor=None, score=False)
    rejected = lead_create(data={"email": "b@example.com"}, actor=None, score=False)
    for lead in (accepted, rejected):
        Lead.objects.filter(pk=lead.pk).update(company="Acme", score=60, owner=rep)
        lead.refresh_from_db()
        lead_transition(lead=lead, to_stage=StageKey.MQL, actor=None)
    lead_transition(lead=accepted, to_stage=StageKey.SAL, actor=rep)
    lead_transition(
        lead=rejected,
        to_stage=StageKey.RECYCLED,
        actor=rep,
        reason_code=active.reason_codes.filter(kind="rejection").first().code,
    )
    events = sorted(WebhookDelivery.objects.values_list("event", flat=True))
    assert events == sorted(
        ["lead.created"] * 2 + ["lead.qualified"] * 2 + ["lead.accepted", "lead.rejected"]
    )


def test_a_delivery_is_enqueued_only_after_commit(
    active, subscription, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(
        deliver_webhook, "apply_async", lambda args, countdown=None: sent.append(args[0])
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
        assert sent == []
    assert len(callbacks) == 1
    assert sent == [WebhookDelivery.objects.get().pk]
