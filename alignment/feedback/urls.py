from django.urls import path

from alignment.feedback import exports, views

app_name = "feedback"
urlpatterns = [
    path("intel/", views.intel_list_view, name="intel"),
    path("intel.csv", exports.intel_csv_view, name="intel-csv"),
    path("intel/new/", views.intel_new_view, name="intel-new"),
    path("intel/<int:pk>/", views.intel_detail_view, name="intel-detail"),
    path("intel/<int:pk>/respond/", views.intel_respond_view, name="intel-respond"),
    path("battlecards/", views.battlecard_list_view, name="battlecards"),
    path("battlecards/new/", views.battlecard_edit_view, name="battlecard-new"),
    path("battlecards/<int:pk>/", views.battlecard_detail_view, name="battlecard-detail"),
    path("battlecards/<int:pk>/edit/", views.battlecard_edit_view, name="battlecard-edit"),
    path("disputes/", views.dispute_list_view, name="disputes"),
    path("disputes.csv", exports.dispute_csv_view, name="disputes-csv"),
    path("disputes/new/", views.dispute_new_view, name="dispute-new"),
    path("disputes/<int:pk>/", views.dispute_detail_view, name="dispute-detail"),
    path("disputes/<int:pk>/resolve/", views.dispute_resolve_view, name="dispute-resolve"),
    path("notifications/", views.notification_list_view, name="notifications"),
    path(
        "notifications/read-all/", views.notification_read_all_view, name="notifications-read-all"
    ),
    path("notifications/<int:pk>/read/", views.notification_read_view, name="notification-read"),
    path(
        "notifications/preferences/",
        views.notification_preferences_view,
        name="notification-preferences",
    ),
]
