"""The catalogs are current and complete; no page, in-page link or form answer shows English."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from babel.messages.pofile import read_po
from django.test import Client

from config.demo import demo_seed
from tests.conftest import need
from tests.urlwalk import page_routes, route_parameters

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("id", "pl")
IGNORE = (".venv", "var", ".git", "bench-results", "test-artifacts", "node_modules", "locale")


def _catalog(language: str, root: Path = ROOT):
    with open(root / "locale" / language / "LC_MESSAGES" / "django.po", "rb") as handle:
        return read_po(handle, locale=language)


def _ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


def test_makemessages_finds_no_new_strings(tmp_path):
    need(shutil.which("xgettext") is not None, "GNU gettext (xgettext) is not installed")
    copy = tmp_path / "accord"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*IGNORE, "__pycache__", "*.mo"))
    shutil.copytree(ROOT / "locale", copy / "locale", ignore=shutil.ignore_patterns("*.mo"))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--no-obsolete", "-l", "en",
         *[f"--ignore={name}/*" for name in IGNORE]],
        cwd=copy, check=True, capture_output=True,
    )  # fmt: skip
    fresh, committed = _ids(_catalog("en", copy)), _ids(_catalog("en"))
    assert fresh - committed == set(), "run `make messages` and translate the new strings"
    assert committed - fresh == set(), "stale strings in the catalog: run `make messages`"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(language):
    english = _ids(_catalog("en"))
    catalog = _catalog(language)
    assert _ids(catalog) == english, "the catalogs differ: run `make messages`"
    untranslated = [
        message.id
        for message in catalog
        if message.id
        and (message.fuzzy or not (all(message.string) if message.pluralizable else message.string))
    ]
    assert untranslated == []


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w+\}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_the_placeholders_of_its_english(language):
    """A lost or misspelt %(name)s would raise at render time, or hide a value."""
    wrong = []
    for message in _catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            found = set(PLACEHOLDER.findall(text or ""))
            # A plural form may leave the count out ("jeden lead"), never add a name.
            if found - wanted or (wanted - found and not message.pluralizable):
                wrong.append((ids[0], text))
    assert wrong == []


class _TextNodes(HTMLParser):
    """Visible text (charts and choices included) and the human-facing attributes of a page.

    Skipped: code, what the user typed, text marked as another language (the language
    switcher names each language in itself) and time zone names (IANA identifiers).
    """

    SKIP = {"script", "style", "code", "pre", "textarea"}
    ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
    ZONES = zoneinfo.available_timezones()
    VOID = {"input", "img", "br", "hr", "meta", "link", "source", "wbr", "area", "col"}

    def __init__(self, language: str):
        super().__init__()
        self.language = language
        self.texts: list[str] = []
        self.links: list[str] = []  # hrefs with a query string
        self._skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        marked = attributes.get("lang")
        if tag in self.SKIP or (marked and marked != self.language):
            if tag not in self.VOID:
                self._skipping.append(tag)
            return
        if self._skipping:
            return
        for name, value in attrs:
            if name in self.ATTRIBUTES and value:
                self.texts.append(value)
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            self.texts.append(attributes.get("value") or "")  # a button's label
        if tag == "a" and "?" in (attributes.get("href") or ""):
            self.links.append(attributes["href"])

    def handle_endtag(self, tag):
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skipping and text not in self.ZONES:
            self.texts.append(text)


# Whole words in any script (a Polish "według" is not the English "wed"), three letters up.
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-]){2,}")
# Words a page may show untranslated in any language: the product's name and the acronyms
# both teams use as they are (the catalogs keep them too). Everything else English on a page
# is either stored data (names, companies: see _stored_texts) or a missing translation.
ALLOWED = {"Accord", "MQL", "SAL", "SQL", "SLA", "CSV", "JSON", "API", "UTM", "ROI", "CAC"}


def _english_vocabulary() -> set[str]:
    words: set[str] = set()
    for message in _catalog("en"):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            words.update(w.lower() for w in WORD.findall(re.sub(r"%\(\w+\)s|<[^>]+>", " ", text)))
    return words


def _translated_vocabulary(language: str) -> set[str]:
    words: set[str] = set()
    for message in _catalog(language):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            words.update(w.lower() for w in WORD.findall(text or ""))
    return words


def _date_words(language: str) -> set[str]:
    """Month and weekday names and abbreviations as `language` writes them."""
    from django.utils import dates, translation

    with translation.override(language):
        names = [
            *dates.MONTHS.values(), *dates.MONTHS_3.values(), *dates.MONTHS_AP.values(),
            *dates.WEEKDAYS.values(), *dates.WEEKDAYS_ABBR.values(),
        ]  # fmt: skip
        return {w.lower() for name in names for w in WORD.findall(str(name))}


def _stored_texts() -> list[str]:
    """Every free text stored in the database (names, companies, campaign names: data, not
    interface), longest first. Choice fields are left out: their labels must be translated."""
    from django.apps import apps
    from django.db import models

    def strings(value):
        if isinstance(value, str):
            for text in [value, *value.splitlines()]:
                if text.strip():
                    yield " ".join(text.split())
        elif isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                yield from strings(item)

    texts: set[str] = set()
    for model in apps.get_models():
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.choices
        ]
        if fields:
            for row in model.objects.values_list(*fields):
                for value in row:
                    texts.update(strings(value))
    return sorted(texts, key=len, reverse=True)


def _without_data(text: str, stored: list[str]) -> str:
    for value in stored:
        if value in text:
            text = text.replace(value, " ")
    return text


def _records() -> dict[str, dict[str, object]]:
    """Per URL name, or name prefix ending in ":" or "-", the path arguments of a real record.

    Every page with path parameters must find its record here: a new page fails the walk
    until it is added, rather than being skipped.
    """
    from django.contrib.auth import get_user_model

    from alignment.agreement.services import agreement_draft_create
    from alignment.models import Battlecard, Dispute, FieldIntel, Notification
    from alignment.notifications.services import notification_send
    from campaigns.models import Campaign, Collateral, SpendEntry
    from leads.imports.importer import lead_import
    from leads.models import ChannelAlias, Deal, DealOutcome, Lead, StageEvent
    from leads.services.calendar import calendar_feed_get
    from metrics.models import Territory
    from tests.factories import DealFactory

    users = {u.username: u for u in get_user_model().objects.all()}
    rep = users["rep"]
    deal = Deal.objects.filter(lead__owner=rep, outcome=DealOutcome.OPEN).first()
    if deal is None:
        deal = DealFactory(lead=Lead.objects.filter(owner=rep).first())
    run = lead_import(
        rows=[{"email": "walk@example.com", "first_name": "Ewa", "last_name": "Nowak"}],
        user=users["marketer"],
        filename="walk.csv",
    ).record
    draft = agreement_draft_create(user=users["salesmgr"], title="Walk draft")
    last_move = StageEvent.objects.filter(lead_id=deal.lead_id).order_by("-occurred_at", "-id")
    feed = calendar_feed_get(user=rep)
    spend = SpendEntry.objects.order_by("campaign_id", "pk").first()
    notification_send(recipients=[rep], event="walk", dedupe_key="walk", title="Walk")
    return {
        "leads:import-": {"pk": run.pk},
        "leads:deal-close": {"pk": deal.lead_id, "deal_pk": deal.pk},
        "leads:revert": {"pk": deal.lead_id, "event_pk": last_move.first().pk},
        "leads:": {"pk": deal.lead_id},
        "campaigns:touch-record": {"lead_pk": deal.lead_id},
        "campaigns:": {"pk": Campaign.objects.order_by("pk").first().pk},
        # A spend entry's page (correct or remove it): the first entry of a demo campaign.
        "campaigns:spend-entry": {"pk": spend.campaign_id, "entry_pk": spend.pk},
        "campaigns:spend-remove": {"pk": spend.campaign_id, "entry_pk": spend.pk},
        # The demo's uploaded price list (a download: nothing to read, but it must open).
        "campaigns:collateral-download": {
            "pk": Collateral.objects.exclude(file="").order_by("pk").first().pk
        },
        "alignment:": {"pk": draft.pk},
        "feedback:intel-": {"pk": FieldIntel.objects.order_by("pk").first().pk},
        "feedback:battlecard-": {"pk": Battlecard.objects.order_by("pk").first().pk},
        "feedback:dispute-": {"pk": Dispute.objects.order_by("pk").first().pk},
        "feedback:notification-": {"pk": Notification.objects.filter(recipient=rep).first().pk},
        # The rep's calendar feed (iCalendar: nothing to read, but it must open).
        "leads:calendar-feed": {"user_id": rep.pk, "token": feed.token},
        "territories:": {"pk": Territory.objects.order_by("pk").first().pk},
        # A default channel alias (leads 0015): deleted on POST only.
        "leads:import-alias-delete": {"pk": ChannelAlias.objects.order_by("pk").first().pk},
    }


def _arguments(name: str, records: dict[str, dict[str, object]]) -> dict[str, object] | None:
    for key in sorted(records, key=len, reverse=True):
        if name == key or (key.endswith((":", "-")) and name.startswith(key)):
            return records[key]
    return None


# Who may see what differs: each page is read as the first of these who may open it.
WALKERS = ("rep", "salesmgr", "marketer", "mktmgr", "exec")
# 12,500 or 1,234,567.89: thousands grouped the English way (Polish writes 12 500,
# Indonesian 12.500).
ENGLISH_GROUPING = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
# Links the walk does not follow: the API and the admin speak for themselves.
OUTSIDE = ("/api/", "/admin/", "/static/", "/media/")
# Query parameters whose values change what a page shows (not just which records).
VIEWS = {"metric", "by", "model", "kind", "status", "stage", "period", "sla"}
# Logging out is no page to read.
NOT_PAGES = {"logout"}
# Pages that show each role something else: read by every walker who may open them.
BY_ROLE = {"home", "leads:detail", "leads:list", "metrics:dashboard", "campaigns:detail"}


class _Forms(HTMLParser):
    """Where a page's POST forms send their data."""

    def __init__(self):
        super().__init__()
        self.actions: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and (attributes.get("method") or "").lower() == "post":
            self.actions.append(attributes.get("action") or "")


