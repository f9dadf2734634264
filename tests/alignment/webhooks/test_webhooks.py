"""Webhooks: signed deliveries to a receiver on loopback, retries, one id per event;
targets that cannot be turned against our own network (SSRF), no redirects, one deadline,
a cap on subscriptions, and fan-out that costs a request the same however many subscribe.

A receiver on 127.0.0.1 needs WEBHOOK_ALLOW_PRIVATE_TARGETS (the `receiver` fixture sets
it); tests of refusals leave it off and answer names through `fake_dns` (tests/conftest.py),
never connecting to a refused address.
"""

from __future__ import annotations

import json
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from alignment.agreement.selectors import funnel_active
from alignment.models import (
    Notification,
    StageKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from alignment.tasks import deliver_webhook, deliver_webhooks
from alignment.webhooks import http as webhook_http
from alignment.webhooks.services import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_backoff,
    webhook_deliver,
    webhook_emit,
    webhook_signature,
    webhook_signature_verify,
    webhook_subscription_create,
)
from leads.imports.importer import lead_import
from leads.models import Lead
from leads.services import lead_create, lead_transition
from tests.conftest import need
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    url: str
    port: int
    statuses: list[int]  # answered in turn; the last one repeats
    location: str = ""  # sent with a 3xx
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """An HTTP receiver on loopback that verifies every signature it gets (with its
    timestamp, as a real receiver would). Any method and path is recorded."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    state = Receiver(url="", port=0, statuses=[200])

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers["Content-Length"] or 0)
            body = self.rfile.read(length)
            state.received.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "host": self.headers["Host"],
                    "body": json.loads(body) if body else None,
                    "delivery": self.headers[DELIVERY_HEADER],
                    "event": self.headers["X-Accord-Event"],
                    "timestamp": self.headers[TIMESTAMP_HEADER],
                    "signature_ok": webhook_signature_verify(
                        secret=SECRET,
                        body=body,
                        timestamp=self.headers[TIMESTAMP_HEADER],
                        header=self.headers[SIGNATURE_HEADER],
                    ),
                }
            )
            code = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(code)
            if 300 <= code < 400:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _record

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def subscription(receiver, marketer) -> WebhookSubscription:
    return webhook_subscription_create(
        owner=marketer,
        url=receiver.url,
        events=["lead.created", "lead.qualified", "lead.accepted", "lead.rejected"],
        secret=SECRET,
    )


def test_a_delivery_is_signed_and_the_receiver_verifies_it(
    active_agreement, subscription, receiver
):
    lead = lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription, event="lead.created")

    outcome = webhook_deliver(delivery_id=delivery.pk)

    assert outcome.status == "succeeded"
    [got] = receiver.received
    assert got["signature_ok"] is True
    assert abs(int(got["timestamp"]) - time.time()) < 60
    assert got["method"] == "POST" and got["path"] == "/hook"
    assert got["delivery"] == str(delivery.delivery_id) == got["body"]["id"]
    assert got["event"] == "lead.created"
    assert got["body"]["data"]["lead"]["id"] == lead.pk
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert WebhookAttempt.objects.get(delivery=delivery).status_code == 200


def test_a_wrong_secret_fails_verification():
    body = b'{"id":"x"}'
    stamp = str(int(time.time()))
    assert not webhook_signature_verify(
        secret="other",
        body=body,
        timestamp=stamp,
        header=webhook_signature(secret=SECRET, timestamp=stamp, body=body),
    )


def test_a_failing_receiver_is_retried_with_backoff_under_the_same_delivery_id(
    active_agreement, subscription, receiver
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
    active_agreement, subscription, receiver, settings
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


def test_an_unreachable_receiver_is_logged_and_retried(active_agreement, marketer, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    subscription = webhook_subscription_create(
        owner=marketer, url="http://127.0.0.1:9/nothing", events=["lead.created"], secret=SECRET
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    outcome = webhook_deliver(delivery_id=delivery.pk)
    assert outcome.status == "pending"
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error


def test_a_delivery_gives_up_after_the_last_attempt(
    active_agreement, subscription, receiver, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500]
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert webhook_deliver(delivery_id=delivery.pk).status == "pending"
    assert webhook_deliver(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2


def test_repeated_failures_disable_the_subscription_and_notify_its_owner(
    active_agreement, subscription, receiver, settings, marketer
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


def test_one_delivery_id_per_event_even_when_emitted_twice(active_agreement, subscription):
    webhook_emit(event="lead.created", key="lead:999", payload={"lead": {"id": 999}})
    webhook_emit(event="lead.created", key="lead:999", payload={"lead": {"id": 999}})
    webhook_emit(event="lead.created", key="lead:1000", payload={"lead": {"id": 1000}})
    ids = list(WebhookDelivery.objects.values_list("delivery_id", flat=True))
    assert len(ids) == 2 and len(set(ids)) == 2


def test_only_subscribers_of_the_event_get_a_delivery(active_agreement, marketer, subscription):
    # (the subscription fixture's receiver allows loopback targets)
    other = webhook_subscription_create(
        owner=marketer, url="http://127.0.0.1:9/x", events=["deal.won"], secret=SECRET
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    assert not WebhookDelivery.objects.filter(subscription=other).exists()
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1


def test_the_lead_lifecycle_emits_qualified_accepted_and_rejected(
    active_agreement, subscription, rep
):
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
        reason_code=active_agreement.reason_codes.filter(kind="rejection").first().code,
    )
    events = sorted(WebhookDelivery.objects.values_list("event", flat=True))
    assert events == sorted(
        ["lead.created"] * 2 + ["lead.qualified"] * 2 + ["lead.accepted", "lead.rejected"]
    )


def test_a_delivery_is_enqueued_only_after_commit(
    active_agreement, subscription, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[list[int]] = []
    monkeypatch.setattr(deliver_webhooks, "apply_async", lambda args: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
        assert sent == []
    assert len(callbacks) == 1
    assert sent == [[WebhookDelivery.objects.get().pk]]


# --- the signature covers the timestamp; receivers reject replays -------------------------


def test_the_signature_covers_the_timestamp():
    body = b'{"id":"x"}'
    then = int(time.time()) - 3600
    captured = webhook_signature(secret=SECRET, timestamp=then, body=body)
    now = str(int(time.time()))
    # An eavesdropper replaying the body and signature under a fresh timestamp fails.
    assert not webhook_signature_verify(secret=SECRET, body=body, timestamp=now, header=captured)
    assert webhook_signature(secret=SECRET, timestamp=now, body=body) != captured
    assert webhook_signature_verify(
        secret=SECRET,
        body=body,
        timestamp=now,
        header=webhook_signature(secret=SECRET, timestamp=now, body=body),
    )


def test_a_timestamp_outside_the_five_minute_window_is_rejected():
    body = b"{}"
    stamp = 1_800_000_000
    header = webhook_signature(secret=SECRET, timestamp=stamp, body=body)

    def verify(now: float, timestamp: str | None = str(stamp)) -> bool:
        return webhook_signature_verify(
            secret=SECRET, body=body, timestamp=timestamp, header=header, now=now
        )

    assert verify(stamp + 299) and verify(stamp - 299)
    assert not verify(stamp + 301)  # a replay of an old delivery
    assert not verify(stamp - 301)  # from the future: a clock far off
    assert not verify(stamp, timestamp=None)
    assert not verify(stamp, timestamp="1.8e9")
    assert not verify(stamp, timestamp=f" {stamp}")


# --- targets that cannot be turned against our own network (SSRF) -------------------------


REFUSED_URLS = [
    "https://127.0.0.1/hook",
    "https://127.0.0.1:6379/",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/",
    "https://10.0.0.5/",
    "https://192.168.1.1/",
    "https://172.16.0.1/",
    "https://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "https://[fc00::1]/",
    "https://[fec0::1]/",  # site-local
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "https://[::ffff:169.254.169.254]/",
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata service
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[::]/",
    "https://localhost/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_non_public_target_is_refused_when_subscribing(marketer, url):
    with pytest.raises(ValidationError) as refused:
        webhook_subscription_create(owner=marketer, url=url, events=["lead.created"])
    assert set(refused.value.message_dict) == {"url"}
    assert not WebhookSubscription.objects.exists()


def test_a_name_is_refused_when_any_address_it_resolves_to_is_private(marketer, fake_dns):
    fake_dns["inside.example.com"] = ["10.1.2.3"]
    fake_dns["mixed.example.com"] = ["93.184.215.14", "169.254.169.254"]
    fake_dns["gone.example.com"] = []
    for host in ("inside.example.com", "mixed.example.com", "gone.example.com"):
        with pytest.raises(ValidationError) as refused:
            webhook_subscription_create(
                owner=marketer, url=f"https://{host}/hook", events=["lead.created"]
            )
        [message] = refused.value.message_dict["url"]
        # The same message for all three, naming no address: subscribing is no way to
        # learn which internal names exist or where they point.
        assert "10.1.2.3" not in message and "169.254" not in message
    assert not WebhookSubscription.objects.exists()


def test_a_public_https_target_is_accepted_and_http_only_in_development(marketer, settings):
    kept = webhook_subscription_create(
        owner=marketer, url="https://hooks.example.com/accord", events=["lead.created"]
    )
    assert kept.url == "https://hooks.example.com/accord"
    with pytest.raises(ValidationError) as refused:
        webhook_subscription_create(
            owner=marketer, url="http://hooks.example.com/accord", events=["lead.created"]
        )
    assert "https://" in refused.value.message_dict["url"][0]

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    webhook_subscription_create(
        owner=marketer, url="http://127.0.0.1:8001/hook", events=["lead.created"]
    )
    # Even for local development: never link-local (the metadata service) or multicast.
    for url in ("http://169.254.169.254/", "http://[fe80::1]/", "http://224.0.0.1/"):
        with pytest.raises(ValidationError):
            webhook_subscription_create(owner=marketer, url=url, events=["lead.created"])


@pytest.fixture
def no_connections(monkeypatch) -> list[object]:
    """Records (and stops) every outgoing connect: a refusal must not even try."""
    tried: list[object] = []

    def connect(self, address):
        tried.append(address)
        raise AssertionError(f"connected to {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return tried


@pytest.mark.parametrize("rebound_to", ["169.254.169.254", "127.0.0.1", "::ffff:10.0.0.1"])
def test_a_delivery_checks_dns_again_and_never_connects_to_a_refused_address(
    active_agreement, marketer, fake_dns, no_connections, rebound_to
):
    subscription = webhook_subscription_create(
        owner=marketer, url="https://hook.example.com/in", events=["lead.created"], secret=SECRET
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    fake_dns["hook.example.com"] = [rebound_to]  # the name now points inside

    outcome = webhook_deliver(delivery_id=delivery.pk)

    assert no_connections == []
    assert outcome.status == "failed" and outcome.retry_in is None  # refused: not retried
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert attempt.error.startswith("Refused, nothing sent") and rebound_to not in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://2130706433/",  # 127.0.0.1 in decimal
        "https://0x7f.1/",  # and in hex, short form
    ],
)
def test_a_subscription_made_before_these_checks_is_refused_at_delivery(
    active_agreement, marketer, no_connections, url
):
    subscription = WebhookSubscription.objects.create(
        owner=marketer, url=url, events=["lead.created"]
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert webhook_deliver(delivery_id=delivery.pk).status == "failed"
    assert no_connections == []
    assert WebhookAttempt.objects.get(delivery=delivery).error.startswith("Refused")


def test_the_connection_goes_to_the_vetted_address_with_the_name_as_host(
    active_agreement, marketer, receiver, monkeypatch
):
    """One lookup per attempt: a name that answers differently the second time (DNS
    rebinding) cannot slip another address in between the check and the connection."""
    lookups: list[str] = []
    resolve = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "hook.example.com":
            lookups.append(host)
            host = "127.0.0.1" if len(lookups) % 2 else "127.0.0.2"  # 2nd: elsewhere
        return resolve(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    subscription = webhook_subscription_create(
        owner=marketer,
        url=f"http://hook.example.com:{receiver.port}/in?x=1",
        events=["lead.created"],
        secret=SECRET,
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    lookups.clear()

    assert webhook_deliver(delivery_id=delivery.pk).status == "succeeded"

    assert lookups == ["hook.example.com"]
    [got] = receiver.received
    assert got["host"] == f"hook.example.com:{receiver.port}"
    assert got["path"] == "/in?x=1" and got["signature_ok"]


def test_a_redirect_is_not_followed_and_is_a_failure_with_its_status(
    active_agreement, subscription, receiver
):
    receiver.statuses = [302]
    receiver.location = f"http://127.0.0.1:{receiver.port}/elsewhere"
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    outcome = webhook_deliver(delivery_id=delivery.pk)

    assert outcome.status == "pending" and outcome.retry_in is not None
    assert [(r["method"], r["path"]) for r in receiver.received] == [("POST", "/hook")]
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 302 and "redirect" in attempt.error


@pytest.fixture
def trickler(settings) -> Iterator[str]:
    """A receiver on loopback that answers one byte every 0.2 s for about 8 s."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    stop = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slow: " + b"a" * 20 + b"\r\n\r\n"

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            for byte in answer:
                if stop.wait(0.2):
                    return
                try:
                    self.request.sendall(bytes([byte]))
                except OSError:  # the client gave up
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow"
    stop.set()
    server.shutdown()
    server.server_close()


