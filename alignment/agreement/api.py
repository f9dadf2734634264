"""Thin DRF views and serializers of the agreement; rules live in services and selectors.

Routes: agreements/ (list, create a draft), agreements/active/, agreements/{id}/,
agreements/{id}/propose/, agreements/{id}/sign/, agreements/{id}/backtest/, stages/ (the
active funnel) and leads/{id}/transition/ (the one stage service).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.agreement.backtest import (
    BACKTEST_MAX_THRESHOLD,
    BacktestCounts,
    agreement_backtest,
    backtest_window,
)
from alignment.agreement.selectors import agreement_active, rule_in_words
from alignment.agreement.services import agreement_draft_create, agreement_propose, agreement_sign
from alignment.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    FunnelStage,
    QualificationRule,
    ReasonCode,
    Team,
)
from config.api import FIELD_ERRORS, NOT_ALLOWED, NOT_FOUND, RoleModelPermissions
from config.dates import period_date_validator

# --- serializers ------------------------------------------------------------------------


class StageSerializer(serializers.ModelSerializer):
    next = serializers.SerializerMethodField()

    class Meta:
        model = FunnelStage
        fields = [
            "key",
            "name",
            "order",
            "owner_team",
            "sla_hours",
            "entry_criteria",
            "exit_criteria",
            "win_probability",
            "next",
            "translations",
        ]
        read_only_fields = ["translations"]

    def get_next(self, stage: FunnelStage) -> list[str]:
        return sorted(n.key for n in stage.next_stages.all())


class RuleSerializer(serializers.ModelSerializer):
    in_words = serializers.SerializerMethodField()

    class Meta:
        model = QualificationRule
        fields = [
            "id",
            "kind",
            "field",
            "operator",
            "value",
            "touch_kind",
            "half_life_days",
            "points",
            "description",
            "translations",
            "in_words",
        ]
        read_only_fields = ["translations"]

    def get_in_words(self, rule: QualificationRule) -> str:
        return rule_in_words(rule)


class ReasonCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["kind", "code", "label", "translations"]
        read_only_fields = ["translations"]


class SignatureSerializer(serializers.ModelSerializer):
    signed_by = serializers.CharField(source="signed_by.get_username")

    class Meta:
        model = AgreementSignature
        fields = ["team", "signed_by", "signed_at"]


class AgreementListSerializer(serializers.ModelSerializer):
    signatures = SignatureSerializer(many=True, read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "version",
            "title",
            "status",
            "based_on",
            "mql_threshold",
            "created_at",
            "proposed_at",
            "activated_at",
            "superseded_at",
            "signatures",
        ]


class CriteriaSerializer(serializers.Serializer):
    mql_threshold = serializers.IntegerField()
    rules = RuleSerializer(many=True)


class AgreementDetailSerializer(AgreementListSerializer):
    stages = StageSerializer(many=True, read_only=True)
    criteria = serializers.SerializerMethodField()
    slas = serializers.SerializerMethodField()
    weights = serializers.SerializerMethodField()
    reason_codes = ReasonCodeSerializer(many=True, read_only=True)

    class Meta(AgreementListSerializer.Meta):
        fields = [
            *AgreementListSerializer.Meta.fields,
            "notes",
            "stages",
            "criteria",
            "slas",
            "weights",
            "reason_codes",
            "business_hours",
        ]

    @extend_schema_field(CriteriaSerializer)
    def get_criteria(self, agreement: Agreement) -> dict:
        return {
            "mql_threshold": agreement.mql_threshold,
            "rules": RuleSerializer(agreement.rules.all(), many=True).data,
        }

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField(allow_null=True)))
    def get_slas(self, agreement: Agreement) -> dict[str, int | None]:
        return {stage.key: stage.sla_hours for stage in agreement.stages.all()}

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_weights(self, agreement: Agreement) -> dict[str, int]:
        return agreement.weights()


class DraftCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=Agreement.objects.all(), required=False, allow_null=True
    )


class SignResponseSerializer(serializers.Serializer):
    agreement = AgreementListSerializer()
    team = serializers.ChoiceField(choices=Team.choices)
    activated = serializers.BooleanField()


class BacktestRequestSerializer(serializers.Serializer):
    """The backtest page's form: a window of whole days and a threshold to try (optional)."""

    start = serializers.DateField(validators=[period_date_validator])
    end = serializers.DateField(validators=[period_date_validator])
    threshold = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=BACKTEST_MAX_THRESHOLD
    )

    def validate(self, attrs: dict) -> dict:
        attrs["window"] = backtest_window(start=attrs["start"], end=attrs["end"])
        return attrs


class BacktestCountsSerializer(serializers.Serializer):
    """One version's figures: of the window's leads, the would-be MQLs and what became of
    them; precision = won / mqls, recall = won / won_total (null without a denominator)."""

    version = serializers.IntegerField()
    threshold = serializers.IntegerField()
    leads = serializers.IntegerField()
    mqls = serializers.IntegerField()
    accepted = serializers.IntegerField()
    opportunities = serializers.IntegerField()
    won = serializers.IntegerField()
    won_total = serializers.IntegerField()
    won_missed = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    precision = serializers.FloatField(allow_null=True)
    recall = serializers.FloatField(allow_null=True)


