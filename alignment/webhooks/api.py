"""Thin DRF views of webhook subscriptions; rules live in alignment.webhooks.services.

Routes: webhooks/ (my subscriptions; POST subscribes), webhooks/{id}/ (GET, DELETE) and
webhooks/{id}/deliveries/ (every delivery with its logged attempts). Each user sees and
manages only their own subscriptions. What a receiver checks is in docs/security.md.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from alignment.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from alignment.webhooks.http import WebhookTargetRefused, webhook_target_parse
from alignment.webhooks.services import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_REPLAY_WINDOW_SECONDS,
    webhook_subscription_create,
    webhook_subscription_delete,
)
from config.api import (
    FIELD_ERRORS,
    NOT_FOUND,
    ErrorSerializer,
    LargeCursorPagination,
    StandardPagination,
)

UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="No or invalid credentials.")


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        min_length=1,  # allow_empty's message first; this documents minItems
        help_text="The events to receive.",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=128,
        help_text="Key of the HMAC-SHA256 signature; generated when left out.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "secret",
            "is_active",
            "consecutive_failures",
            "disabled_at",
            "created_at",
        ]
        read_only_fields = ["is_active", "consecutive_failures", "disabled_at", "created_at"]

    def validate_url(self, value: str) -> str:
        # What can be told without DNS, next to the other fields' errors; the service
        # resolves the host and refuses non-public addresses.
        try:
            webhook_target_parse(value)
        except WebhookTargetRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """The one response that shows the secret: keep it to verify signatures."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookSubscriptionSerializer.Meta):
        read_only_fields = WebhookSubscriptionSerializer.Meta.fields


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "error", "duration_ms"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "event_key",
            "status",
            "attempts",
            "created_at",
            "delivered_at",
            "payload",
            "attempt_log",
        ]


def _mine(request: Request) -> QuerySet[WebhookSubscription]:
    if not request.user.is_authenticated:  # the schema generator's fake request
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.filter(owner=request.user)


@extend_schema(tags=["webhooks"])
class WebhookList(generics.ListCreateAPIView):
    __doc__ = (
        "Your webhook subscriptions. Each event is POSTed as JSON "
        '{"id", "event", "created_at", "data"} with the headers '
        f"{EVENT_HEADER} (the event), {DELIVERY_HEADER} (the delivery id, the same on "
        f"every retry: deduplicate on it), {TIMESTAMP_HEADER} (Unix seconds of this "
        f"attempt) and {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256, keyed with the "
        "subscription's secret, of the timestamp, a dot and the raw body, i.e. "
        'f"{timestamp}.{body}">. A receiver recomputes it over the raw bytes, compares '
        "in constant time and rejects a timestamp more than "
        f"{WEBHOOK_REPLAY_WINDOW_SECONDS // 60} minutes from its clock (a replay). "
        "The URL must be https and resolve only to public addresses (checked when you "
        "subscribe and again before every delivery); redirects are not followed (a 3xx "
        "is a failure); the receiver has 10 seconds (by default) in all to answer. "
        "Failures are retried with exponential backoff, and a subscription that keeps "
        "failing is disabled and its owner notified. Each user has at most 5 active "
        "subscriptions (by default)."
    )

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = StandardPagination

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return _mine(self.request)

    @extend_schema(
        summary="List my webhook subscriptions",
        responses={200: WebhookSubscriptionSerializer(many=True), 401: UNAUTHORIZED},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Subscribe a URL to events",
        description=(
            "400 with an error on `url` when it is not https or its host resolves to a "
            "private, loopback, link-local or otherwise non-public address (or not at "
            "all); 400 when you already have the most active subscriptions allowed."
        ),
        request=WebhookSubscriptionSerializer,
        responses={
            201: WebhookSubscriptionCreatedSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORIZED,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = WebhookSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = webhook_subscription_create(
            owner=request.user,
            url=serializer.validated_data["url"],
            events=serializer.validated_data["events"],
            secret=serializer.validated_data.get("secret", ""),
        )
        return Response(
            WebhookSubscriptionCreatedSerializer(subscription).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["webhooks"])
class WebhookDetail(generics.RetrieveDestroyAPIView):
    """One of your subscriptions (others' answer 404)."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return _mine(self.request)

    @extend_schema(
        summary="A webhook subscription",
        responses={200: WebhookSubscriptionSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Unsubscribe",
        responses={204: None, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook_subscription_delete(subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"])
class WebhookDeliveryList(generics.ListAPIView):
    """The deliveries of one of your subscriptions, newest first, with every attempt."""

    serializer_class = WebhookDeliverySerializer
    permission_classes = [IsAuthenticated]
    pagination_class = LargeCursorPagination

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        subscription = generics.get_object_or_404(_mine(self.request), pk=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(subscription=subscription).prefetch_related(
            Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("attempted_at"))
        )

    @extend_schema(
        summary="Deliveries and their attempts",
        responses={
            200: WebhookDeliverySerializer(many=True),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("webhooks/", WebhookList.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", WebhookDetail.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/deliveries/",
        WebhookDeliveryList.as_view(),
        name="api-webhook-deliveries",
    ),
]
