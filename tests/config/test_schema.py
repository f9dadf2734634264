"""The OpenAPI schema is complete: shared error responses, headers, JSON errors."""

from __future__ import annotations

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_documents_auth_rate_limit_and_not_found(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "429" in codes, (method, path)
            if path != "/api/v1/auth/token/":
                assert {"401", "403", "404"} <= codes, (method, path)
            retry = operation["responses"]["429"]["headers"]["Retry-After"]
            assert retry["schema"]["type"] == "integer"


def test_every_post_documents_the_idempotency_key(schema):
    for path, operations in schema["paths"].items():
        if "post" in operations and path != "/api/v1/auth/token/":
            names = [p["name"] for p in operations["post"].get("parameters", [])]
            assert names.count("Idempotency-Key") == 1, path
            assert "409" in operations["post"]["responses"], path


def test_my_resources_are_in_the_schema(schema):
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/leads/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/leads/{id}/"])
    assert "post" in paths["/api/v1/leads/import/"]
    assert {"get", "post"} <= set(paths["/api/v1/webhooks/"])
    assert "delete" in paths["/api/v1/webhooks/{id}/"]
    params = {p["name"] for p in paths["/api/v1/leads/"]["get"]["parameters"]}
    assert {
        "stage",
        "owner",
        "territory",
        "score_min",
        "created_after",
        "search",
        "cursor",
    } <= params


def test_an_unknown_api_url_answers_json_404(marketer):
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    response = client.get("/api/v1/leads/not-a-number/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json()["detail"]


def _validator(schema, name: str):
    """A JSON Schema validator of one component; its "#/..." references resolve in `schema`."""
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:accord", DRAFT202012.create_resource(schema))
    return Draft202012Validator(
        {"$ref": f"urn:accord#/components/schemas/{name}"}, registry=registry
    )


def _resolve(schema, response):
    body = response.get("content", {}).get("application/json", {}).get("schema", {})
    return body.get("$ref", "").rpartition("/")[2] or None


def test_every_400_is_the_one_field_errors_shape_and_takes_drfs_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "400" in operation["responses"]:
                assert _resolve(schema, operation["responses"]["400"]) == "FieldErrors", (
                    method,
                    path,
                )
    validator = _validator(schema, "FieldErrors")
    for body in (
        {"email": ["Enter a valid email address."], "non_field_errors": ["No."]},
        {"detail": "JSON parse error"},
        {"events": {"1": ['"x" is not a valid choice.']}},
        {"rows": [{}, {"email": ["Required."]}]},
        {"custom_fields": {"size": {"0": ["Too long."]}}},
    ):
        assert validator.is_valid(body), body
    for body in ({"email": "not a list"}, {"email": [1]}, ["a list"]):
        assert not validator.is_valid(body), body


def test_a_view_conflict_on_a_post_also_allows_the_idempotency_keys_conflict(schema):
    claim = schema["paths"]["/api/v1/leads/{id}/claim/"]["post"]["responses"]["409"]
    options = claim["content"]["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/ClaimConflict"} in options
    assert {"required": ["detail"]}.items() <= options[1].items()
