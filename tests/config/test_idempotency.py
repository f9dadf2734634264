"""Idempotency-Key on creating POSTs: replay, 409 on another body, one record under a race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from alignment.agreement.services import agreement_create_default, idempotency_keys_purge
from alignment.models import IdempotencyKey
from leads.models import Lead
from tests.conftest import need


def _client(user) -> Client:
    token = Token.objects.get_or_create(user=user)[0]
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def _post(client: Client, body: dict, key: str | None = "key-1", path="/api/v1/leads/"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_response_and_creates_nothing(marketer):
    agreement_create_default()
    client = _client(marketer)
    first = _post(client, {"email": "ada@example.com", "company": "Acme"})
    second = _post(client, {"company": "Acme", "email": "ada@example.com"})  # same JSON
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 1 and IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_409(marketer):
    agreement_create_default()
    client = _client(marketer)
    assert _post(client, {"email": "ada@example.com"}).status_code == 201
    response = _post(client, {"email": "grace@example.com"})
    assert response.status_code == 409 and response.json()["detail"]
    assert Lead.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_a_user_and_requests_without_a_key_are_unaffected(
    marketer, marketing_manager
):
    agreement_create_default()
    assert _post(_client(marketer), {"email": "a@example.com"}).status_code == 201
    assert _post(_client(marketing_manager), {"email": "b@example.com"}).status_code == 201
    assert _post(_client(marketer), {"email": "c@example.com"}, key=None).status_code == 201
    assert _post(_client(marketer), {"email": "c@example.com"}, key=None).status_code == 409
    assert Lead.objects.count() == 3


@pytest.mark.django_db
def test_a_refused_request_is_not_kept_so_it_can_be_retried(executive, marketer):
    agreement_create_default()
    assert _post(_client(executive), {"email": "a@example.com"}).status_code == 403
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_multipart_upload_with_a_new_boundary_is_the_same_body(marketer):
    agreement_create_default()
    client = _client(marketer)
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload():
        return client.post(
            "/api/v1/leads/import/",
            {"file": SimpleUploadedFile("l.csv", b"email\nada@example.com\n")},
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first, second = upload(), upload()
    assert first.status_code == 200, first.content
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["key-1", None])
def test_a_multipart_body_without_a_boundary_is_a_400_with_a_message(marketer, key):
    agreement_create_default()
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = _client(marketer).post(
        "/api/v1/leads/", b"email=ada@example.com", content_type="multipart/form-data", **headers
    )
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not Lead.objects.exists() and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_request_limit_with_a_key_is_a_413_with_a_message(marketer, settings):
    agreement_create_default()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = _post(_client(marketer), {"email": "ada@example.com", "company": "x" * 2000})
    assert response.status_code == 413 and response.json()["detail"]
    assert not Lead.objects.exists() and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_keys_are_kept_a_day_and_purged_later(marketer):
    fresh = IdempotencyKey.objects.create(
        user=marketer, key="a", method="POST", path="/", body_hash="x"
    )
    old = IdempotencyKey.objects.create(
        user=marketer, key="b", method="POST", path="/", body_hash="x"
    )
    IdempotencyKey.objects.filter(pk=fresh.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=49))
    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["a"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_create_one_record(marketer):
    need(connection.vendor == "postgresql", "concurrent requests need PostgreSQL")
    agreement_create_default()
    token = Token.objects.create(user=marketer).key
    barrier = threading.Barrier(4)
    responses = []

    def send() -> None:
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        try:
            responses.append(_post(client, {"email": "race@example.com"}, key="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Lead.objects.filter(email="race@example.com").count() == 1
    assert IdempotencyKey.objects.filter(key="race").count() == 1
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    assert sum(1 for r in created if not r.has_header("Idempotent-Replayed")) == 1