class _Walk:
    """Reads pages in one language as the demo company's people, noting what is English."""

    def __init__(self, language: str):
        from django.contrib.auth import get_user_model

        self.language = language
        self.clients = {}
        for username in WALKERS:
            self.clients[username] = Client(HTTP_ACCEPT_LANGUAGE=language)
            self.clients[username].force_login(get_user_model().objects.get(username=username))
        self.suspicious = (
            _english_vocabulary() - _translated_vocabulary(language) - {w.lower() for w in ALLOWED}
        ) | (_date_words("en") - _date_words(language))
        self.stored = _stored_texts()
        self.problems: dict[str, set[str]] = {}
        self.read = 0
        self.forms: dict[str, str] = {}  # where a form posts -> who was shown it
        self.links: dict[tuple, str] = {}  # in-page links with a query string, by shape

    def check(self, where: str, response) -> None:
        if "html" not in response.get("Content-Type", ""):
            return
        self.read += 1
        parser = _TextNodes(self.language)
        parser.feed(response.content.decode())
        for href in parser.links:
            link = urlsplit(href)
            if link.netloc or not link.path.startswith("/") or link.path.startswith(OUTSIDE):
                continue
            query = parse_qsl(link.query)
            # One link per page, parameters and the values that change what a page shows.
            shape = (
                link.path,
                frozenset(key for key, _value in query),
                frozenset(value for key, value in query if key in VIEWS),
            )
            self.links.setdefault(shape, href)
        for text in parser.texts:
            english = {w for w in WORD.findall(text) if w.lower() in self.suspicious}
            if (english or ENGLISH_GROUPING.search(text)) and (
                {
                    w
                    for w in WORD.findall(_without_data(text, self.stored))
                    if w.lower() in self.suspicious
                }
                or ENGLISH_GROUPING.search(_without_data(text, self.stored))
            ):
                self.problems.setdefault(f"{self.language} {where}", set()).add(text)

    def pages(self, records: dict) -> None:
        """Every page of the URL conf, with real records for its path parameters."""
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.urls import reverse

        # An upload waiting to be mapped lives in the uploader's session.
        upload = self.clients["marketer"].post(
            "/leads/import/",
            {"file": SimpleUploadedFile("walk.csv", b"email,first_name\nwalk2@example.com,Ewa\n")},
        )
        assert upload.status_code == 302, "the marketer could not upload a file to import"
        for name, route in page_routes():
            if name in NOT_PAGES:
                continue
            parameters = route_parameters(route)
            walkers = WALKERS
            if name == "leads:import-map":
                path, walkers = upload["Location"], ("marketer",)
            elif parameters:
                arguments = _arguments(name, records)
                if arguments is None or set(parameters) - set(arguments):
                    self.problems[f"{self.language} {name}"] = {"no record: add to _records()"}
                    continue
                path = reverse(name, kwargs={p: arguments[p] for p in parameters})
            else:
                path = reverse(name)
            self.page(name, path, walkers)
        # The drill-down lists each kind of record in its own table: one metric of each.
        from metrics.definitions import REGISTRY

        kinds = {metric.drill_base().base: name for name, metric in REGISTRY.items()}
        for kind, metric in sorted(kinds.items()):
            self.page(f"metrics:records {kind}", f"/metrics/records/?metric={metric}", WALKERS)

    def page(self, name: str, path: str, walkers: tuple[str, ...]) -> None:
        # The first walker who may open the page reads it (on pages that differ by role,
        # every walker who may). A form target, which sends a GET elsewhere, is read where
        # it sends the first walker.
        responses, answers, redirected = [], [], None
        for username in walkers:
            answer = self.clients[username].get(path)
            answers.append(f"{username}: {answer.status_code}")
            if answer.status_code in (200, 405):  # 405: acts on POST only, nothing to read
                responses.append((username, answer))
                if name not in BY_ROLE:
                    break
            elif answer.status_code in (301, 302, 303) and redirected is None:
                redirected = username
        if not responses and redirected is not None:
            answer = self.clients[redirected].get(path, follow=True)
            answers.append(f"{redirected}, redirects followed: {answer.status_code}")
            responses.append((None, answer))  # its forms are the page it lands on's
        if not responses or responses[0][1].status_code not in (200, 405):
            self.problems[f"{self.language} {name} {path}"] = {"no role could open it"} | {
                ", ".join(answers)
            }
            return
        for username, response in responses:
            if response.status_code == 405:
                continue
            self.check(f"{name} {path}", response)
            if username and "html" in response.get("Content-Type", ""):
                forms = _Forms()
                forms.feed(response.content.decode())
                for action in forms.actions:
                    self.forms.setdefault(action or path, username)

    def links_followed(self, *, at_most: int = 400) -> int:
        """Every in-page link with a query string (filters, drill-downs, groupings, periods),
        and the links on the pages they open, one of each shape."""
        done: set[tuple] = set()
        while len(done) < at_most:
            todo = [(shape, href) for shape, href in list(self.links.items()) if shape not in done]
            if not todo:
                break
            for shape, href in todo[: at_most - len(done)]:
                done.add(shape)
                self.page("link", href, WALKERS)
        return len(done)

    def forms_sent_empty(self) -> None:
        """Each form, sent empty by someone shown it: the answer, errors included."""
        for target, username in self.forms.items():
            if target.startswith(("/logout/", "/account/language/")):
                continue
            answer = self.clients[username].post(target, {}, follow=True)
            if answer.status_code >= 500:
                self.problems[f"{self.language} POST {target}"] = {str(answer.status_code)}
            else:
                self.check(f"POST {target} as {username}", answer)


