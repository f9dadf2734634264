"""Thin DRF views of the metrics: metrics/ (every common metric by name) and scorecards/.

Both read metrics/definitions.py through the same functions as the pages and exports.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import FIELD_ERRORS
from config.dates import period_param_parse, week_start_of
from config.replicas import replica_page
from leads.models import SourceChannel
from metrics.definitions import (
    METRIC_NAMES,
    metric_filter_read,
    metric_label,
    metric_unit,
    metric_values,
)
from metrics.models import Scorecard, Territory


class CanViewMetrics(BasePermission):
    """Every role reads the shared figures (metrics.view_scorecard)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("metrics.view_scorecard"))


ERRORS = {
    400: FIELD_ERRORS,
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="The role may not read metrics."),
}

FILTER_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (included)."),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="Day after the last (excluded); default today+1."
    ),
    OpenApiParameter("week", OpenApiTypes.DATE, description="Any day of an ISO week: that week."),
    OpenApiParameter("territory", OpenApiTypes.INT, description="Territory id."),
    OpenApiParameter("campaign", OpenApiTypes.INT, description="First-touch campaign id."),
    OpenApiParameter("owner", OpenApiTypes.INT, description="Owner (rep) id."),
    OpenApiParameter("source", OpenApiTypes.STR, enum=SourceChannel.values),
    OpenApiParameter(
        "metric",
        OpenApiTypes.STR,
        many=True,
        enum=METRIC_NAMES,
        description="Only these metrics (repeatable); default every metric.",
    ),
]


def _json(value: Any) -> Any:
    """Money as a decimal string (API.md); counts, rates, hours as numbers; null stays null."""
    return str(value) if isinstance(value, Decimal) else value


class MetricsView(APIView):
    permission_classes = [IsAuthenticated, CanViewMetrics]

    @extend_schema(
        summary="Every common metric for a period",
        description=(
            "Each metric of DESIGN.md by its name, computed by the one definition the "
            "pages, CSV exports and scorecards use. The period is [start, end) in the "
            "deployment's time zone. A rate with an empty denominator is null; money is "
            "a decimal string."
        ),
        parameters=FILTER_PARAMETERS,
        responses={
            200: inline_serializer(
                "MetricValues",
                {
                    "start": serializers.DateField(),
                    "end": serializers.DateField(),
                    "territory": serializers.IntegerField(allow_null=True),
                    "campaign": serializers.IntegerField(allow_null=True),
                    "owner": serializers.IntegerField(allow_null=True),
                    "source": serializers.CharField(allow_null=True),
                    "metrics": serializers.DictField(child=serializers.JSONField(allow_null=True)),
                    "definitions": serializers.DictField(
                        child=inline_serializer(
                            "MetricDefinition",
                            {"label": serializers.CharField(), "unit": serializers.CharField()},
                        )
                    ),
                },
            ),
            **ERRORS,
        },
    )
    @method_decorator(replica_page)
    def get(self, request: Request) -> Response:
        f = metric_filter_read(request.query_params)
        names = request.query_params.getlist("metric") or None
        if names:
            unknown = [n for n in names if n not in METRIC_NAMES]
            if unknown:
                raise ValidationError(
                    {"metric": [_("Unknown metric: %(n)s") % {"n": ", ".join(unknown)}]}
                )
        values = metric_values(f=f, names=names)
        return Response(
            {
                "start": f.start,
                "end": f.end,
                "territory": f.territory,
                "campaign": f.campaign,
                "owner": f.owner,
                "source": f.source,
                "metrics": {name: _json(value) for name, value in values.items()},
                "definitions": {
                    name: {"label": metric_label(name), "unit": metric_unit(name)}
                    for name in values
                },
            }
        )


class ScorecardSerializer(serializers.ModelSerializer):
    alignment_score = serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, coerce_to_string=True
    )
    metrics = serializers.DictField(child=serializers.JSONField(allow_null=True))
    components = serializers.ListField(
        child=inline_serializer(
            "ScorecardComponent",
            {
                "key": serializers.CharField(),
                "label": serializers.CharField(),
                "raw": serializers.JSONField(allow_null=True),
                "value": serializers.FloatField(allow_null=True),
                "weight": serializers.IntegerField(),
                "effective_weight": serializers.FloatField(allow_null=True),
            },
        )
    )
    delta = serializers.DictField(child=serializers.FloatField(allow_null=True))

    class Meta:
        model = Scorecard
        fields = [
            "id",
            "week_start",
            "territory",
            "metrics",
            "alignment_score",
            "components",
            "delta",
            "agreement",
            "computed_at",
        ]


class ScorecardListView(generics.ListAPIView):
    serializer_class = ScorecardSerializer
    permission_classes = [IsAuthenticated, CanViewMetrics]
    filter_backends: list = []

    @extend_schema(
        summary="Weekly scorecards",
        description=(
            "Per ISO week (Monday in the deployment's time zone) and territory; territory "
            "null is overall. `week` is any day of the week; `territory=overall` lists only "
            "overall rows."
        ),
        parameters=[
            OpenApiParameter("week", OpenApiTypes.DATE, description="Any day of the week."),
            OpenApiParameter(
                "territory", OpenApiTypes.STR, description="A territory id, or `overall`."
            ),
        ],
        responses={200: ScorecardSerializer(many=True), **ERRORS},
    )
    @method_decorator(replica_page)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Scorecard]:
        params = self.request.query_params
        qs = Scorecard.objects.order_by("-week_start", "territory_id")
        errors: dict[str, list[str]] = {}
        try:
            week = period_param_parse(params.get("week"), field="week")
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            if week is not None:
                qs = qs.filter(week_start=week_start_of(week))
        territory = (params.get("territory") or "").strip()
        if territory == "overall":
            qs = qs.filter(territory__isnull=True)
        elif territory:
            if not territory.isdigit() or not Territory.objects.filter(pk=territory).exists():
                errors["territory"] = [_("Unknown territory “%(v)s”.") % {"v": territory}]
            else:
                qs = qs.filter(territory_id=int(territory))
        if errors:
            raise ValidationError(errors)
        return qs


urlpatterns = [
    path("metrics/", MetricsView.as_view(), name="api-metrics"),
    path("scorecards/", ScorecardListView.as_view(), name="api-scorecards"),
]
