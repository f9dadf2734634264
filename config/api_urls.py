"""The v1 API: each app (and topic) owns its own module of routes."""

from django.urls import include, path

from config.auth import TokenView

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("", include("alignment.agreement.api")),  # agreements, stages
    path("", include("alignment.feedback.api")),  # intel, disputes, notifications
    path("", include("alignment.webhooks.api")),  # webhook subscriptions
    path("", include("leads.api.records")),  # leads, import
    path("", include("leads.api.moves")),  # a lead's stage moves
    path("", include("leads.api.sales")),  # follow-ups, deals, claim
    path("", include("campaigns.api")),  # campaigns, spend, touches
    path("", include("metrics.reporting.api")),  # metrics, scorecards
    path("", include("alignment.search.api")),  # one search across the shared record
]
