from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from alignment.search.views import search_view
from config.api_docs import DocsView, SchemaView
from config.health import healthz
from leads.views import home

admin.site.site_header = _("Accord administration")
admin.site.site_title = _("Accord admin")

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/", include("leads.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("agreement/", include("alignment.agreement.urls")),
    path("metrics/", include("metrics.urls")),
    path("territories/", include("metrics.territories.urls")),
    path("account/", include("alignment.accounts.urls")),
    path("feedback/", include("alignment.feedback.urls")),
    path("waiting/", include("alignment.handoffs.urls")),
    path("search/", search_view, name="search"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]

# No MEDIA_URL route, not even in debug: uploads are read through the views that check
# who may see them (collateral: campaigns:collateral-download).
