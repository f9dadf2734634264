from django.urls import path

from leads import ledger_export, views
from leads.editing import views as views_editing
from leads.imports import views as views_import

app_name = "leads"
urlpatterns = [
    path("", views.lead_list_view, name="list"),
    path("new/", views_editing.lead_create_view, name="create"),
    path("export.csv", views.lead_list_export_view, name="export"),
    path("bulk/", views.lead_bulk_view, name="bulk"),
    path("views/", views.saved_view_save_view, name="view-save"),
    path("views/<int:pk>/delete/", views.saved_view_delete_view, name="view-delete"),
    path("queue/", views.queue_view, name="queue"),
    path("agenda/", views.agenda_view, name="agenda"),
    path("agenda/calendar/", views.calendar_feed_reset_view, name="calendar-reset"),
    path(
        "calendar/<int:user_id>/<str:token>.ics",
        views.calendar_feed_view,
        name="calendar-feed",
    ),
    path("team/", views.team_view, name="team"),
    path("ledger/", views.ledger_view, name="ledger"),
    path("ledger.csv", ledger_export.ledger_csv_view, name="ledger-csv"),
    path("import/", views_import.lead_import_view, name="import"),
    path("import/runs/<int:pk>/", views_import.lead_import_run_view, name="import-run"),
    path(
        "import/runs/<int:pk>/report.csv",
        views_import.lead_import_report_view,
        name="import-report",
    ),
    path("import/aliases/", views_import.channel_alias_list_view, name="import-aliases"),
    path(
        "import/aliases/<int:pk>/delete/",
        views_import.channel_alias_delete_view,
        name="import-alias-delete",
    ),
    path("import/<str:token>/", views_import.lead_import_map_view, name="import-map"),
    path("<int:pk>/", views.lead_detail_view, name="detail"),
    path("<int:pk>/edit/", views_editing.lead_edit_view, name="edit"),
    path("<int:pk>/merge/", views_editing.lead_merge_view, name="merge"),
    path("<int:pk>/follow-ups/", views.follow_up_create_view, name="follow-up-create"),
    path("<int:pk>/claim/", views.lead_claim_view, name="claim"),
    path("<int:pk>/reassign/", views.lead_reassign_view, name="reassign"),
    path("<int:pk>/move/", views.lead_move_view, name="move"),
    path("<int:pk>/accept/", views.lead_accept_view, name="accept"),
    path("<int:pk>/reject/", views.lead_reject_view, name="reject"),
    path("<int:pk>/deals/", views.deal_create_view, name="deal-create"),
    path("<int:pk>/deals/<int:deal_pk>/close/", views.deal_close_view, name="deal-close"),
    path("<int:pk>/revert/<int:event_pk>/", views.lead_revert_view, name="revert"),
]
