"""Errors every layer may raise and the web layer answers in one way."""

from __future__ import annotations


class NotConfigured(LookupError):
    """Something the installation sets up first is missing (e.g. no agreement is active).

    Not a server error: the API answers 409 and a page 503, both with this message
    (config.api.exception_handler, config.middleware.NotConfiguredMiddleware). A
    LookupError, so callers that already read "missing" that way keep working.
    """
