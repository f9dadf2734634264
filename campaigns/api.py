"""Thin DRF views and serializers of campaigns; rules live in services and selectors.

Routes: campaigns/ (list; create for marketers), campaigns/{id}/ (read with KPIs;
PATCH for marketers), campaigns/{id}/spend/ (read; add for marketers), touches/
(read; push engagement for marketers and integrations).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from alignment.agreement.api import FIELD_ERRORS, NOT_ALLOWED, NOT_FOUND
from campaigns import selectors, services
from campaigns.attribution import DEFAULT_MODEL, AttributionModel
from campaigns.models import Campaign, Channel, SpendCorrection, SpendEntry, Touch, TouchKind
from config.api import FieldsOnceMixin, LargeCursorPagination, RoleModelPermissions
from config.dates import history_moment_validator, planned_date_validator
from config.filters import UtcIsoDateTimeFilter
from leads.models import Lead
from leads.selectors import leads_with_email
from metrics.definitions import MetricFilter, metric_filter_read
from metrics.models import Territory


# The shared error shapes of the API (one schema component each).
def _call(fn, **kwargs):
    """A service's PermissionDenied as DRF's 403 (its ValidationError is 400 already)."""
    try:
        return fn(**kwargs)
    except DjangoPermissionDenied as error:
        raise PermissionDenied(str(error) or None) from error


# --- campaigns ---------------------------------------------------------------------------


class CampaignSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="User id of the marketer who owns it; the creator when omitted.",
    )
    target_territories = serializers.PrimaryKeyRelatedField(
        queryset=Territory.objects.all(), many=True, required=False
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "status",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "starts_on",
            "ends_on",
            "budget",
            "owner",
            "description",
            "target_territories",
            "launched_at",
            "launched_below_readiness",
            "readiness_at_launch",
            "created_at",
        ]
        read_only_fields = [
            "launched_at",
            "launched_below_readiness",
            "readiness_at_launch",
            "created_at",
        ]
        # Uniqueness is the service's (and the database's) to judge, with the same message.
        validators: list = []
        extra_kwargs = {
            "name": {"validators": []},
            "starts_on": {"validators": [planned_date_validator]},
            "ends_on": {"validators": [planned_date_validator]},
        }


class KpiSerializer(serializers.Serializer):
    """A campaign's KPIs for a period, by the names of the common metrics."""

    spend = serializers.DecimalField(max_digits=16, decimal_places=2)
    new_leads = serializers.IntegerField()
    mqls = serializers.IntegerField()
    mqls_accepted = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    pipeline_created = serializers.DecimalField(max_digits=16, decimal_places=2)
    new_accounts = serializers.IntegerField()
    won_revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost_per_lead = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cost_per_mql = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cac = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    roi = serializers.FloatField(allow_null=True)


class CampaignDetailSerializer(CampaignSerializer):
    """The campaign with its figures over the period in the context (its life by default)."""

    spend_total = serializers.SerializerMethodField()
    leads = serializers.SerializerMethodField()
    mqls = serializers.SerializerMethodField()
    won_revenue = serializers.SerializerMethodField()
    roi = serializers.SerializerMethodField()
    attribution_model = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField()
    kpis = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [
            *CampaignSerializer.Meta.fields,
            "spend_total",
            "leads",
            "mqls",
            "won_revenue",
            "roi",
            "attribution_model",
            "period",
            "kpis",
        ]

    def _kpis(self) -> dict[str, Any]:
        return self.context["kpis"]

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2))
    def get_spend_total(self, campaign: Campaign) -> str:
        return f"{self._kpis()['spend']:.2f}"

    def get_leads(self, campaign: Campaign) -> int:
        return self._kpis()["new_leads"]

    def get_mqls(self, campaign: Campaign) -> int:
        return self._kpis()["mqls"]

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2))
    def get_won_revenue(self, campaign: Campaign) -> str:
        return f"{self._kpis()['won_revenue']:.2f}"

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_roi(self, campaign: Campaign) -> float | None:
        return self._kpis()["roi"]

    @extend_schema_field(serializers.ChoiceField(choices=AttributionModel.choices))
    def get_attribution_model(self, campaign: Campaign) -> str:
        return self.context["model"]

    @extend_schema_field(
        inline_serializer(
            "CampaignPeriod",
            {"start": serializers.DateField(), "end": serializers.DateField()},
        )
    )
    def get_period(self, campaign: Campaign) -> dict[str, str]:
        f: MetricFilter = self.context["f"]
        return {"start": f.start.isoformat(), "end": f.end.isoformat()}

    @extend_schema_field(KpiSerializer)
    def get_kpis(self, campaign: Campaign) -> dict[str, Any]:
        return KpiSerializer(self._kpis()).data


