from django.urls import path

from leads import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list_view, name="list"),
    path("queue/", views.queue_view, name="queue"),
    path("<int:pk>/", views.lead_detail_view, name="detail"),
]
