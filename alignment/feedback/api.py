"""Thin DRF views of the feedback loop; rules live in services and selectors.

Routes: intel/ (list, create: sales), intel/{id}/ (retrieve; PATCH status + response:
marketing), disputes/ (list, create: sales or marketing), disputes/{id}/ (retrieve;
PATCH decision + resolution_note: executives) and disputes/{id}/resolve/ (the same, POST).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from alignment.feedback.selectors import dispute_effect_summary
from alignment.feedback.services import (
    dispute_raise,
    dispute_resolve,
    intel_respond,
    intel_submit,
)
from alignment.models import (
    Competitor,
    Dispute,
    DisputeDecision,
    DisputeEffect,
    DisputeKind,
    DisputeStatus,
    FieldIntel,
    IntelKind,
    IntelStatus,
    Team,
)
from campaigns.models import Campaign
from config.api import FIELD_ERRORS, ErrorSerializer, FieldsOnceMixin, RoleModelPermissions
from config.filters import FilterBackend, IdFilter, UtcIsoDateTimeFilter
from leads.models import Deal, Lead

UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description=_("No or bad credentials."))
FORBIDDEN = OpenApiResponse(ErrorSerializer, description=_("Your role may not do this."))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No such object."))
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=_("Replays the first response for the same key and body."),
)


def _forbidden(exc: DjangoPermissionDenied) -> PermissionDenied:
    return PermissionDenied(str(exc) or None)


# --- field intelligence ---------------------------------------------------------------------


class IntelSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    competitor_name = serializers.CharField(
        source="competitor.name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = FieldIntel
        fields = [
            "id",
            "kind",
            "text",
            "competitor",
            "competitor_name",
            "lead",
            "deal",
            "campaign",
            "author",
            "status",
            "response",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "actioned_at",
        ]
        read_only_fields = fields


class IntelCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IntelKind.choices)
    text = serializers.CharField(max_length=5000)
    lead = serializers.PrimaryKeyRelatedField(
        queryset=Lead.objects.all(), required=False, allow_null=True
    )
    deal = serializers.PrimaryKeyRelatedField(
        queryset=Deal.objects.select_related("lead"), required=False, allow_null=True
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )
    competitor = serializers.PrimaryKeyRelatedField(
        queryset=Competitor.objects.all(), required=False, allow_null=True
    )
    competitor_name = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text=_("A competitor by name (created when new), instead of `competitor`."),
    )


class IntelUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=IntelStatus.choices,
        required=False,
        help_text=_("new → acknowledged → actioned; omit to edit the response only."),
    )
    response = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        help_text=_("What marketing tells the author (required to mark actioned)."),
    )


class IntelFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=IntelStatus.choices)
    kind = django_filters.ChoiceFilter(choices=IntelKind.choices)
    competitor = IdFilter(field_name="competitor_id")
    author = IdFilter(field_name="author_id")
    lead = IdFilter(field_name="lead_id")
    deal = IdFilter(field_name="deal_id")
    campaign = IdFilter(field_name="campaign_id")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = FieldIntel
        fields: list[str] = []


def _intel_queryset():
    return FieldIntel.objects.select_related("competitor").order_by("-created_at", "-id")


class IntelListView(generics.ListAPIView):
    """Field intelligence, newest first; POST sends a new item to marketing (sales only)."""

    serializer_class = IntelSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    filter_backends = [FilterBackend]
    filterset_class = IntelFilter
    queryset = _intel_queryset()

    @extend_schema(
        summary="List field intelligence",
        responses={200: IntelSerializer(many=True), 400: FIELD_ERRORS, 401: UNAUTHORIZED,
                   403: FORBIDDEN},
    )  # fmt: skip
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Send field intelligence to marketing",
        request=IntelCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: IntelSerializer, 400: FIELD_ERRORS, 401: UNAUTHORIZED, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        body = IntelCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            intel = intel_submit(
                author=request.user,
                kind=data["kind"],
                text=data["text"],
                lead=data.get("lead"),
                deal=data.get("deal"),
                campaign=data.get("campaign"),
                competitor=data.get("competitor"),
                competitor_name=data.get("competitor_name", ""),
            )
        except DjangoPermissionDenied as exc:
            raise _forbidden(exc) from None
        return Response(
            IntelSerializer(_intel_queryset().get(pk=intel.pk)).data, status=status.HTTP_201_CREATED
        )


class IntelDetailView(generics.RetrieveAPIView):
    """One item; PATCH moves its status and/or sets marketing's response (marketing only).

    Moving to acknowledged or actioned records the time and notifies the author once;
    going back (e.g. to new) or repeating a move is a 400.
    """

    serializer_class = IntelSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    queryset = _intel_queryset()

    @extend_schema(
        summary="Acknowledge / action an item with a response",
        request=IntelUpdateSerializer,
        responses={
            200: IntelSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        intel = get_object_or_404(FieldIntel, pk=pk)
        body = IntelUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "status" not in data and "response" not in data:
            raise serializers.ValidationError({"status": [_("Give a status, a response or both.")]})
        try:
            intel_respond(
                intel=intel,
                user=request.user,
                status=data.get("status", intel.status),
                # A move says something new (actioning needs it); no status: edit it only.
                response=data.get("response", "" if "status" in data else intel.response),
            )
        except DjangoPermissionDenied as exc:
            raise _forbidden(exc) from None
        return Response(IntelSerializer(_intel_queryset().get(pk=pk)).data)


# --- disputes -------------------------------------------------------------------------------


class DisputeSerializer(serializers.ModelSerializer):
    # Blank while the dispute is open (read-only fields lose allow_blank otherwise).
    decision = serializers.ChoiceField(
        choices=DisputeDecision.choices, allow_blank=True, read_only=True
    )
    rejection = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "The stage event of the rejection contested (a rejection or lead-quality "
            "dispute), null when there is none."
        ),
    )
    effect = serializers.ChoiceField(
        choices=DisputeEffect.choices,
        allow_blank=True,
        read_only=True,
        help_text=_(
            "What the decision did to the lead (blank while open): overturned (the rejection "
            "was reverted and the lead accepted for its rep), upheld (the lead stays "
            "rejected; the rejection counts as upheld for its campaign), none."
        ),
    )
    effect_summary = serializers.SerializerMethodField(
        help_text=_("The effect in a sentence of the request's language.")
    )
    revert_event = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text=_("The revert stage event an overturn wrote (else null)."),
    )
    acceptance_event = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text=_("The acceptance stage event (mql → sal) an overturn wrote (else null)."),
    )

    class Meta:
        model = Dispute
        fields = [
            "id",
            "lead",
            "deal",
            "kind",
            "raised_by",
            "raised_by_team",
            "reason",
            "status",
            "decision",
            "resolution_note",
            "resolved_by",
            "created_at",
            "resolved_at",
            "rejection",
            "effect",
            "effect_summary",
            "revert_event",
            "acceptance_event",
        ]
        read_only_fields = fields

    def get_effect_summary(self, dispute: Dispute) -> str:
        return dispute_effect_summary(dispute=dispute)


class DisputeCreateSerializer(serializers.Serializer):
    lead = serializers.PrimaryKeyRelatedField(queryset=Lead.objects.all())
    deal = serializers.PrimaryKeyRelatedField(
        queryset=Deal.objects.all(), required=False, allow_null=True
    )
    kind = serializers.ChoiceField(choices=DisputeKind.choices)
    reason = serializers.CharField(max_length=5000)


class DisputeResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DisputeDecision.choices)
    resolution_note = serializers.CharField(max_length=5000)


class DisputeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)
    kind = django_filters.ChoiceFilter(choices=DisputeKind.choices)
    raised_by_team = django_filters.ChoiceFilter(choices=Team.choices)
    decision = django_filters.ChoiceFilter(choices=DisputeDecision.choices)
    lead = IdFilter(field_name="lead_id")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    resolved_after = UtcIsoDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = UtcIsoDateTimeFilter(field_name="resolved_at", lookup_expr="lt")

    class Meta:
        model = Dispute
        fields: list[str] = []


def _dispute_queryset():
    return Dispute.objects.select_related("lead__owner").order_by("-created_at", "-id")


class DisputeListView(generics.ListAPIView):
    """Disputes, newest first; POST raises one on a lead (sales or marketing)."""

    serializer_class = DisputeSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    filter_backends = [FilterBackend]
    filterset_class = DisputeFilter
    queryset = _dispute_queryset()

    @extend_schema(
        summary="List disputes",
        responses={200: DisputeSerializer(many=True), 400: FIELD_ERRORS, 401: UNAUTHORIZED,
                   403: FORBIDDEN},
    )  # fmt: skip
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Raise a dispute on a lead",
        request=DisputeCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: DisputeSerializer, 400: FIELD_ERRORS, 401: UNAUTHORIZED, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        body = DisputeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            dispute = dispute_raise(
                user=request.user,
                lead=data["lead"],
                deal=data.get("deal"),
                kind=data["kind"],
                reason=data["reason"],
            )
        except DjangoPermissionDenied as exc:
            raise _forbidden(exc) from None
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


def _resolve(request: Request, pk: int) -> Response:
    dispute = get_object_or_404(Dispute, pk=pk)
    body = DisputeResolveSerializer(data=request.data)
    try:
        # Refuse a non-executive before reading the body, so a role never learns more.
        if not request.user.has_perm("alignment.resolve_dispute"):
            raise DjangoPermissionDenied(_("Only an executive resolves disputes."))
        body.is_valid(raise_exception=True)
        resolved = dispute_resolve(
            dispute=dispute,
            user=request.user,
            decision=body.validated_data["decision"],
            note=body.validated_data["resolution_note"],
        )
    except DjangoPermissionDenied as exc:
        raise _forbidden(exc) from None
    return Response(DisputeSerializer(resolved).data)


RESOLVE_SCHEMA = extend_schema(
    request=DisputeResolveSerializer,
    responses={
        200: DisputeSerializer,
        400: FIELD_ERRORS,
        401: UNAUTHORIZED,
        403: FORBIDDEN,
        404: NOT_FOUND,
    },
)


class DisputeDetailView(generics.RetrieveAPIView):
    """One dispute; PATCH with `decision` and `resolution_note` resolves it (executives only).

    The decision takes effect on the lead at once (`effect`, with the stage events it
    wrote): in marketing's favour a contested rejection is overturned (reverted, and the
    lead accepted for its rep), in sales' favour it is upheld. A rejection that can no
    longer be overturned (the lead moved on) is a 400 on `decision`, and nothing changes.
    The raiser, the other side and the rejecting rep are notified once each; resolving
    twice is a 400.
    """

    serializer_class = DisputeSerializer
    queryset = _dispute_queryset()

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [IsAuthenticated()]  # the arbiter's permission is checked below
        return [IsAuthenticated(), RoleModelPermissions()]

    @extend_schema(summary="Resolve a dispute (executive)")
    @RESOLVE_SCHEMA
    def patch(self, request: Request, pk: int) -> Response:
        return _resolve(request, pk)


class DisputeResolveView(generics.GenericAPIView):
    """Resolve a dispute with a decision and a note (executives only); same as PATCH.

    Answers the dispute with the decision's `effect` on the lead and the stage events it
    wrote; a rejection that can no longer be overturned is a 400 on `decision`.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = DisputeResolveSerializer
    queryset = Dispute.objects.all()

    @extend_schema(summary="Resolve a dispute (executive)")
    @RESOLVE_SCHEMA
    def post(self, request: Request, pk: int) -> Response:
        return _resolve(request, pk)


urlpatterns = [
    path("intel/", IntelListView.as_view(), name="api-intel"),
    path("intel/<int:pk>/", IntelDetailView.as_view(), name="api-intel-detail"),
    path("disputes/", DisputeListView.as_view(), name="api-disputes"),
    path("disputes/<int:pk>/", DisputeDetailView.as_view(), name="api-dispute"),
    path("disputes/<int:pk>/resolve/", DisputeResolveView.as_view(), name="api-dispute-resolve"),
]
