"""API errors speak the client's language; field names and codes stay English."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alignment.accounts.services import profile_update
from alignment.agreement.services import agreement_create_default

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "expected"),
    [("pl", "Podaj poprawny adres e-mail."), ("en", "Enter a valid email address.")],
)
def test_an_api_400_names_english_fields_with_messages_in_the_requested_language(
    marketer, language, expected
):
    agreement_create_default()
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    response = client.post(
        "/api/v1/leads/", {"email": "not-an-email", "source": "nowhere"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"email", "source"}  # field names are the API's, in English
    assert body["email"] == [expected]
    assert "nowhere" in body["source"][0]  # the refused code is quoted as sent


def test_an_api_token_speaks_its_users_chosen_language_over_the_clients_header(marketer):
    agreement_create_default()
    profile_update(user=marketer, language="pl")
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    response = client.post("/api/v1/leads/", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert response.json()["email"] == ["Podaj poprawny adres e-mail."]
    assert response["Content-Language"] == "pl"


def test_a_bad_token_is_refused_in_the_clients_language():
    client = APIClient(HTTP_ACCEPT_LANGUAGE="pl", HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get("/api/v1/leads/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Niepoprawny token."  # DRF's own Polish


def test_touch_metadata_that_is_no_object_is_a_400_in_the_clients_language(marketer):
    agreement_create_default()
    client = APIClient(HTTP_ACCEPT_LANGUAGE="pl")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    response = client.post(
        "/api/v1/touches/",
        {"lead": "nobody@example.com", "kind": "email_open", "metadata": [1, 2]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["metadata"] == ["Wyślij obiekt JSON z kluczami i wartościami."]
    # Messages fixed when the serializer class is defined are translated per request too.
    assert response.json()["lead"] == ["Brak leada o tym identyfikatorze lub adresie e-mail."]
