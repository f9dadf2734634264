"""Outgoing webhooks: record one delivery per event and subscription, deliver it signed.

`webhook_emit` is what Accord calls when something happens (directly from the feedback,
campaign and metric services; for lead events from `alignment.webhooks.handlers`); it
writes `WebhookDelivery` rows inside the caller's transaction and, once that transaction
commits, announces them (`WebhookDeliveriesRecorded`) so that one message takes them all
to the worker (`deliver_webhooks`), which fans them out: the request never does
per-subscription work beyond one INSERT. `webhook_deliver` makes one signed attempt (the
Celery task `alignment.webhooks.tasks.deliver_webhook` calls it and retries with backoff) through
`alignment.webhooks.http`, which refuses non-public targets, pins the vetted
address, follows no redirect and holds one deadline.

Receivers verify `X-Accord-Signature: sha256=<hex>`, the HMAC-SHA256 with the
subscription's secret of `f"{X-Accord-Timestamp}.{raw body}"`, and reject timestamps
more than WEBHOOK_REPLAY_WINDOW_SECONDS away from their clock (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from alignment.notifications.services import notification_send
from alignment.webhooks.events import WebhookDeliveriesRecorded
from alignment.webhooks.http import webhook_post, webhook_url_check
from config.events import publish
from config.generations import generation_bump, memo

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Accord-Signature"
DELIVERY_HEADER = "X-Accord-Delivery"
EVENT_HEADER = "X-Accord-Event"
TIMESTAMP_HEADER = "X-Accord-Timestamp"
# Receivers reject a delivery whose timestamp is further than this from their clock.
WEBHOOK_REPLAY_WINDOW_SECONDS = 300
# Delivery ids per message to the worker's fan-out task.
FAN_OUT_CHUNK = 500


def webhook_signature(*, secret: str, timestamp: str | int, body: bytes) -> str:
    """The signature header's value: `sha256=` + hex HMAC-SHA256 of `{timestamp}.{body}`.

    The timestamp is signed with the body, so an old delivery cannot be replayed under
    a fresh timestamp.
    """
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_verify(
    *,
    secret: str,
    body: bytes,
    timestamp: str | None,
    header: str | None,
    now: float | None = None,
    tolerance: int = WEBHOOK_REPLAY_WINDOW_SECONDS,
) -> bool:
    """What a receiver does: check the timestamp is recent, recompute, compare in constant time.

    False for a missing or malformed timestamp, one more than `tolerance` seconds from
    `now` (either way: a replay, or a clock far off), or a signature that does not match.
    """
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    expected = webhook_signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, header or "")


# --- subscriptions ---------------------------------------------------------------------


def webhook_subscription_create(
    *, owner: User, url: str, events: list[str], secret: str = ""
) -> WebhookSubscription:
    """Subscribe `url` to `events`; a secret is generated when none is given.

    The URL must be https and resolve to public addresses only (webhook_http), and an
    owner has at most WEBHOOK_MAX_SUBSCRIPTIONS_PER_USER active subscriptions.
    """
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if not events:
        raise ValidationError({"events": [_("Choose at least one event.")]})
    if unknown:
        raise ValidationError(
            {"events": [_("Unknown events: %(events)s.") % {"events": ", ".join(unknown)}]}
        )
    subscription = WebhookSubscription(
        owner=owner,
        url=url,
        events=sorted(set(events)),
        secret=secret or secrets.token_urlsafe(32),
    )
    subscription.full_clean()
    webhook_url_check(url)  # resolves the host: outside the transaction and its lock
    with transaction.atomic():
        # Concurrent subscriptions of one owner queue here, so the cap holds.
        list(type(owner)._default_manager.select_for_update().filter(pk=owner.pk).values("pk"))
        limit = settings.WEBHOOK_MAX_SUBSCRIPTIONS_PER_USER
        if WebhookSubscription.objects.filter(owner=owner, is_active=True).count() >= limit:
            raise ValidationError(
                _(
                    "You already have %(count)s active webhook subscriptions, the most "
                    "allowed. Delete one before adding another."
                )
                % {"count": limit}
            )
        subscription.save()
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Delete a subscription and its delivery log; deleting twice is a no-op."""
    WebhookSubscription.objects.filter(pk=subscription.pk).delete()


# --- emitting --------------------------------------------------------------------------


def _subscribers(event: str) -> list[WebhookSubscription]:
    # Few subscriptions exist; matching the JSON list in Python works on every database.
    return [
        s
        for s in WebhookSubscription.objects.filter(is_active=True).only("id", "events")
        if event in (s.events or [])
    ]


# Active subscriptions are read on every lead event: cached in each process
# (config.generations) until a subscription changes.
WEBHOOK_GENERATION = "webhooks"


