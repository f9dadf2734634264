"""People by name: every page and export shows a person's full name (the username only
where there is no name) and a lead as "name · company" with its e-mail beside
(config.formats' person_name and lead_label, the `person` and `lead_label` filters)."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.test import Client

from alignment.accounts.roles import Role
from config.demo import DEMO_USERS, demo_seed
from config.formats import lead_label, person_name
from leads.imports.importer import lead_import, report_csv_rows
from leads.models import Lead
from metrics.definitions import REGISTRY
from tests.factories import UserFactory
from tests.urlwalk import page_urls, with_demo_ids

# --- the helper and the filters ----------------------------------------------------------------


def _user(first: str = "", last: str = "", username: str = "jdoe") -> SimpleNamespace:
    return SimpleNamespace(
        get_full_name=lambda: f"{first} {last}".strip(), get_username=lambda: username
    )


def test_person_name_is_the_full_name_else_the_username_and_a_dash_for_nobody():
    assert person_name(_user("Rina", "Wijaya", "rep")) == "Rina Wijaya"
    assert person_name(_user(username="rep")) == "rep"
    assert person_name(_user(" ", "", "rep")) == "rep"
    assert person_name(None) == "—"


def _lead(**fields: str) -> SimpleNamespace:
    base = {"first_name": "", "last_name": "", "company": "", "email": "x@example.com"}
    return SimpleNamespace(**{**base, **fields})


def test_lead_label_is_name_and_company_else_what_there_is_else_the_email():
    assert lead_label(_lead(first_name="Ana", last_name="Putri", company="Kopi")) == (
        "Ana Putri · Kopi"
    )
    assert lead_label(_lead(first_name="Ana")) == "Ana"
    assert lead_label(_lead(company="Kopi")) == "Kopi"
    assert lead_label(_lead()) == "x@example.com"
    assert lead_label(None) == "—"


def test_the_person_and_lead_label_filters():
    template = Template("{% load accord_format %}{{ a|person }}/{{ b|person }}/{{ c|person }}/"
                        "{{ lead|lead_label }}")  # fmt: skip
    text = template.render(
        Context(
            {
                "a": _user("Rina", "Wijaya", "rep"),
                "b": _user(username="walker"),
                "c": None,
                "lead": _lead(first_name="Ana", last_name="Putri", company="Kopi"),
            }
        )
    )
    assert text == "Rina Wijaya/walker/—/Ana Putri · Kopi"


# --- every page, every demo user ---------------------------------------------------------------


class _Text(HTMLParser):
    """The visible text nodes of a page: not scripts, styles, templates or form fields."""

    SKIP = {"script", "style", "template", "textarea", "code", "pre", "head"}

    def __init__(self) -> None:
        super().__init__()
        self.skipping: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping.append(tag)

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.texts.append(data)


def _visible_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.texts


# Words of the interface that a username happens to spell ("Sales rep" is a role, not Rina).
_WORDS_NOT_NAMES = re.compile("|".join(re.escape(str(label)) for label in Role.labels))


@pytest.fixture
def demo(db):
    return demo_seed(lead_count=40, scorecard_weeks=1)


def _records_paths() -> list[str]:
    """One records page per kind of record (leads, events, deals, intel, disputes...)."""
    seen: dict[str, str] = {}
    for name, metric in REGISTRY.items():
        seen.setdefault(metric.drill_base().base, name)
    return ["/metrics/records/?" + urlencode({"metric": name}) for name in seen.values()]


def test_no_page_names_a_demo_user_by_username(demo):
    """Every page as every demo user: no username of a person with a name appears as a
    word of the page's text (links, form values and the login form are not text)."""
    named = {
        u.username: u.get_full_name()
        for u in get_user_model().objects.filter(username__in=[u[0] for u in DEMO_USERS])
        if u.get_full_name()
    }
    # A whole word, not after an article: "a rep", "the marketer" are prose, not people.
    words = re.compile(
        r"(?<![\w@.-])(?<![Aa] )(?<![Tt]he )(" + "|".join(map(re.escape, named)) + r")(?![\w@-])"
    )
    paths = [with_demo_ids(raw) for name, raw in page_urls() if name not in {"logout", "login"}]
    paths += _records_paths()
    found: dict[str, set[str]] = {}
    for username in named:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        for path in paths:
            response = client.get(path)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            for text in _visible_texts(response.content.decode()):
                text = _WORDS_NOT_NAMES.sub("", text)
                for match in words.finditer(text):
                    found.setdefault(f"{path} as {username}", set()).add(
                        f"{match.group(1)!r} in {text.strip()[:80]!r}"
                    )
    assert found == {}, "\n".join(f"{k}: {sorted(v)}" for k, v in sorted(found.items()))


# --- exports -----------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.django_db
def test_the_records_csv_names_people_and_leads(client: Client):
    owner = UserFactory(username="owner7", first_name="Olga", last_name="Tokarczuk")
    lead = Lead.objects.create(
        email="ana@kopi.example", first_name="Ana", last_name="Putri", company="Kopi", owner=owner
    )
    client.force_login(UserFactory(username="viewer", role="executive"))
    rows = _csv(client.get("/metrics/records.csv", {"metric": "new_leads"}))
    header, *lines = rows
    assert header[:3] == ["Lead", "Email", "Company"]
    line = next(line for line in lines if "ana@kopi.example" in line)
    assert line[:2] == ["Ana Putri · Kopi", "ana@kopi.example"]
    assert "Olga Tokarczuk" in line and "owner7" not in line
    page = client.get("/metrics/records/", {"metric": "new_leads"}).content.decode()
    assert "Ana Putri · Kopi" in page and "Olga Tokarczuk" in page
    assert lead.pk


@pytest.mark.django_db
def test_the_import_report_names_the_leads_it_wrote():
    marketer = UserFactory(username="m1", first_name="Maya", last_name="L", role="marketer")
    result = lead_import(
        rows=[
            {
                "email": "ana@kopi.example",
                "first_name": "Ana",
                "last_name": "Putri",
                "company": "Kopi",
            },
            {"email": "", "first_name": "Nobody"},
        ],
        user=marketer,
    )
    lines = list(report_csv_rows(result.record.report))
    assert lines[0][-2:] == ["lead", "email"]
    assert lines[1][1] == "created" and lines[1][-2:] == ["Ana Putri · Kopi", "ana@kopi.example"]
    assert lines[2][1] == "error" and lines[2][-2:] == ["", ""]
