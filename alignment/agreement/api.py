"""Thin DRF views and serializers of the agreement; rules live in services and selectors.

Routes: agreements/ (list, create a draft), agreements/active/, agreements/{id}/,
agreements/{id}/propose/, agreements/{id}/sign/, stages/ (the active funnel) and
leads/{id}/transition/ (the one stage service).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.agreement.selectors import agreement_active, funnel_active, rule_in_words
from alignment.agreement.services import agreement_draft_create, agreement_propose, agreement_sign
from alignment.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    FunnelStage,
    QualificationRule,
    ReasonCode,
    StageKey,
    Team,
)
from config.api import FIELD_ERRORS, RoleModelPermissions
from leads.models import Lead, StageEvent

# --- serializers ------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


NOT_ALLOWED = OpenApiResponse(ErrorSerializer, description=_lazy("Your role may not do this."))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_lazy("No such object."))


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
        ]

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
            "in_words",
        ]

    def get_in_words(self, rule: QualificationRule) -> str:
        return rule_in_words(rule)


class ReasonCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["kind", "code", "label"]


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


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=StageKey.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    reason_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        help_text="A marketing manager's written reason to make a lead an MQL although it "
        "does not meet the agreed criteria (recorded, counted as mql_overrides).",
    )
    deal = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="To move to won or lost: the open deal to close with that outcome.",
    )
    amount = serializers.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text="With `deal`: the deal's final amount (default: its current amount).",
    )


class TransitionResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    stage = serializers.CharField()
    from_stage = serializers.CharField()
    event = serializers.IntegerField()
    reason_code = serializers.CharField()
    sla_due_at = serializers.DateTimeField(allow_null=True)
    owner = serializers.IntegerField(allow_null=True)


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


class LeadTransitionView(APIView):
    """Move a lead along the agreed funnel (the one stage service).

    Body: {"to": stage key, "reason": text or reason code, "reason_code": code,
    "note": text, "override_reason": text, "deal": id, "amount": decimal}. Rejecting an
    MQL (mql → recycled), `lost` and `disqualified` need a reason code of the agreement:
    give it in "reason_code" or as "reason". A lead is won or lost through its deal: a
    move to `won` is refused (400, naming the open deal) unless the body closes that
    deal ("deal", optional final "amount"); `lost` likewise while a deal is open. A move
    into `mql` below the agreed criteria needs a marketing manager's "override_reason".
    400 with field errors when the agreement refuses the move (nothing changes); 403
    when your role may not make it (only sales decides on MQLs); 404 for no lead.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=TransitionSerializer,
        responses={
            200: TransitionResponseSerializer,
            400: FIELD_ERRORS,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description=_("No agreement is active.")),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        from alignment.agreement.selectors import reason_kind_for
        from leads.services import lead_transition

        lead = get_object_or_404(Lead, pk=pk)
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        to_stage = body.validated_data["to"]
        try:
            funnel = funnel_active()
        except LookupError:
            return Response(
                {"detail": _("No agreement is active, so no lead can move.")},
                status=status.HTTP_409_CONFLICT,
            )
        reason_code = body.validated_data["reason_code"].strip()
        reason = body.validated_data["reason"].strip()
        note = body.validated_data["note"].strip()
        kind = reason_kind_for(from_stage=lead.stage, to_stage=to_stage)
        if kind and not reason_code and reason in funnel.reason_codes.get(kind, {}):
            reason_code, reason = reason, ""
        elif kind and not reason_code and reason:
            reason_code = reason  # refused below with the list of agreed codes
            reason = ""
        text = "\n".join(part for part in (reason, note) if part)
        deal_id = body.validated_data.get("deal")
        if deal_id is not None:
            if to_stage not in (StageKey.WON, StageKey.LOST):
                raise ValidationError(
                    {"deal": [_("A deal is closed only by a move to won or lost.")]}
                )
            result = self._close_deal(
                request, lead=lead, deal_id=deal_id, to_stage=to_stage, reason_code=reason_code,
                amount=body.validated_data.get("amount"), funnel=funnel,
            )  # fmt: skip
        else:
            result = lead_transition(
                lead=lead,
                to_stage=to_stage,
                actor=request.user,
                reason_code=reason_code if kind else "",
                reason=text,
                source=StageEvent.Source.API,
                funnel=funnel,
                override_reason=body.validated_data["override_reason"],
            )
        moved = result.lead
        return Response(
            {
                "id": moved.pk,
                "stage": moved.stage,
                "from_stage": result.event.from_stage,
                "event": result.event.pk,
                "reason_code": result.event.reason_code,
                "sla_due_at": moved.sla_due_at,
                "owner": moved.owner_id,
            }
        )

    def _close_deal(
        self, request: Request, *, lead, deal_id: int, to_stage: str, reason_code: str, amount,
        funnel,
    ):  # fmt: skip
        """Win or lose the lead by closing its open deal (the stage follows the deal)."""
        from leads.models import Deal, DealOutcome
        from leads.services import TransitionResult
        from leads.services.deals import deal_close

        deal = Deal.objects.filter(pk=deal_id, lead=lead).first()
        if deal is None:
            raise ValidationError({"deal": [_("This lead has no deal %(id)s.") % {"id": deal_id}]})
        deal_close(
            deal=deal,
            actor=request.user,
            outcome=DealOutcome.WON if to_stage == StageKey.WON else DealOutcome.LOST,
            lost_reason=reason_code,
            amount=amount,
            funnel=funnel,
            source=StageEvent.Source.API,
        )
        lead.refresh_from_db()
        event = lead.stage_events.order_by("-occurred_at", "-id").first()
        return TransitionResult(lead=lead, event=event)


urlpatterns = [
    path("agreements/", AgreementListView.as_view(), name="api-agreements"),
    path("agreements/active/", AgreementActiveView.as_view(), name="api-agreement-active"),
    path("agreements/<int:pk>/", AgreementDetailView.as_view(), name="api-agreement"),
    path(
        "agreements/<int:pk>/propose/", AgreementProposeView.as_view(), name="api-agreement-propose"
    ),
    path("agreements/<int:pk>/sign/", AgreementSignView.as_view(), name="api-agreement-sign"),
    path("stages/", StageListView.as_view(), name="api-stages"),
    path("leads/<int:pk>/transition/", LeadTransitionView.as_view(), name="api-lead-transition"),
]