class CampaignFilter(django_filters.FilterSet):
    starts_after = django_filters.DateFilter(field_name="starts_on", lookup_expr="gte")
    starts_before = django_filters.DateFilter(field_name="starts_on", lookup_expr="lt")
    search = django_filters.CharFilter(method="filter_search", label="Name or UTM campaign")

    class Meta:
        model = Campaign
        fields = ["channel", "status", "owner", "utm_campaign"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        from django.db.models import Q

        return queryset.filter(Q(name__icontains=value) | Q(utm_campaign__icontains=value))


def _service_data(validated: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in validated.items() if k in [*services.CAMPAIGN_FIELDS, "target_territories"]
    }


@extend_schema_view(
    get=extend_schema(summary="List campaigns", tags=["campaigns"]),
    post=extend_schema(
        summary="Create a campaign (marketers)",
        tags=["campaigns"],
        responses={201: CampaignSerializer, 400: FIELD_ERRORS, 403: NOT_ALLOWED},
    ),
)
class CampaignListView(generics.ListCreateAPIView):
    queryset = (
        Campaign.objects.select_related("owner")
        .prefetch_related("target_territories")
        .order_by("-starts_on", "name", "pk")
    )
    serializer_class = CampaignSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    filterset_class = CampaignFilter

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = _call(
            services.campaign_create,
            actor=request.user,
            data=_service_data(serializer.validated_data),
        )
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


def attribution_model_param(request: Request) -> str:
    model = (request.query_params.get("model") or "").strip() or DEFAULT_MODEL
    if model not in AttributionModel.values:
        raise ValidationError(
            {"model": [_("Choose one of: %(m)s.") % {"m": ", ".join(AttributionModel.values)}]}
        )
    return model


PERIOD_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="First day (default: the campaign's start)."
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="First day after the period (default: tomorrow)."
    ),
    OpenApiParameter("week", OpenApiTypes.DATE, description="Any day of an ISO week: that week."),
    OpenApiParameter(
        "model",
        OpenApiTypes.STR,
        enum=AttributionModel.values,
        description=f"Attribution model of won revenue and ROI (default {DEFAULT_MODEL}).",
    ),
]


@extend_schema_view(
    get=extend_schema(
        summary="A campaign with its KPIs",
        tags=["campaigns"],
        parameters=PERIOD_PARAMETERS,
        responses={200: CampaignDetailSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
    ),
    patch=extend_schema(
        summary="Change a campaign (marketers)",
        tags=["campaigns"],
        request=CampaignSerializer,
        responses={
            200: CampaignDetailSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    ),
)
class CampaignDetailView(generics.RetrieveUpdateAPIView):
    queryset = Campaign.objects.select_related("owner").prefetch_related("target_territories")
    serializer_class = CampaignDetailSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    http_method_names = ["get", "patch", "head", "options"]

    def _context(self, campaign: Campaign) -> dict[str, Any]:
        model = attribution_model_param(self.request)
        params = self.request.query_params
        if any(params.get(k) for k in ("start", "end", "week")):
            f = metric_filter_read({k: params.get(k, "") for k in ("start", "end", "week")})
            f = MetricFilter(start=f.start, end=f.end, campaign=campaign.pk)
        else:
            f = selectors.campaign_period(campaign=campaign)
        table = selectors.campaign_kpis(f=f, by="campaign", model=model)
        return {
            **self.get_serializer_context(),
            "f": f,
            "model": table.model,
            "kpis": table.row(campaign.pk),
        }

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        return Response(CampaignDetailSerializer(campaign, context=self._context(campaign)).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        serializer = CampaignSerializer(campaign, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = _call(
            services.campaign_update,
            campaign=campaign,
            actor=request.user,
            data=_service_data(serializer.validated_data),
        )
        campaign = self.get_queryset().get(pk=campaign.pk)
        return Response(CampaignDetailSerializer(campaign, context=self._context(campaign)).data)


class KpiRowSerializer(KpiSerializer):
    key = serializers.CharField(help_text="The campaign id or the channel.")
    name = serializers.CharField()


class KpiTableSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=["campaign", "channel"])
    attribution_model = serializers.ChoiceField(choices=AttributionModel.choices)
    period = inline_serializer(
        "KpiPeriod", {"start": serializers.DateField(), "end": serializers.DateField()}
    )
    rows = KpiRowSerializer(many=True)
    totals = KpiSerializer()


class CampaignKpiView(generics.GenericAPIView):
    """KPIs of every campaign (or channel) for a period: the figures of the campaign list."""

    queryset = Campaign.objects.all()
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="KPIs per campaign or per channel for a period",
        tags=["campaigns"],
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, enum=["campaign", "channel"]),
            *PERIOD_PARAMETERS,
        ],
        responses={200: KpiTableSerializer, 400: FIELD_ERRORS},
    )
    def get(self, request: Request) -> Response:
        by = request.query_params.get("by") or "campaign"
        if by not in ("campaign", "channel"):
            raise ValidationError({"by": [_("Choose campaign or channel.")]})
        model = attribution_model_param(request)
        params = request.query_params
        f = metric_filter_read(
            {k: params.get(k, "") for k in ("start", "end", "week")}, default_days=90
        )
        table = selectors.campaign_kpis(f=f, by=by, model=model)
        if by == "campaign":
            names = dict(Campaign.objects.values_list("pk", "name"))
            rows = [{"key": str(pk), "name": names[pk], **table.row(pk)} for pk in sorted(names)]
        else:
            rows = [
                {"key": key, "name": str(Channel(key).label), **row}
                for key, row in sorted(table.rows.items())
                if key in Channel.values
            ]
        body = {
            "by": by,
            "attribution_model": table.model,
            "period": {"start": f.start, "end": f.end},
            "rows": rows,
            "totals": table.totals,
        }
        return Response(KpiTableSerializer(body).data)


