"""What the webhook outbox announces (config.events)."""

from __future__ import annotations

from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, kw_only=True)
class WebhookDeliveriesRecorded(Event):
    """Deliveries committed by one transaction, waiting for the worker (published by the
    outbox at commit, so its handler runs after the rows exist)."""

    delivery_ids: tuple[int, ...]
