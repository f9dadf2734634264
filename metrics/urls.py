from django.urls import path

from metrics.reporting import exports, views

app_name = "metrics"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("records/", views.records_view, name="records"),
    path("records.csv", views.records_csv_view, name="records-csv"),
    path("targets/", views.targets_view, name="targets"),
    path("pack/", views.pack_view, name="pack"),
    path("pack.csv", exports.pack_csv_view, name="pack-csv"),
    path("scorecards.csv", exports.scorecards_csv_view, name="scorecards-csv"),
    path("scorecards/recompute/", views.scorecards_recompute_view, name="scorecards-recompute"),
]