# --- spend -------------------------------------------------------------------------------


class SpendSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    class Meta:
        model = SpendEntry
        fields = ["id", "campaign", "date", "amount", "note", "created_at"]
        read_only_fields = ["campaign", "created_at"]
        extra_kwargs = {"date": {"validators": [history_moment_validator]}}


class SpendPermissions(RoleModelPermissions):
    """Whoever may see a campaign sees its spend (as on its page); marketers add it."""

    perms_map = {
        **RoleModelPermissions.perms_map,
        "GET": ["campaigns.view_campaign"],
        "HEAD": ["campaigns.view_campaign"],
    }


@extend_schema_view(
    get=extend_schema(
        summary="A campaign's spend entries", tags=["campaigns"], responses={200: SpendSerializer}
    ),
    post=extend_schema(
        summary="Record spend (marketers)",
        tags=["campaigns"],
        responses={201: SpendSerializer, 400: FIELD_ERRORS, 403: NOT_ALLOWED, 404: NOT_FOUND},
    ),
)
class CampaignSpendView(generics.ListCreateAPIView):
    serializer_class = SpendSerializer
    permission_classes = [IsAuthenticated, SpendPermissions]
    queryset = SpendEntry.objects.none()  # the permission class reads its model

    def campaign(self) -> Campaign:
        return get_object_or_404(Campaign, pk=self.kwargs["pk"])

    def get_queryset(self) -> QuerySet[SpendEntry]:
        if getattr(self, "swagger_fake_view", False):
            return SpendEntry.objects.none()
        return SpendEntry.objects.filter(campaign=self.campaign()).order_by("-date", "-pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.campaign()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = _call(
            services.spend_entry_add,
            campaign=campaign,
            actor=request.user,
            date=serializer.validated_data["date"],
            amount=serializer.validated_data["amount"],
            note=serializer.validated_data.get("note", ""),
        )
        return Response(SpendSerializer(entry).data, status=status.HTTP_201_CREATED)


class SpendChangeSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, help_text="The new amount."
    )
    date = serializers.DateField(
        required=False, validators=[history_moment_validator], help_text="The new day."
    )
    reason = serializers.CharField(
        max_length=services.SPEND_REASON_MAX,
        help_text="Why: recorded with the correction, shown on the campaign.",
    )


class SpendRemovalSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=services.SPEND_REASON_MAX,
        help_text="Why: recorded with the removal, shown on the campaign.",
    )


class SpendCorrectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpendCorrection
        fields = ["id", "record_id", "action", "changes", "reason", "actor", "occurred_at"]


class SpendEntryPermissions(SpendPermissions):
    """Marketers correct (change) or remove (delete) spend; the rules live in the services."""

    perms_map = {
        **SpendPermissions.perms_map,
        "PATCH": ["campaigns.change_spendentry"],
        "DELETE": ["campaigns.delete_spendentry"],
    }


