from django.urls import path

from campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list_view, name="list"),
    path("<int:pk>/", views.campaign_detail_view, name="detail"),
]
