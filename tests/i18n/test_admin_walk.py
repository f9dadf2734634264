"""The admin speaks the user's language too: every registered model's list, add form and
the change form of a real record, in Indonesian and in Polish."""

from __future__ import annotations

import json
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from config.demo import demo_seed
from tests.i18n.test_catalogs import LANGUAGES, WORD, _Walk

# Not Accord's interface, so not Accord's catalogs. Each exception is a whole text or a
# whole phrase, so an English word elsewhere on the same page still fails:
# - permission names ("Can add lead", "Can claim an unassigned lead") are rows Django
#   writes in English at migrate time; the user and group forms list them as stored.
# - Django's own words: the untranslated alt texts of the search bar's magnifier
#   ("Search") and of an unknown yes/no value ("None"), and the label Django's Polish
#   catalog keeps in the password summary ("hash").
# - third-party apps' names, in whatever their own catalogs make of them (django-axes'
#   "Access Log" is "Log akses" in Indonesian), and, on those apps' own pages only, their
#   untranslated field labels and record names ("Access Log for rep @ 2026-…").
# - stored JSON (a scorecard's values and breakdown) and webhook event names
#   ("lead.accepted"), which integrations read as identifiers (API.md).
DJANGO_OWN = {"Search", "None", "hash"}
THIRD_PARTY_APPS = ("axes", "authtoken")
THIRD_PARTY_LABELS = {
    "Access Log", "Access Attempt", "Access Failure", "Access lock out", "Locked Out",
    "Path", "User Agent", "IP Address", "HTTP Accept", "Attempt Time", "Logout Time",
    "Meta Data", "GET Data", "POST Data", "Form Failures", "Auth Token", "Token", "Key",
    "Failed Logins", "Created", "User",
}  # fmt: skip
EVENT_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")
AXES_RECORD = re.compile(r"Access (?:Log|Attempt|Failure) for \S+ @ [\d:. +-]+")
# A generated id (a webhook delivery's UUID default) is not prose: '6728bad2-…' reads 'bad'.
UUID = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE
)


def _third_party_names(language: str) -> list[str]:
    """The names third-party apps give their models and themselves in `language`."""
    phrases = set()
    with translation.override(language):
        for label in THIRD_PARTY_APPS:
            config = apps.get_app_config(label)
            phrases.add(str(config.verbose_name))
            for model in config.get_models():
                phrases.add(str(model._meta.verbose_name))
                phrases.add(str(model._meta.verbose_name_plural))
    return sorted(phrases, key=len, reverse=True)


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def _allowed(text: str, walk, phrases: list[str]) -> bool:
    """Whether `text` holds no English but what is not Accord's; `phrases`: third-party
    names to read past, longest first."""
    if text in DJANGO_OWN or EVENT_NAME.match(text) or _is_json(text):
        return True
    if text.startswith("Can ") or " | Can " in text:
        return True
    rest = UUID.sub(" ", AXES_RECORD.sub(" ", text))
    for phrase in phrases:
        rest = re.sub(rf"\b{re.escape(phrase)}\b", " ", rest, flags=re.IGNORECASE)
    return not any(word.lower() in walk.suspicious for word in WORD.findall(rest))


def _paths(site) -> list[tuple[str, str]]:
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username="admin")
    paths = [("index", reverse("admin:index"))]
    for model, model_admin in sorted(site._registry.items(), key=lambda item: item[0]._meta.label):
        info = (model._meta.app_label, model._meta.model_name)
        paths.append((f"{model._meta.label} list", reverse("admin:{}_{}_changelist".format(*info))))
        if model_admin.has_add_permission(request):
            paths.append((f"{model._meta.label} add", reverse("admin:{}_{}_add".format(*info))))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            change = reverse("admin:{}_{}_change".format(*info), args=[first.pk])
            paths.append((f"{model._meta.label} change", change))
    return paths


@pytest.mark.django_db
@pytest.mark.filterwarnings("error::django.utils.deprecation.RemovedInDjango60Warning")
def test_the_admin_speaks_the_users_language():
    demo_seed(lead_count=30, scorecard_weeks=1)
    paths = _paths(admin.site)
    assert len(paths) > 60, "fewer admin pages than Accord registers"
    admin_user = get_user_model().objects.get(username="admin")
    failures = {}
    problems = {}
    for language in LANGUAGES:
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.force_login(admin_user)
        walk = _Walk(language)
        names = _third_party_names(language)
        their_pages = sorted([*names, *THIRD_PARTY_LABELS], key=len, reverse=True)
        with translation.override(language):
            header = str(admin.site.site_header)
        assert header != "Accord administration", f"no {language} name for the admin"
        assert header in client.get(reverse("admin:index")).content.decode()
        for name, path in paths:
            response = client.get(path)
            if response.status_code != 200:
                failures[f"{language} {name} {path}"] = response.status_code
                continue
            walk.check(f"{name} {path}", response)
        for where, texts in walk.problems.items():
            app = where.split()[1].split(".")[0]
            phrases = their_pages if app in THIRD_PARTY_APPS else names
            english = sorted(text for text in texts if not _allowed(text, walk, phrases))
            if english:
                problems[where] = english
    assert failures == {}, f"admin pages that did not answer 200: {failures}"
    texts = sorted({text for found in problems.values() for text in found})
    assert problems == {}, (
        f"English in the admin, on {len(problems)} pages:\n"
        + "\n".join(f"  {text!r}" for text in texts)
        + "\nwhere:\n"
        + "\n".join(f"  {where}: {found}" for where, found in sorted(problems.items()))
    )
