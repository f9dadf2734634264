"""Errors every layer may raise and the web layer answers in one way."""

from __future__ import annotations


class NotConfigured(LookupError):
    """Something the installation sets up first is missing (e.g. no agreement is active).

    Not a server error: the API answers 409 and a page 503, both with this message
    (config.api.exception_handler, config.middleware.NotConfiguredMiddleware). A
    LookupError, so callers that already read "missing" that way keep working.
    """


class Conflict(Exception):
    """Someone else got there first (a race for the same row, a duplicate): HTTP 409 in the
    API, with the id of the row that is in the way when there is one."""

    def __init__(self, message: str, *, lead_id: int | None = None) -> None:
        super().__init__(message)
        self.lead_id = lead_id
