from django.urls import path

from alignment.handoffs import views

app_name = "handoffs"
urlpatterns = [
    path("", views.handoff_list_view, name="list"),
]