def test_a_trickling_receiver_cannot_hold_a_delivery_past_the_deadline(
    active_agreement, marketer, trickler, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    subscription = webhook_subscription_create(
        owner=marketer, url=trickler, events=["lead.created"], secret=SECRET
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    outcome = webhook_deliver(delivery_id=delivery.pk)

    assert outcome.status == "pending"  # retried later, like any timeout
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "within 1 seconds" in attempt.error
    # Each byte came well within a per-read timeout; the whole answer would take ~8 s.
    assert attempt.duration_ms < 4000


@pytest.fixture
def tls_receiver(settings, fake_dns, tmp_path, monkeypatch) -> Iterator[int]:
    """An https receiver on 127.0.0.1 whose certificate names hook.example.com only;
    the worker trusts that certificate (and nothing else) for the test. Yields its port."""
    need(shutil.which("openssl") is not None, "openssl is not installed")
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=hook.example.com", "-addext", "subjectAltName=DNS:hook.example.com"],
        check=True, capture_output=True,
    )  # fmt: skip
    fake_dns["hook.example.com"] = ["127.0.0.1"]
    fake_dns["other.example.com"] = ["127.0.0.1"]
    monkeypatch.setattr(webhook_http, "_tls", ssl.create_default_context(cafile=str(cert)))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_pinned_address_and_checks_the_certificate_for_the_name(
    active_agreement, marketer, tls_receiver
):
    good = webhook_subscription_create(
        owner=marketer, url=f"https://hook.example.com:{tls_receiver}/", events=["lead.created"]
    )
    wrong = webhook_subscription_create(
        owner=marketer, url=f"https://other.example.com:{tls_receiver}/", events=["lead.created"]
    )
    lead_create(data={"email": "ada@example.com"}, actor=None, score=False)

    assert webhook_deliver(delivery_id=good.deliveries.get().pk).status == "succeeded"
    assert webhook_deliver(delivery_id=wrong.deliveries.get().pk).status == "pending"
    attempt = WebhookAttempt.objects.get(delivery__subscription=wrong)
    assert attempt.status_code is None and "TLS failed" in attempt.error


def test_a_tls_handshake_that_never_comes_ends_at_the_deadline(
    active_agreement, marketer, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, then says nothing
    try:
        subscription = webhook_subscription_create(
            owner=marketer,
            url=f"https://127.0.0.1:{silent.getsockname()[1]}/",
            events=["lead.created"],
        )
        lead_create(data={"email": "ada@example.com"}, actor=None, score=False)
        assert webhook_deliver(delivery_id=subscription.deliveries.get().pk).status == "pending"
    finally:
        silent.close()
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "within 1 seconds" in attempt.error
    assert attempt.duration_ms < 4000


# --- a cap on subscriptions ---------------------------------------------------------------


def test_an_owner_has_at_most_the_configured_active_subscriptions(marketer, settings):
    settings.WEBHOOK_MAX_SUBSCRIPTIONS_PER_USER = 3
    made = [
        webhook_subscription_create(
            owner=marketer, url=f"https://h{n}.example.com/", events=["lead.created"]
        )
        for n in range(3)
    ]
    with pytest.raises(ValidationError) as refused:
        webhook_subscription_create(
            owner=marketer, url="https://h9.example.com/", events=["lead.created"]
        )
    assert "3 active webhook subscriptions" in refused.value.messages[0]
    # Someone else's count is their own; a disabled subscription does not count.
    webhook_subscription_create(
        owner=UserFactory(username="other"), url="https://o.example.com/", events=["deal.won"]
    )
    WebhookSubscription.objects.filter(pk=made[0].pk).update(is_active=False)
    webhook_subscription_create(
        owner=marketer, url="https://h9.example.com/", events=["lead.created"]
    )
    assert WebhookSubscription.objects.filter(owner=marketer, is_active=True).count() == 3


# --- fan-out that does not slow the request -----------------------------------------------


@pytest.fixture
def messages(monkeypatch) -> dict[str, list]:
    """What would go to the broker, by task (nothing leaves the process)."""
    sent: dict[str, list] = {"deliver_webhooks": [], "deliver_webhook": []}
    monkeypatch.setattr(
        deliver_webhooks, "apply_async", lambda args: sent["deliver_webhooks"].append(args[0])
    )
    monkeypatch.setattr(
        deliver_webhook,
        "apply_async",
        lambda args, countdown=None: sent["deliver_webhook"].append(args[0]),
    )
    return sent


def test_an_import_costs_the_same_however_many_subscribe(
    active_agreement, marketer, messages, django_capture_on_commit_callbacks
):
    def run(batch: str, rows: int = 40) -> int:
        data = [{"email": f"{batch}{n}@example.com"} for n in range(rows)]
        with (
            django_capture_on_commit_callbacks(execute=True),
            CaptureQueriesContext(connection) as queries,
        ):
            result = lead_import(rows=data, user=marketer)
        assert result.created == rows
        return len(queries)

    def subscribe(n: int) -> None:
        for i in range(n):
            owner = UserFactory(username=f"integrator{n}-{i}")
            WebhookSubscription.objects.create(
                owner=owner, url=f"https://h{n}-{i}.example.com/", events=["lead.created"]
            )

    funnel_active()  # the agreement's funnel is cached per version: both runs find it so
    subscribe(1)
    with_one = run("one")
    subscribe(6)
    with_seven = run("seven")

    assert with_seven == with_one  # no query per subscription
    assert len(messages["deliver_webhooks"]) == 2  # one message per import, not per delivery
    assert messages["deliver_webhook"] == []  # nothing delivered or enqueued one by one
    assert [len(ids) for ids in messages["deliver_webhooks"]] == [40, 280]
    assert WebhookDelivery.objects.count() == 40 + 280

    # The worker fans the message out into one delivery task each.
    deliver_webhooks.apply(args=[messages["deliver_webhooks"][1]])
    assert sorted(messages["deliver_webhook"]) == sorted(messages["deliver_webhooks"][1])


def test_deliveries_of_a_rolled_back_savepoint_are_not_fanned_out(
    active_agreement, subscription, messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            webhook_emit(event="lead.created", key="lead:1", payload={"n": 1})
            raise RuntimeError("rolled back")
        webhook_emit(event="lead.created", key="lead:2", payload={"n": 2})
    kept = WebhookDelivery.objects.get()
    assert kept.event_key == "lead:2"
    [ids] = messages["deliver_webhooks"]
    deliver_webhooks.apply(args=[ids])
    assert messages["deliver_webhook"] == [kept.pk]