class BacktestResultSerializer(serializers.Serializer):
    """The window as moments, this version's figures and (null when none is in force) the
    active version's beside them."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    candidate = BacktestCountsSerializer()
    active = BacktestCountsSerializer(allow_null=True)


class CanViewAgreements(BasePermission):
    """Whoever reads the agreement (every role) may backtest it, as on its page."""

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.has_perm("alignment.view_agreement"))


# --- views ------------------------------------------------------------------------------


def _agreements_full():
    return Agreement.objects.prefetch_related(
        Prefetch("stages", queryset=FunnelStage.objects.prefetch_related("next_stages")),
        "rules",
        "reason_codes",
        "signatures__signed_by",
    )


class AgreementListView(generics.ListAPIView):
    """Every agreement version, newest first; POST starts a new draft (copy of the active)."""

    serializer_class = AgreementListSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    queryset = Agreement.objects.prefetch_related("signatures__signed_by").order_by("-version")

    @extend_schema(
        request=DraftCreateSerializer,
        responses={
            201: AgreementDetailSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
        },
    )
    def post(self, request: Request) -> Response:
        data = DraftCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            draft = agreement_draft_create(
                user=request.user,
                base=data.validated_data.get("based_on"),
                title=data.validated_data.get("title", ""),
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        draft = _agreements_full().get(pk=draft.pk)
        return Response(AgreementDetailSerializer(draft).data, status=status.HTTP_201_CREATED)


class AgreementActiveView(APIView):
    """The version in force: its stages, criteria, SLAs, weights and reason codes."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: AgreementDetailSerializer, 404: NOT_FOUND})
    def get(self, request: Request) -> Response:
        agreement = agreement_active()
        if agreement is None:
            raise NotFound(_("No agreement is active."))
        return Response(AgreementDetailSerializer(agreement).data)


class AgreementDetailView(generics.RetrieveAPIView):
    """One version in full."""

    serializer_class = AgreementDetailSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]

    def get_queryset(self):
        return _agreements_full()


class AgreementProposeView(APIView):
    """Freeze a draft so both managers can sign it (marketers and managers)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: AgreementListSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        agreement = get_object_or_404(Agreement, pk=pk)
        try:
            agreement = agreement_propose(agreement=agreement, user=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        return Response(AgreementListSerializer(agreement).data)


class AgreementSignView(APIView):
    """A manager signs a proposal for their own team (once); both signatures activate it.

    403 for anyone but a sales or marketing manager; 400 when the version is not
    proposed or the team has signed already.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: SignResponseSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        agreement = get_object_or_404(Agreement, pk=pk)
        try:
            result = agreement_sign(agreement=agreement, user=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        fresh = Agreement.objects.prefetch_related("signatures__signed_by").get(pk=pk)
        return Response(
            {
                "agreement": AgreementListSerializer(fresh).data,
                "team": result.signature.team,
                "activated": result.activated,
            }
        )


def _counts(counts: BacktestCounts | None) -> dict | None:
    return None if counts is None else counts.as_dict()


class AgreementBacktestView(APIView):
    """How a version's criteria would have done on the leads created in a window.

    The figures of the backtest panel on the draft editor, by the same function over the
    same window: would-be MQLs, how many sales accepted, reached opportunity and won,
    precision and recall, and the won leads the criteria would have missed, beside the
    version in force. Reads only; changes nothing. The window is whole days in the
    deployment's time zone, from `start` up to (not including) `end`, at most two years.
    """

    permission_classes = [IsAuthenticated, CanViewAgreements]

    @extend_schema(
        request=BacktestRequestSerializer,
        responses={
            200: BacktestResultSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        agreement = get_object_or_404(Agreement, pk=pk)
        data = BacktestRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        start, end = data.validated_data["window"]
        result = agreement_backtest(
            agreement=agreement,
            start=start,
            end=end,
            threshold=data.validated_data.get("threshold"),
        )
        return Response(
            BacktestResultSerializer(
                {
                    "start": result.start,
                    "end": result.end,
                    "candidate": _counts(result.candidate),
                    "active": _counts(result.active),
                }
            ).data
        )


class StageListView(generics.ListAPIView):
    """The active funnel: key, name, order, owner team, SLA hours and allowed next stages."""

    serializer_class = StageSerializer
    permission_classes = [IsAuthenticated]
    queryset = FunnelStage.objects.none()  # for the schema; the real one is below

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FunnelStage.objects.none()
        active = Agreement.objects.filter(status=AgreementStatus.ACTIVE).first()
        return (
            FunnelStage.objects.filter(agreement=active)
            .prefetch_related("next_stages")
            .order_by("order")
        )


urlpatterns = [
    path("agreements/", AgreementListView.as_view(), name="api-agreements"),
    path("agreements/active/", AgreementActiveView.as_view(), name="api-agreement-active"),
    path("agreements/<int:pk>/", AgreementDetailView.as_view(), name="api-agreement"),
    path(
        "agreements/<int:pk>/propose/", AgreementProposeView.as_view(), name="api-agreement-propose"
    ),
    path("agreements/<int:pk>/sign/", AgreementSignView.as_view(), name="api-agreement-sign"),
    path(
        "agreements/<int:pk>/backtest/",
        AgreementBacktestView.as_view(),
        name="api-agreement-backtest",
    ),
    path("stages/", StageListView.as_view(), name="api-stages"),
]
