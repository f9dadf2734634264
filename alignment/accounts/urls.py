from django.urls import path

from alignment.accounts import views as views_account

app_name = "account"
urlpatterns = [
    path("profile/", views_account.profile_view, name="profile"),
    path("language/", views_account.language_switch, name="language"),
]
