"""OpenAPI post-processing: the error responses and headers every operation shares.

Each view documents its own success and domain errors; this hook adds what the
plumbing answers everywhere, so the schema is complete: 401 (no credentials), 403
(role), 404 (unknown id or page), 429 (rate limit, with Retry-After), 400 wherever
the request carries parameters or a body, 413 wherever it carries a body, and on every
POST the Idempotency-Key header with its 409.
"""

from __future__ import annotations

from typing import Any

_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_MESSAGES = {"type": "array", "items": {"type": "string"}}
_FIELD_ERRORS_REF = {"$ref": "#/components/schemas/FieldErrors"}
# The one 400 body (component FieldErrors): messages by field name; "non_field_errors"
# for the body as a whole; "detail" alone when the body cannot be read at all. A field
# made of parts answers by part: a list by position ({"events": {"1": [...]}}), an
# object by key, a list of objects with one (maybe empty) object per item.
FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'Validation errors by field: {"field": ["message", ...]}; '
    '"non_field_errors" for the request as a whole; {"detail": "..."} when the body '
    "cannot be read; a list or object field's errors by position or key.",
    "properties": {"detail": {"type": "string"}, "non_field_errors": _MESSAGES},
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"anyOf": [{"type": "string"}, _FIELD_ERRORS_REF]}},
            _FIELD_ERRORS_REF,
        ]
    },
}
_COMMON = {
    "401": "Authentication credentials were not provided or are invalid.",
    "403": "Your role may not do this.",
    "404": "No such object (or page).",
    "429": "Rate limit exceeded: retry after the number of seconds in Retry-After.",
}
_PUBLIC = ("/api/v1/auth/token/",)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def common_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "FieldErrors", FIELD_ERRORS_SCHEMA
    )
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, description in _COMMON.items():
                if path in _PUBLIC and code in ("401", "403", "404"):
                    continue
                if code not in responses:
                    responses[code] = _json(_DETAIL, description)
            if "429" in responses:
                responses["429"].setdefault(
                    "headers",
                    {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before the next request.",
                        }
                    },
                )
            if (operation.get("parameters") or operation.get("requestBody")) and (
                "400" not in responses
            ):
                responses["400"] = _json(_FIELD_ERRORS_REF, "Invalid parameters or body.")
            if operation.get("requestBody") and "413" not in responses:
                responses["413"] = _json(_DETAIL, "The request body is too large.")
            if method == "post" and path not in _PUBLIC:
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(
                        {
                            "in": "header",
                            "name": "Idempotency-Key",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "Replays the first response for the same key "
                            "and body (kept 24 hours at least); another body is 409.",
                        }
                    )
                if "409" not in responses:
                    responses["409"] = _json(
                        _DETAIL, "Conflict, or the Idempotency-Key was used with another body."
                    )
                else:
                    _idempotency_conflict_allowed(responses["409"], result)
    return result


def _idempotency_conflict_allowed(response: dict[str, Any], result: dict[str, Any]) -> None:
    """A view's own 409 may require more than "detail" (e.g. the claimed lead's "id");
    the Idempotency-Key's 409 has "detail" only, so the schema accepts either."""
    media = response.get("content", {}).get("application/json")
    if not media or "schema" not in media:
        return
    schema = media["schema"]
    ref = schema.get("$ref", "")
    component = result.get("components", {}).get("schemas", {}).get(ref.rpartition("/")[2], {})
    required = (component if ref else schema).get("required", [])
    if set(required) <= {"detail"}:
        return
    media["schema"] = {"anyOf": [schema, _DETAIL]}
    response["description"] = (
        response.get("description", "").rstrip(".")
        + "; or the Idempotency-Key was used with another body."
    )
