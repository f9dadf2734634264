"""Writes of the alignment app, one module per topic; import from here."""

from alignment.services.agreement import agreement_create_default, idempotency_keys_purge

__all__ = ["agreement_create_default", "idempotency_keys_purge"]
