"""Thin DRF views of the sales side; rules live in leads/services/ (deals, follow_ups, assignment).

Routes: leads/{id}/follow-ups/ (GET, POST), leads/{id}/claim/ (POST),
leads/{id}/reassign/ (POST, sales managers), deals/ (GET, POST) and deals/{id}/
(GET, PATCH: change an open deal, or close it with "outcome": "won" | "lost").
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    FIELD_ERRORS,
    ErrorSerializer,
    FieldsOnceMixin,
    LargeCursorPagination,
    RoleModelPermissions,
)
from config.dates import history_moment_validator, planned_date_validator
from config.filters import IdFilter
from leads.models import (
    Deal,
    DealOutcome,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    StageEvent,
)
from leads.services.assignment import lead_claim, lead_reassign
from leads.services.deals import deal_create, deal_update
from leads.services.follow_ups import follow_up_log

FORBIDDEN = OpenApiResponse(
    ErrorSerializer, description="Your role may not do this, or the lead is another rep's."
)
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such lead or deal.")
CLAIM_CONFLICT = OpenApiResponse(
    inline_serializer(
        "ClaimConflict",
        {"detail": serializers.CharField(), "id": serializers.IntegerField()},
    ),
    description="Someone else owns the lead already (or claimed it a moment earlier).",
)


# --- follow-ups ---------------------------------------------------------------------------


class FollowUpSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=FollowUpKind.choices)
    outcome = serializers.ChoiceField(choices=FollowUpOutcome.choices)
    occurred_at = serializers.DateTimeField(
        required=False,
        help_text=_lazy("When it happened; now when left out."),
        validators=[history_moment_validator],
    )
    next_follow_up_at = serializers.DateTimeField(
        required=False, allow_null=True, validators=[planned_date_validator]
    )

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "lead",
            "kind",
            "outcome",
            "notes",
            "occurred_at",
            "next_step",
            "next_follow_up_at",
            "author",
            "within_sla",
            "created_at",
        ]
        read_only_fields = ["id", "lead", "author", "within_sla", "created_at"]
        extra_kwargs = {
            "within_sla": {
                "help_text": _lazy(
                    "true: stopped a running SLA clock in time (credit); false: late; "
                    "null: no clock was running."
                )
            }
        }


@extend_schema(tags=["sales"])
class LeadFollowUps(generics.ListCreateAPIView):
    """A lead's follow-ups, newest first; POST logs one (the owner rep or a sales manager).

    The first call, email, meeting, visit, demo or joint call stops a running SLA clock.
    """

    serializer_class = FollowUpSerializer
    permission_classes = [RoleModelPermissions]
    pagination_class = LargeCursorPagination
    queryset = FollowUp.objects.all()
    filter_backends: list = []

    def _lead(self) -> Lead:
        return get_object_or_404(Lead, pk=self.kwargs["pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FollowUp.objects.none()
        return FollowUp.objects.filter(lead=self._lead())

    @extend_schema(responses={200: FollowUpSerializer(many=True), 404: NOT_FOUND})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=FollowUpSerializer,
        responses={201: FollowUpSerializer, 400: FIELD_ERRORS, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self._lead()
        body = FollowUpSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        follow_up = follow_up_log(
            lead=lead,
            author=request.user,
            kind=data["kind"],
            outcome=data["outcome"],
            notes=data.get("notes", ""),
            occurred_at=data.get("occurred_at"),
            next_step=data.get("next_step", ""),
            next_follow_up_at=data.get("next_follow_up_at"),
        )
        return Response(FollowUpSerializer(follow_up).data, status=status.HTTP_201_CREATED)


# --- claim and reassign ---------------------------------------------------------------------


class OwnershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = ["id", "owner", "assigned_at", "stage", "sla_due_at"]
        read_only_fields = fields


class ReassignSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        help_text=_lazy("The id of an active sales rep or sales manager."),
    )


@extend_schema(tags=["sales"])
class LeadClaim(APIView):
    """Claim an unowned open lead (sales reps and managers).

    Of simultaneous claims exactly one wins (the database decides); the others get 409.
    """

    @extend_schema(
        request=None,
        responses={
            200: OwnershipSerializer,
            400: FIELD_ERRORS,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CLAIM_CONFLICT,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(Lead, pk=pk)
        lead = lead_claim(lead_id=pk, user=request.user)
        return Response(OwnershipSerializer(lead).data)


@extend_schema(tags=["sales"])
class LeadReassign(APIView):
    """Give a lead to another rep (sales managers only); the new owner is notified."""

    @extend_schema(
        request=ReassignSerializer,
        responses={200: OwnershipSerializer, 400: FIELD_ERRORS, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        body = ReassignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        lead = lead_reassign(lead=lead, to_user=body.validated_data["owner"], actor=request.user)
        return Response(OwnershipSerializer(lead).data)


# --- deals ----------------------------------------------------------------------------------


class DealSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    class Meta:
        model = Deal
        fields = [
            "id",
            "lead",
            "name",
            "owner",
            "amount",
            "gross_margin",
            "expected_close",
            "outcome",
            "closed_at",
            "lost_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DealCreateSerializer(serializers.Serializer):
    lead = serializers.PrimaryKeyRelatedField(queryset=Lead.objects.all())
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    expected_close = serializers.DateField(
        required=False, allow_null=True, validators=[planned_date_validator]
    )
    gross_margin = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )


class DealPatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    expected_close = serializers.DateField(
        required=False, allow_null=True, validators=[planned_date_validator]
    )
    gross_margin = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    outcome = serializers.ChoiceField(
        choices=DealOutcome.choices,
        required=False,
        help_text=_lazy("won or lost closes the deal and moves the lead's stage."),
    )
    lost_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=_lazy("Required to lose a deal: one of the agreement's lost reason codes."),
    )
    closed_at = serializers.DateTimeField(required=False, validators=[history_moment_validator])


class DealFilter(django_filters.FilterSet):
    lead = IdFilter(field_name="lead_id")
    owner = IdFilter(field_name="owner_id")
    outcome = django_filters.ChoiceFilter(choices=DealOutcome.choices)
    closed_after = django_filters.DateFilter(field_name="closed_at", lookup_expr="date__gte")
    closed_before = django_filters.DateFilter(field_name="closed_at", lookup_expr="date__lte")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")

    class Meta:
        model = Deal
        fields = ["lead", "owner", "outcome", "closed_after", "closed_before", "created_after"]


@extend_schema(tags=["sales"])
class DealListCreate(generics.ListCreateAPIView):
    """Deals, newest first, with filters; POST opens one on a lead in SQL or opportunity."""

    serializer_class = DealSerializer
    permission_classes = [RoleModelPermissions]
    queryset = Deal.objects.all()
    filterset_class = DealFilter

    def get_queryset(self):
        return Deal.objects.order_by("-created_at", "-id")

    @extend_schema(
        request=DealCreateSerializer,
        responses={201: DealSerializer, 400: FIELD_ERRORS, 403: FORBIDDEN},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = DealCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        deal = deal_create(
            lead=data.pop("lead"),
            actor=request.user,
            amount=data["amount"],
            name=data.get("name", ""),
            expected_close=data.get("expected_close"),
            gross_margin=data.get("gross_margin"),
        )
        return Response(DealSerializer(deal).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["sales"])
class DealDetail(generics.RetrieveAPIView):
    """One deal; PATCH changes an open deal or closes it (won, or lost with a reason)."""

    serializer_class = DealSerializer
    permission_classes = [RoleModelPermissions]
    queryset = Deal.objects.select_related("lead")

    @extend_schema(responses={200: DealSerializer, 404: NOT_FOUND})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=DealPatchSerializer,
        responses={200: DealSerializer, 400: FIELD_ERRORS, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @transaction.atomic
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        deal = self.get_object()
        body = DealPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deal = deal_update(
            deal=deal, actor=request.user, source=StageEvent.Source.API, **body.validated_data
        )
        return Response(DealSerializer(deal).data)


urlpatterns = [
    path("leads/<int:pk>/follow-ups/", LeadFollowUps.as_view(), name="api-lead-follow-ups"),
    path("leads/<int:pk>/claim/", LeadClaim.as_view(), name="api-lead-claim"),
    path("leads/<int:pk>/reassign/", LeadReassign.as_view(), name="api-lead-reassign"),
    path("deals/", DealListCreate.as_view(), name="api-deals"),
    path("deals/<int:pk>/", DealDetail.as_view(), name="api-deal"),
]
