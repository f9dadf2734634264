"""Crafted cursors and over-deep JSON are 400s with a message, never 500s."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from config.parsers import MAX_DEPTH, nesting_depth_exceeds
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.fixture
def api(marketer) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("p=abc"),  # not an id
        _cursor("p=" + "9" * 40),  # past any integer column
        _cursor("p=1\x00"),  # a NUL
        _cursor("p=1.5"),
        _cursor("o=many"),
        _cursor("r=" + "1" * 5000),  # past int()'s digit limit
        "not base64 at all!",
        "é",  # not ASCII
        _cursor("\udcff".encode("utf-8", "surrogatepass").decode("latin-1")),
    ],
)
def test_a_crafted_cursor_is_a_400_with_a_message(api, cursor):
    LeadFactory.create_batch(3)
    for path in ("/api/v1/leads/", "/api/v1/touches/"):
        response = api.get(path, {"cursor": cursor})
        assert response.status_code == 400, (path, response.content[:200])
        assert "cursor is not valid" in response.json()["cursor"][0]


def test_the_cursors_the_api_hands_out_still_work(api):
    LeadFactory.create_batch(5)
    first = api.get("/api/v1/leads/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()
    assert [lead["id"] for lead in back["results"]] == [lead["id"] for lead in first["results"]]
    assert not {lead["id"] for lead in first["results"]} & {
        lead["id"] for lead in second["results"]
    }
    # A well-formed position past the end is a real (empty) page, not an error.
    assert api.get("/api/v1/leads/", {"cursor": _cursor("p=-5")}).json()["results"] == []


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 2_000, 9_000])  # under the anonymous body limit
def test_over_deep_json_is_a_400_on_the_token_endpoint(client: Client, depth):
    response = client.post("/api/v1/auth/token/", _nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]


def test_over_deep_json_is_a_400_everywhere_in_the_api(api):
    body = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/leads/", "/api/v1/touches/", "/api/v1/leads/import/"):
        response = api.post(path, body, content_type="application/json")
        assert response.status_code == 400, path
        assert "nested more than" in response.json()["detail"]
    keyed = api.post(
        "/api/v1/leads/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep-1"
    )
    assert keyed.status_code == 400


def test_json_up_to_the_limit_is_read(client: Client):
    body = json.dumps({"username": "nobody", "password": "x", "extra": json.loads(_nested(30))})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400  # wrong credentials: the body itself was read
    assert "non_field_errors" in response.json()


def test_depth_counts_objects_and_arrays_not_scalars():
    assert not nesting_depth_exceeds([[1, "x"], {"a": [None]}], 3)
    assert nesting_depth_exceeds([[[[]]]], 3)
    assert not nesting_depth_exceeds(json.loads(_nested(MAX_DEPTH)), MAX_DEPTH)
