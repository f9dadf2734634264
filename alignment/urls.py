from django.urls import path

from alignment import views

app_name = "alignment"
urlpatterns = [
    path("", views.agreement_view, name="agreement"),
]
