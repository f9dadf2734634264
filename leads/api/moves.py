"""The API's stage move: POST leads/{id}/transition/, through the one move service
(leads.services.moves.lead_move), which the lead page calls too."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.models import StageKey
from config.api import FIELD_ERRORS, NOT_ALLOWED, NOT_FOUND, ErrorSerializer
from leads.models import Lead, StageEvent
from leads.services.moves import lead_move


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
        lead = get_object_or_404(Lead, pk=pk)
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = lead_move(
            lead=lead,
            to_stage=data["to"],
            actor=request.user,
            reason_code=data["reason_code"],
            reason=data["reason"],
            note=data["note"],
            override_reason=data["override_reason"],
            deal=data.get("deal"),
            amount=data.get("amount"),
            source=StageEvent.Source.API,
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


urlpatterns = [
    path("leads/<int:pk>/transition/", LeadTransitionView.as_view(), name="api-lead-transition"),
]