@pytest.mark.django_db
def test_every_page_and_form_speaks_the_users_language():
    """Each page, detail pages of real records included, in Indonesian and in Polish; and
    in Polish, every in-page link (filters, drill-downs) and each form sent empty (form
    errors, messages), never a server error.

    One demo company serves both languages (seeding it is the slow part).
    """
    demo_seed(lead_count=30, scorecard_weeks=1)  # one week of scorecards is enough to show
    records = _records()
    for language in LANGUAGES:
        walk = _Walk(language)
        walk.pages(records)
        assert walk.problems == {}
        assert walk.read > 40, "the walk read fewer pages than Accord has"
    # Polish, the last language walked: every in-page link's shape, every form sent empty.
    assert walk.links_followed() > 100, "the walk followed fewer links than pages offer"
    walk.forms_sent_empty()
    assert walk.problems == {}
    assert len(walk.forms) > 20, "fewer forms were sent than Accord shows"


def test_no_string_is_translated_once_at_import():
    """`gettext` (not lazy) outside a function runs once, in the default language: every
    user after sees that language. Module and class level strings must be lazy."""
    import ast

    eager_names = {"gettext", "ngettext", "pgettext"}
    found = []
    for path in ROOT.rglob("*.py"):
        if set(path.relative_to(ROOT).parts) & {*IGNORE, "migrations", "tests", "bench"}:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        eager = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation"
            for alias in node.names
            if alias.name in eager_names
        }

        def visit(node, in_function: bool, eager=eager, path=path) -> None:
            for child in ast.iter_child_nodes(node):
                if (
                    not in_function
                    and isinstance(child, ast.Call)
                    and isinstance(child.func, ast.Name)
                    and child.func.id in eager
                ):
                    found.append(f"{path.relative_to(ROOT)}:{child.lineno}")
                inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(child, in_function or inner)

        if eager:
            visit(tree, False)
    assert found == []
