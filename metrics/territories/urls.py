from django.urls import path

from metrics.territories import views

app_name = "territories"

urlpatterns = [
    path("", views.territory_list_view, name="list"),
    path("<int:pk>/", views.territory_detail_view, name="detail"),
    path("<int:pk>/edit/", views.territory_edit_view, name="edit"),
]
