"""The OpenAPI schema (/api/schema/) and its interactive docs (/api/docs/).

With API_DOCS_PUBLIC (default: DEBUG) anyone may read them; otherwise the schema answers
401 without a session or API token and the docs page sends the browser to the login page,
so a production deployment does not hand its full attack surface to anonymous callers.
The docs page is Swagger UI served in two requests (page, then its init script), so the
page runs under the site's Content-Security-Policy without an inline script.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response


def _docs_permissions() -> list[BasePermission]:
    return [AllowAny()] if settings.API_DOCS_PUBLIC else [IsAuthenticated()]


class SchemaView(SpectacularAPIView):
    def get_permissions(self) -> list[BasePermission]:
        return _docs_permissions()


class DocsView(SpectacularSwaggerSplitView):
    # The package's page with its inline <style> moved to static/css/api-docs.css.
    template_name = "api/docs.html"
    permission_classes = [AllowAny]  # a page: an anonymous reader is sent to log in

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().get(request, *args, **kwargs)
