"""Domain events: a service says what happened; whoever cares subscribes.

A lower layer (the lead services) must not call a higher one (notifications, webhooks,
the rescore queue). It publishes a typed, immutable event instead::

    publish(LeadTransitioned(lead_id=..., stage_event_id=..., ...))

and the higher layer subscribes in its `handlers` module, which its app's `ready()` imports::

    @subscriber(LeadTransitioned)
    def webhook_on_transition(event: LeadTransitioned) -> None: ...

Two kinds of handler, chosen when subscribing:
- `@subscriber(E)` writes rows (a notification, a webhook delivery: Accord's outboxes). It
  runs inside the publishing transaction, in a savepoint of its own: its rows commit with the
  change or vanish with it (a move that rolls back notifies nobody, a committed one is never
  left without its webhook), and a handler that fails is rolled back alone and logged; the
  change and the other handlers go on.
- `@subscriber(E, on_commit=True)` reaches outside the database (enqueues a Celery task). It
  runs once the transaction commits (Django's `on_commit`; at once under autocommit), so a
  worker never looks for a row that is not there yet, or never will be. As with any
  `on_commit` hook, what it raises reaches the caller (a refused enqueue becomes a 503).
Handlers run in the order they subscribed. Events carry ids and facts, not model instances.

Which events exist, who publishes and who subscribes: docs/architecture.md
(`python tools/architecture.py` prints the list from the code).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event: frozen, keyword-only fields, ids rather than rows."""


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


@dataclass(frozen=True)
class Subscription:
    handler: Handler
    on_commit: bool

    @property
    def name(self) -> str:
        return f"{self.handler.__module__}.{getattr(self.handler, '__qualname__', self.handler)}"


_subscriptions: defaultdict[type[Event], list[Subscription]] = defaultdict(list)


def subscriber(
    *event_types: type[E], on_commit: bool = False
) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    """Register the decorated function for each of `event_types` (once, however often the
    module is imported). `on_commit=True` for a handler that reaches outside the database."""

    def register(handler: Callable[[E], None]) -> Callable[[E], None]:
        for event_type in event_types:
            if not (isinstance(event_type, type) and issubclass(event_type, Event)):
                raise TypeError(f"{event_type!r} is not an Event type")
            found = _subscriptions[event_type]
            if all(s.handler is not handler for s in found):
                found.append(Subscription(handler=handler, on_commit=on_commit))
        return handler

    return register


def subscriptions() -> dict[type[Event], list[Subscription]]:
    """Every event type with its handlers, for docs/architecture.md and the tests."""
    return {event_type: list(found) for event_type, found in _subscriptions.items()}


def _run(subscription: Subscription, event: Event) -> None:
    try:
        with transaction.atomic():
            subscription.handler(event)
    except Exception:
        log.exception("Handler %s failed on %r", subscription.name, event)


def publish(event: Event) -> None:
    """Hand `event` to its subscribers: row-writing ones now, in a savepoint each; the rest
    once the current transaction commits."""
    if not isinstance(event, Event):
        raise TypeError(f"{event!r} is not an Event")
    for subscription in list(_subscriptions.get(type(event), ())):
        if subscription.on_commit:
            transaction.on_commit(partial(subscription.handler, event))
        else:
            _run(subscription, event)
