"""GET /api/v1/search/?q= — the header's search for integrations and tools."""

from __future__ import annotations

from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.search.selectors import search
from config.api import FIELD_ERRORS
from config.replicas import replica_page


class HitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    detail = serializers.CharField()
    url = serializers.CharField(help_text="The record's page.")


class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    leads = HitSerializer(many=True, required=False)
    campaigns = HitSerializer(many=True, required=False)
    deals = HitSerializer(many=True, required=False)
    battlecards = HitSerializer(many=True, required=False)
    intel = HitSerializer(many=True, required=False)


class SearchView(APIView):
    """Leads (name, e-mail, company, phone), campaigns, deals, battlecards and intel that
    match every word of `q` (as word prefixes for leads), grouped by kind; only the kinds
    your role may read; at most 8 of each. 400 without `q`."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["search"],
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True)],
        responses={200: SearchResultSerializer, 400: FIELD_ERRORS},
    )
    @method_decorator(replica_page)
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return Response({"q": [_("Type something to search for.")]}, status=400)
        if len(query) > 200:
            return Response({"q": [_("Search with at most 200 characters.")]}, status=400)
        results = search(user=request.user, query=query)
        body: dict = {"query": results.query}
        for kind, hits in results.groups.items():
            body[kind] = [
                {"id": h.id, "label": h.label, "detail": h.detail, "url": h.url} for h in hits
            ]
        return Response(body)


urlpatterns = [path("search/", SearchView.as_view(), name="api-search")]