class CampaignSpendEntryView(generics.GenericAPIView):
    """One spend entry: read it, correct its amount or day (PATCH), or remove it (DELETE).

    Both need a `reason`, recorded with a SpendCorrection (who, when, before and after) that
    the campaign page lists; spend is what cost per lead, CAC and ROI divide by, so it is
    never changed silently. DELETE takes the reason in its body or as `?reason=`. 400 with
    field errors (a missing reason, a correction that changes nothing); 404 for an entry
    of another campaign or one already removed.
    """

    permission_classes = [IsAuthenticated, SpendEntryPermissions]
    queryset = SpendEntry.objects.none()  # the permission class reads its model
    serializer_class = SpendSerializer

    def entry(self) -> SpendEntry:
        return get_object_or_404(
            SpendEntry, pk=self.kwargs["entry_pk"], campaign_id=self.kwargs["pk"]
        )

    @extend_schema(summary="A spend entry", tags=["campaigns"], responses={200: SpendSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(SpendSerializer(self.entry()).data)

    @extend_schema(
        summary="Correct a spend entry (marketers, with a reason)",
        tags=["campaigns"],
        request=SpendChangeSerializer,
        responses={
            200: SpendCorrectionSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entry = self.entry()
        body = SpendChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        correction = _call(
            services.spend_entry_correct,
            entry=entry,
            actor=request.user,
            reason=body.validated_data["reason"],
            amount=body.validated_data.get("amount"),
            date=body.validated_data.get("date"),
        )
        return Response(SpendCorrectionSerializer(correction).data)

    @extend_schema(
        summary="Remove a spend entry (marketers, with a reason)",
        tags=["campaigns"],
        request=SpendRemovalSerializer,
        responses={
            200: SpendCorrectionSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entry = self.entry()
        # The reason in a JSON body, or ?reason= for clients that send no body with DELETE.
        body = SpendRemovalSerializer(data=request.data or request.query_params)
        body.is_valid(raise_exception=True)
        try:
            correction = _call(
                services.spend_entry_remove,
                entry=entry,
                actor=request.user,
                reason=body.validated_data["reason"],
            )
        except SpendEntry.DoesNotExist:
            raise NotFound() from None
        return Response(SpendCorrectionSerializer(correction).data)


# --- touches -----------------------------------------------------------------------------


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "format": "email"}]})
class LeadRefField(serializers.Field):
    """A lead by id or by email (any case)."""

    default_error_messages = {"missing": _lazy("No lead with this id or email.")}

    def to_internal_value(self, data: Any) -> Lead:
        raw = str(data).strip()
        lead = None
        if raw.isdigit():
            lead = Lead.objects.filter(pk=int(raw)).first()
        elif "@" in raw:
            lead = leads_with_email(email=raw).first()
        if lead is None:
            self.fail("missing")
        return lead

    def get_attribute(self, instance: Touch) -> int:
        return instance.lead_id  # the id, without loading the lead

    def to_representation(self, value: Any) -> int:
        return value


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JsonObjectField(serializers.JSONField):
    """Free-form JSON that must be an object ({"key": value, ...})."""

    # DRF formats these messages with str.format: no braces in them.
    default_error_messages = {"not_an_object": _lazy("Send a JSON object of keys and values.")}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_an_object")
        return value


class TouchSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    lead = LeadRefField(help_text="The lead's id or email.")
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )
    kind = serializers.ChoiceField(choices=TouchKind.choices)
    external_id = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=100,
        help_text="The event's id at the source: pushing it again records nothing more.",
    )
    metadata = JsonObjectField(required=False, help_text="Anything the source knows, as an object.")

    class Meta:
        model = Touch
        fields = ["id", "lead", "campaign", "kind", "occurred_at", "external_id", "metadata"]
        validators: list = []
        extra_kwargs = {"occurred_at": {"validators": [history_moment_validator]}}


class TouchFilter(django_filters.FilterSet):
    occurred_after = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Touch
        fields = ["lead", "campaign", "kind"]


@extend_schema_view(
    get=extend_schema(summary="Engagement touches", tags=["touches"]),
    post=extend_schema(
        summary="Push an engagement touch (marketers, integrations)",
        description="Rescores the lead, which may become an MQL. A known `external_id` "
        "returns the stored touch with 200 and records nothing.",
        tags=["touches"],
        responses={
            201: TouchSerializer,
            200: TouchSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
        },
    ),
)
class TouchListView(generics.ListCreateAPIView):
    queryset = Touch.objects.all()
    serializer_class = TouchSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    pagination_class = LargeCursorPagination
    filterset_class = TouchFilter

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recorded = _call(
            services.touch_record,
            actor=request.user,
            lead=data["lead"],
            campaign=data.get("campaign"),
            kind=data["kind"],
            occurred_at=data["occurred_at"],
            external_id=data.get("external_id"),
            metadata=data.get("metadata") or {},
        )
        return Response(
            TouchSerializer(recorded.touch).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )


urlpatterns = [
    path("campaigns/", CampaignListView.as_view(), name="api-campaigns"),
    path("campaigns/kpis/", CampaignKpiView.as_view(), name="api-campaign-kpis"),
    path("campaigns/<int:pk>/", CampaignDetailView.as_view(), name="api-campaign"),
    path("campaigns/<int:pk>/spend/", CampaignSpendView.as_view(), name="api-campaign-spend"),
    path(
        "campaigns/<int:pk>/spend/<int:entry_pk>/",
        CampaignSpendEntryView.as_view(),
        name="api-campaign-spend-entry",
    ),
    path("touches/", TouchListView.as_view(), name="api-touches"),
]
