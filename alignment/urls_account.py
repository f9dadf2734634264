from django.urls import path

from alignment import views_account

app_name = "account"
urlpatterns = [
    path("profile/", views_account.profile_view, name="profile"),
    path("language/", views_account.language_switch, name="language"),
]