def _subscriber_ids(event: str) -> list[int]:
    # The same match as _subscribers without building model instances: emitted per lead.
    rows = memo(
        WEBHOOK_GENERATION,
        "active",
        lambda: tuple(
            WebhookSubscription.objects.filter(is_active=True).values_list("pk", "events")
        ),
    )
    return [pk for pk, events in rows if event in (events or [])]


def webhook_subscribed(event: str) -> bool:
    """Whether any active subscription listens to `event` (handlers skip building a
    payload nobody receives)."""
    return bool(_subscriber_ids(event))


def webhook_emit(*, event: str, key: str, payload: dict[str, Any]) -> None:
    """Record `event` (natural key `key`) for every active subscriber, deliver after commit.

    Emitting the same (event, key) twice records nothing more: one delivery, one
    delivery id per event and subscription. Safe to call inside or outside a transaction.
    Costs the same few queries however many subscribe: one INSERT for all their rows,
    and one message to the worker per committed transaction (see _Outbox).
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}")
    subscriber_ids = _subscriber_ids(event)
    if not subscriber_ids:
        return
    envelope = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    rows = [
        WebhookDelivery(subscription_id=pk, event=event, event_key=key[:120], payload=envelope)
        for pk in subscriber_ids
    ]
    try:
        with transaction.atomic():
            WebhookDelivery.objects.bulk_create(rows)
        created = [row.pk for row in rows]
    except IntegrityError:  # emitted before (for some subscribers): add only what is missing
        created = []
        for pk in subscriber_ids:
            delivery, was_created = WebhookDelivery.objects.get_or_create(
                subscription_id=pk,
                event=event,
                event_key=key[:120],
                defaults={"payload": envelope},
            )
            if was_created:
                created.append(delivery.pk)
    if created:
        _outbox_add(created)


@dataclass
class _Outbox:
    """Delivery ids recorded in the current transaction, sent to the worker at commit."""

    ids: list[int] = field(default_factory=list)
    hooks: list | None = None  # the connection's on-commit list it was registered in
    flushed: bool = False

    def flush(self) -> None:
        # Runs once per commit; a second run finds nothing left (safe twice).
        ids, self.ids, self.flushed = self.ids, [], True
        if ids:
            publish(WebhookDeliveriesRecorded(delivery_ids=tuple(sorted(set(ids)))))


_outboxes = threading.local()  # one per thread, as Django's connections are


def _outbox_add(ids: list[int]) -> None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        publish(WebhookDeliveriesRecorded(delivery_ids=tuple(ids)))
        return
    outbox: _Outbox | None = getattr(_outboxes, "current", None)
    if outbox is None or not _registered(outbox, connection):
        outbox = _Outbox()
        transaction.on_commit(outbox.flush)
        outbox.hooks = connection.run_on_commit
        _outboxes.current = outbox
    # Ids of a savepoint rolled back later stay listed; delivering a missing id is a no-op.
    outbox.ids.extend(ids)


def _registered(outbox: _Outbox, connection: Any) -> bool:
    """Whether the outbox's flush will still run at this transaction's commit.

    Django replaces its list of on-commit hooks when a transaction ends or a savepoint
    rolls back (dropping that savepoint's hooks), so the same list means still there.
    """
    if outbox.flushed:
        return False
    if outbox.hooks is connection.run_on_commit:
        return True
    if any(hook == outbox.flush for _sids, hook, _robust in connection.run_on_commit):
        outbox.hooks = connection.run_on_commit
        return True
    return False


def webhook_fan_out(*, delivery_ids: list[int]) -> list[int]:
    """In the worker: which of `delivery_ids` still need a delivery task (gone or done ones
    are left out), in order."""
    return sorted(
        WebhookDelivery.objects.filter(
            pk__in=delivery_ids, status=WebhookDelivery.Status.PENDING
        ).values_list("pk", flat=True)
    )


def webhook_pending_sweep(*, older_than_seconds: int = 900) -> list[int]:
    """Pending deliveries never attempted (e.g. the broker was down), to enqueue again."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, attempts=0, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )


# --- delivering ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # succeeded | failed | pending (retry due) | skipped
    retry_in: int | None = None


def webhook_backoff(*, attempt: int) -> int:
    """Seconds before retry `attempt` + 1: exponential, capped, with ±20 % jitter."""
    base = settings.WEBHOOK_BACKOFF_SECONDS * (2 ** max(attempt - 1, 0))
    capped = min(base, settings.WEBHOOK_BACKOFF_MAX_SECONDS)
    return max(1, int(capped * random.uniform(0.8, 1.2)))


def webhook_deliver(*, delivery_id: int) -> DeliveryOutcome:
    """Make one signed attempt at a pending delivery and log it.

    The target is vetted again first (DNS may have changed since the subscription): a
    refused one fails the delivery for good without connecting. A 3xx is a failure.
    Running it for a delivery that already succeeded or failed for good, or that is
    gone, does nothing. A failure counts against the subscription; after
    WEBHOOK_DISABLE_AFTER failures in a row the subscription is disabled and its
    owner notified.
    """
    delivery = (
        WebhookDelivery.objects.select_related("subscription")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return DeliveryOutcome(status="skipped")
    subscription = delivery.subscription
    if not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)
        return DeliveryOutcome(status=WebhookDelivery.Status.FAILED)

    body = json.dumps(
        {
            "id": str(delivery.delivery_id),
            "event": delivery.event,
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    timestamp = str(int(time.time()))  # each attempt is signed afresh, with its own time
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Accord-Webhooks/1",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.delivery_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: webhook_signature(
            secret=subscription.secret, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    result = webhook_post(url=subscription.url, body=body, headers=headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    status_code, error = result.status_code, result.error
    ok = status_code is not None and 200 <= status_code < 300
    if status_code is not None and 300 <= status_code < 400:
        error = _("The receiver answered HTTP %(code)s; redirects are not followed.") % {
            "code": status_code
        }
    elif not ok and not error:
        error = _("The receiver answered HTTP %(code)s.") % {"code": status_code}

    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, status_code=status_code, error=error, duration_ms=duration_ms
        )
        attempts = delivery.attempts + 1
        if ok:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.SUCCEEDED,
                attempts=attempts,
                delivered_at=timezone.now(),
            )
            WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
            return DeliveryOutcome(status=WebhookDelivery.Status.SUCCEEDED)
        # A refused target is not tried again: only a new, checked subscription may be.
        final = result.refused or attempts >= settings.WEBHOOK_MAX_ATTEMPTS
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=attempts,
            status=WebhookDelivery.Status.FAILED if final else WebhookDelivery.Status.PENDING,
        )
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        subscription.refresh_from_db(fields=["consecutive_failures", "is_active"])
        if subscription.is_active and (
            subscription.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER
        ):
            _disable(subscription=subscription, error=error)
            return DeliveryOutcome(status=WebhookDelivery.Status.FAILED)
    if final:
        return DeliveryOutcome(status=WebhookDelivery.Status.FAILED)
    return DeliveryOutcome(
        status=WebhookDelivery.Status.PENDING, retry_in=webhook_backoff(attempt=attempts)
    )


def _disable(*, subscription: WebhookSubscription, error: str) -> None:
    changed = WebhookSubscription.objects.filter(pk=subscription.pk, is_active=True).update(
        is_active=False, disabled_at=timezone.now()
    )
    if not changed:
        return
    generation_bump(WEBHOOK_GENERATION)  # an UPDATE sends no signal: the cache forgets it here
    # Its other pending deliveries will not be attempted any more.
    WebhookDelivery.objects.filter(
        subscription_id=subscription.pk, status=WebhookDelivery.Status.PENDING
    ).update(status=WebhookDelivery.Status.FAILED)
    notification_send(
        recipients=[subscription.owner],
        event="webhook.disabled",
        dedupe_key=f"webhook:{subscription.pk}:{subscription.consecutive_failures}",
        title=lambda: _("Webhook to %(url)s disabled") % {"url": subscription.url[:120]},
        body=lambda: (
            _(
                "It failed %(count)s times in a row (last error: %(error)s). "
                "Fix the receiver and subscribe again."
            )
            % {"count": subscription.consecutive_failures, "error": error or "—"}
        ),
    )


# --- lead events -----------------------------------------------------------------------


def webhook_lead_payload(*, lead: Any, stage_event: Any = None) -> dict[str, Any]:
    """The `data` of a lead.* event: the lead as the API shows it, plus the stage change."""
    data: dict[str, Any] = {
        "lead": {
            "id": lead.pk,
            "email": lead.email,
            "external_id": lead.external_id,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "company": lead.company,
            "country": lead.country,
            "source": lead.source,
            "campaign": lead.campaign_id,
            "owner": lead.owner_id,
            "territory": lead.territory_id,
            "stage": lead.stage,
            "score": lead.score,
            "created_at": lead.created_at,
            "sla_due_at": lead.sla_due_at,
        }
    }
    if stage_event is not None:
        data["stage_event"] = {
            "id": stage_event.pk,
            "from": stage_event.from_stage,
            "to": stage_event.to_stage,
            "occurred_at": stage_event.occurred_at,
            "actor": stage_event.actor_id,
            "reason_code": stage_event.reason_code,
            "reason": stage_event.reason,
        }
    return data
