"""Language and time zone: the browser first, the user's choice wins; money in one currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import Client, override_settings
from django.utils import translation

from alignment.accounts.services import profile_update
from alignment.models import UserProfile
from config.formats import money_format

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "currency", "expected"),
    [
        ("en", "USD", "$1,234,567.50"),
        ("id", "IDR", "Rp1.234.567,50"),
        ("pl", "PLN", "1\xa0234\xa0567,50\xa0zł"),
        ("pl", "EUR", "1\xa0234\xa0567,50\xa0€"),
    ],
)
def test_money_shows_the_deployment_currency_with_local_grouping(language, currency, expected):
    with override_settings(ACCORD_CURRENCY=currency), translation.override(language):
        assert money_format(Decimal("1234567.50")) == expected


def test_money_never_rounds_an_amount_away_even_in_a_currency_without_cents():
    with override_settings(ACCORD_CURRENCY="IDR"), translation.override("id"):
        assert money_format(Decimal("12500000")) == "Rp12.500.000"
        assert money_format(Decimal("0.10")) == "Rp0,10"


def test_money_keeps_exact_decimals_and_can_drop_minor_units():
    with override_settings(ACCORD_CURRENCY="USD"), translation.override("en"):
        assert money_format(Decimal("0.10") + Decimal("0.20")) == "$0.30"
        assert money_format(Decimal("1999.50"), whole=True) == "$2,000"
        assert money_format(None) == "—"
        rendered = Template('{% load accord_format %}{{ v|money }} {{ v|money:"whole" }}').render(
            Context({"v": Decimal("12.5")})
        )
        assert rendered == "$12.50 $13"


def test_each_languages_number_locale_is_parsed_once(monkeypatch):
    """Babel builds a new Locale on every parse of a name; a dashboard formats hundreds of
    figures, so the active language's is kept (config.formats.active_locale)."""
    from babel.core import Locale

    from config import formats

    formats._babel_locale.cache_clear()
    parsed: list[str] = []
    real_parse = Locale.parse
    monkeypatch.setattr(
        formats.Locale, "parse", lambda name, *a, **k: parsed.append(name) or real_parse(name)
    )
    with translation.override("en"):
        texts = [money_format(Decimal(n)) for n in (1, 2, 3)]
        assert formats.active_locale() is formats.active_locale()
    with translation.override("pl"):
        polish = money_format(Decimal("1234.5"))
    assert texts[0] == "$1.00" and polish.replace("\xa0", " ") == "1 234,50 USD"
    # Babel parses a Locale it is given without a name: one parse per language.
    assert [name for name in parsed if isinstance(name, str)] == ["en", "pl"]


def test_the_browser_language_is_used_until_the_user_chooses(client: Client, rep):
    client.force_login(rep)
    page = client.get("/account/profile/", HTTP_ACCEPT_LANGUAGE="pl")
    assert page.status_code == 200
    assert page.context["LANGUAGE_CODE"] == "pl"
    profile_update(user=rep, language="id")
    page = client.get("/account/profile/", HTTP_ACCEPT_LANGUAGE="pl")
    assert page.context["LANGUAGE_CODE"] == "id"


def test_the_header_switcher_remembers_the_choice_in_the_profile(client: Client, rep):
    client.force_login(rep)
    response = client.post("/account/language/", {"language": "pl", "next": "/leads/"})
    assert response.status_code == 302
    assert response["Location"] == "/leads/"
    assert UserProfile.objects.get(user=rep).language == "pl"
    assert client.get("/leads/", HTTP_ACCEPT_LANGUAGE="en").context["LANGUAGE_CODE"] == "pl"


def test_the_profile_form_refuses_an_unknown_time_zone_with_a_message(client: Client, rep):
    client.force_login(rep)
    response = client.post("/account/profile/", {"language": "", "time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"]
    assert not UserProfile.objects.filter(user=rep).exclude(time_zone="").exists()


@override_settings(TIME_ZONE="UTC")
def test_a_users_time_zone_changes_display_only(client: Client, rep):
    client.force_login(rep)
    response = client.post(
        "/account/profile/", {"language": "en", "time_zone": "Asia/Jakarta"}, follow=True
    )
    assert response.status_code == 200
    assert UserProfile.objects.get(user=rep).time_zone == "Asia/Jakarta"
    page = client.get("/account/profile/")
    assert page.context["TIME_ZONE"] == "Asia/Jakarta"
    assert "deployment's time zone (UTC)" in page.content.decode()


def test_every_page_says_which_time_zone_shows_times_and_which_one_counts(client: Client, rep):
    profile_update(user=rep, time_zone="Asia/Jakarta")
    client.force_login(rep)
    with override_settings(TIME_ZONE="Europe/Warsaw"):
        body = client.get("/leads/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Times are shown in Asia/Jakarta." in body
    assert "scorecard weeks and reports count in Europe/Warsaw" in body
