"""Outgoing webhooks: record one delivery per event and subscription, deliver it signed.

`webhook_emit` is what the rest of Accord calls when something happens; it writes
`WebhookDelivery` rows inside the caller's transaction and enqueues their delivery
once that transaction commits. `webhook_deliver` makes one signed attempt (the Celery
task `alignment.tasks.deliver_webhook` calls it and retries with backoff).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from alignment.notifications import notification_send

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Accord-Signature"
DELIVERY_HEADER = "X-Accord-Delivery"
EVENT_HEADER = "X-Accord-Event"
TIMESTAMP_HEADER = "X-Accord-Timestamp"


def webhook_signature(*, secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_verify(*, secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(webhook_signature(secret=secret, body=body), header or "")


# --- subscriptions ---------------------------------------------------------------------


def webhook_subscription_create(
    *, owner: AbstractBaseUser, url: str, events: list[str], secret: str = ""
) -> WebhookSubscription:
    """Subscribe `url` to `events`; a secret is generated when none is given."""
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


def webhook_emit(*, event: str, key: str, payload: dict[str, Any]) -> None:
    """Record `event` (natural key `key`) for every active subscriber, deliver after commit.

    Emitting the same (event, key) twice records nothing more: one delivery, one
    delivery id per event and subscription. Safe to call inside or outside a transaction.
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}")
    subscribers = _subscribers(event)
    if not subscribers:
        return
    envelope = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    created: list[int] = []
    for subscription in subscribers:
        delivery, was_created = WebhookDelivery.objects.get_or_create(
            subscription_id=subscription.pk,
            event=event,
            event_key=key[:120],
            defaults={"payload": envelope},
        )
        if was_created:
            created.append(delivery.pk)
    for pk in created:
        transaction.on_commit(lambda pk=pk: webhook_enqueue(delivery_id=pk))


def webhook_enqueue(*, delivery_id: int, countdown: int | None = None) -> None:
    """Hand one delivery to Celery; a broker failure leaves it pending for the sweep."""
    from alignment.tasks import deliver_webhook

    try:
        deliver_webhook.apply_async(args=[delivery_id], countdown=countdown)
    except Exception:  # the broker is down: the periodic sweep enqueues it later
        logger.exception("Could not enqueue webhook delivery %s", delivery_id)


def webhook_pending_sweep(*, older_than_seconds: int = 900) -> int:
    """Enqueue pending deliveries never attempted (e.g. the broker was down); safe twice."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, attempts=0, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        webhook_enqueue(delivery_id=pk)
    return len(ids)


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


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as reply:
            return reply.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:1000]


def webhook_deliver(*, delivery_id: int) -> DeliveryOutcome:
    """Make one signed attempt at a pending delivery and log it.

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
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Accord-Webhooks/1",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.delivery_id),
        TIMESTAMP_HEADER: str(int(time.time())),
        SIGNATURE_HEADER: webhook_signature(secret=subscription.secret, body=body),
    }
    started = time.monotonic()
    status_code, error = _post(url=subscription.url, body=body, headers=headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if not ok and not error:
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
        final = attempts >= settings.WEBHOOK_MAX_ATTEMPTS
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


def webhook_lead_transition_emit(*, lead: Any, stage_event: Any) -> None:
    """lead.qualified (→ mql), lead.accepted (mql → sal), lead.rejected (mql → out)."""
    from_stage, to_stage = stage_event.from_stage, stage_event.to_stage
    if to_stage == "mql":
        event = WebhookEvent.LEAD_QUALIFIED
    elif from_stage == "mql" and to_stage == "sal":
        event = WebhookEvent.LEAD_ACCEPTED
    elif from_stage == "mql" and to_stage in ("recycled", "disqualified"):
        event = WebhookEvent.LEAD_REJECTED
    else:
        return
    webhook_emit(
        event=event,
        key=f"stage_event:{stage_event.pk}",
        payload=webhook_lead_payload(lead=lead, stage_event=stage_event),
    )
