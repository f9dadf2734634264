from django.urls import path

from alignment.agreement import views

app_name = "alignment"
urlpatterns = [
    path("", views.agreement_view, name="agreement"),
    path("drafts/new/", views.agreement_draft_new_view, name="draft-new"),
    path("<int:pk>/edit/", views.agreement_edit_view, name="edit"),
    path("<int:pk>/backtest/", views.agreement_backtest_view, name="backtest"),
    path("<int:pk>/propose/", views.agreement_propose_view, name="propose"),
    path("<int:pk>/sign/", views.agreement_sign_view, name="sign"),
]
