from django.urls import path

from campaigns import exports, views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list_view, name="list"),
    path("campaigns.csv", exports.campaign_list_csv_view, name="list-csv"),
    path("new/", views.campaign_create_view, name="create"),
    path("<int:pk>/", views.campaign_detail_view, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit_view, name="edit"),
    path("<int:pk>/spend/", views.campaign_spend_add_view, name="spend-add"),
    path(
        "<int:pk>/spend/<int:entry_pk>/",
        views.campaign_spend_correct_view,
        name="spend-entry",
    ),
    path(
        "<int:pk>/spend/<int:entry_pk>/remove/",
        views.campaign_spend_remove_view,
        name="spend-remove",
    ),
    path("<int:pk>/collateral/", views.campaign_collateral_add_view, name="collateral-add"),
    path(
        "<int:pk>/collateral/delete/",
        views.campaign_collateral_delete_view,
        name="collateral-delete",
    ),
    path(
        "collateral/<int:pk>/download/",
        views.collateral_download_view,
        name="collateral-download",
    ),
    path("<int:pk>/briefing/", views.campaign_briefing_view, name="briefing"),
    path("<int:pk>/acknowledge/", views.campaign_acknowledge_view, name="acknowledge"),
    path("<int:pk>/launch/", views.campaign_launch_view, name="launch"),
    path("touches/lead/<int:lead_pk>/", views.touch_record_view, name="touch-record"),
]
