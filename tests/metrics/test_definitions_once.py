"""Definitions once: won deals, score components, week boundaries and percentages are each
defined in one place, and every page counts and writes through it.

- the team page counts through the metric registry, in the deployment's week, whatever
  time zone the manager reads in;
- the won-deal filter is written only in metrics/definitions.py;
- the alignment-score components are one list (alignment.agreement.selectors);
- a week starts in config.dates only;
- a percentage is written by config.formats.percent_format only.
"""

from __future__ import annotations

import ast
import re
import zoneinfo
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from alignment.accounts.roles import Role
from alignment.agreement.forms import WeightsForm
from alignment.agreement.selectors import (
    COMPONENT_LABELS,
    DEFAULT_WEIGHTS,
    SCORE_COMPONENTS,
    WEIGHT_FIELDS,
    agreement_weights_labelled,
)
from alignment.models import Agreement, FollowUpKind
from config.dates import week_bounds, week_start_of
from config.formats import percent_format
from leads.models import DealOutcome
from leads.selectors import TEAM_METRICS, team_week
from metrics.definitions import MetricFilter, metric_values_grouped
from metrics.reporting import services as reporting_services
from metrics.reporting.presentation import display
from tests.factories import DealFactory, FollowUpFactory, UserFactory, UserProfileFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ("alignment", "campaigns", "config", "leads", "metrics")
DEPLOYMENT = "Europe/Warsaw"  # UTC+1 in January
WARSAW = zoneinfo.ZoneInfo(DEPLOYMENT)
MONDAY = date(2026, 1, 5)


def _sources() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _at(*args: int) -> datetime:
    """A moment on the deployment's wall clock."""
    return datetime(*args, tzinfo=WARSAW)


# --- the team page: the registry's counts, the deployment's week --------------------------


@pytest.fixture
def week_of_work(db, settings):
    """A rep's week in Warsaw, with records just inside and just outside its edges."""
    settings.TIME_ZONE = DEPLOYMENT
    rep = UserFactory(username="tz-rep", role=Role.SALES_REP)
    # Just after Monday 00:00 in Warsaw: Sunday afternoon in Honolulu.
    FollowUpFactory(author=rep, kind=FollowUpKind.CALL, occurred_at=_at(2026, 1, 5, 0, 30))
    FollowUpFactory(author=rep, kind=FollowUpKind.DEMO, occurred_at=_at(2026, 1, 7, 12, 0))
    # Just before the next Monday in Warsaw: already Monday in Kiritimati (UTC+14).
    FollowUpFactory(author=rep, kind=FollowUpKind.VISIT, occurred_at=_at(2026, 1, 11, 23, 30))
    # Just before the week in Warsaw: already Monday in Kiritimati.
    FollowUpFactory(author=rep, kind=FollowUpKind.CALL, occurred_at=_at(2026, 1, 4, 23, 30))
    # Just after it in Warsaw: still Sunday in Honolulu.
    FollowUpFactory(author=rep, kind=FollowUpKind.CALL, occurred_at=_at(2026, 1, 12, 0, 15))
    won = {"owner": rep, "outcome": DealOutcome.WON}
    DealFactory(**won, closed_at=_at(2026, 1, 5, 0, 15))
    DealFactory(**won, closed_at=_at(2026, 1, 12, 0, 15))
    DealFactory(**won, closed_at=_at(2026, 1, 4, 23, 45))
    DealFactory(owner=rep, outcome=DealOutcome.LOST, lost_reason="price", closed_at=_at(2026, 1, 6))
    return rep


EXPECTED = {"follow_ups": 3, "calls": 1, "meetings": 1, "visits": 1, "deals_won": 1}


def _row_counts(row) -> dict[str, int]:
    return {name: getattr(row, name) for name in EXPECTED}


def _registry_counts(rep) -> dict[str, int]:
    grouped = metric_values_grouped(
        f=MetricFilter(start=MONDAY, end=date(2026, 1, 12)), by="owner", names=TEAM_METRICS
    )[rep.pk]
    return {
        "follow_ups": grouped["follow_ups"],
        "calls": grouped["follow_ups[call]"],
        "meetings": grouped["follow_ups[meeting]"],
        "visits": grouped["follow_ups[visit]"],
        "deals_won": grouped["deals_won"],
    }


@pytest.mark.parametrize("viewer", ["Pacific/Honolulu", "Pacific/Kiritimati", DEPLOYMENT])
def test_the_team_week_counts_the_deployment_week_in_any_viewer_zone(week_of_work, viewer):
    rep = week_of_work
    assert _registry_counts(rep) == EXPECTED
    with timezone.override(zoneinfo.ZoneInfo(viewer)):
        [row] = team_week(reps=[rep], week=date(2026, 1, 8))  # any day of the week
    assert _row_counts(row) == EXPECTED


@pytest.mark.parametrize("viewer", ["Pacific/Honolulu", "Pacific/Kiritimati"])
def test_the_team_page_shows_the_registrys_figures_to_a_manager_far_away(
    client, week_of_work, sales_manager, viewer
):
    UserProfileFactory(user=sales_manager, time_zone=viewer)
    client.force_login(sales_manager)
    response = client.get("/leads/team/", {"week": "2026-01-07"})
    assert response.status_code == 200
    assert response.context["week"] == MONDAY
    [row] = [r for r in response.context["rows"] if r.rep == week_of_work]
    assert _row_counts(row) == _registry_counts(week_of_work) == EXPECTED


def test_this_week_is_the_deployments_week_at_a_viewers_sunday_night(settings):
    settings.TIME_ZONE = DEPLOYMENT
    moment = _at(2026, 1, 5, 0, 30)  # Monday in Warsaw, Sunday in Honolulu
    with timezone.override(zoneinfo.ZoneInfo("Pacific/Honolulu")):
        assert week_start_of(moment) == MONDAY
        assert week_bounds(moment) == (_at(2026, 1, 5), _at(2026, 1, 12))
    assert week_start_of(date(2026, 1, 11)) == MONDAY
    assert week_start_of(date(2026, 1, 12)) == date(2026, 1, 12)


# --- won deals: one definition ------------------------------------------------------------


def _is_won(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value == "won"
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "WON"
        and (isinstance(node.value, ast.Name) and node.value.id == "DealOutcome")
    )


def _query_call(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "Q"
    return isinstance(func, ast.Attribute) and func.attr in {"filter", "exclude", "get"}


def test_the_won_deal_filter_is_written_only_in_metrics_definitions():
    """`outcome=DealOutcome.WON` (or "won") in a query appears in one module: the rest
    import metrics.definitions' WON_DEAL / won_deals / deals_won."""
    places = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _query_call(node):
                for keyword in node.keywords:
                    if keyword.arg in {"outcome", "deals__outcome"} and _is_won(keyword.value):
                        places.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert places and all(p.startswith("metrics/definitions.py:") for p in places), places
    assert len(places) == 1, places  # WON_DEAL itself


def test_attribution_distributes_the_registrys_won_deals():
    from campaigns import attribution
    from metrics import definitions

    assert attribution.won_deals is definitions.won_deals


# --- the alignment-score components: one list ---------------------------------------------


def test_every_place_derives_the_score_components_from_the_one_list():
    keys = [c.key for c in SCORE_COMPONENTS]
    agreement = Agreement()
    assert list(agreement.weights()) == keys
    assert [agreement.weights()[c.key] for c in SCORE_COMPONENTS] == [
        c.default_weight for c in SCORE_COMPONENTS
    ]
    assert [getattr(agreement, f) for f in WEIGHT_FIELDS] == list(DEFAULT_WEIGHTS.values())
    assert reporting_services.COMPONENT_LABELS is COMPONENT_LABELS
    assert reporting_services.DEFAULT_WEIGHTS is DEFAULT_WEIGHTS
    computed = reporting_services.alignment_components(
        values={}, planned_mql_to_won=None, weights=DEFAULT_WEIGHTS
    )
    assert [c["key"] for c in computed] == keys
    assert [c["label"] for c in computed] == [str(c.label) for c in SCORE_COMPONENTS]
    form = WeightsForm()
    assert list(form.fields) == WEIGHT_FIELDS
    assert [str(f.label) for f in form.fields.values()] == [str(c.label) for c in SCORE_COMPONENTS]
    assert [label for label, _w in agreement_weights_labelled(agreement=agreement)] == [
        str(c.label) for c in SCORE_COMPONENTS
    ]


def test_the_agreement_service_saves_the_weights_of_the_one_list():
    from alignment.agreement import services

    assert list(services.WEIGHT_FIELDS) == WEIGHT_FIELDS


# --- week boundaries: config.dates only ---------------------------------------------------

WEEK_START = re.compile(r"timedelta\(\s*days\s*=\s*[\w.]+\.weekday\(\)\s*\)|isocalendar\(")


def test_only_config_dates_computes_where_a_week_starts():
    places = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if WEEK_START.search(path.read_text(encoding="utf-8"))
    ]
    assert places == ["config/dates.py"]


# --- percentages: one format ----------------------------------------------------------------

# A template that computes a percentage itself (×100 and a "%" sign).
HAND_PERCENT = re.compile(r"widthratio[^%]*%\}\s*%|floatformat[^}]*\}\}\s*%|\}\}\s?%")


def test_no_template_writes_a_percentage_by_hand():
    places = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if HAND_PERCENT.search(path.read_text(encoding="utf-8"))
    ]
    assert places == []


def test_the_campaign_tags_no_longer_bring_their_own_percent():
    from campaigns.templatetags import campaigns_tags

    assert "percent" not in campaigns_tags.register.filters


@pytest.mark.parametrize(
    ("language", "rate", "roi", "loss"),
    [
        ("en", "66.7%", "+200%", "-100%"),
        ("pl", "66,7%", "+200%", "-100%"),
        ("id", "66,7%", "+200%", "-100%"),
    ],
)
def test_a_percentage_reads_the_same_on_every_page(language, rate, roi, loss):
    """The dashboard and pack (presentation.display), the campaign pages (the `percent`
    filter, with campaigns_tags loaded after accord_format as they are) and Python code
    (percent_format) write one share the same way."""
    template = Template(
        "{% load accord_format campaigns_tags %}"
        '{{ rate|percent }}|{{ roi|percent:"ratio" }}|{{ loss|percent:"ratio" }}|{{ none|percent }}'
    )
    shares = {"rate": 2 / 3, "roi": Decimal("2.0"), "loss": -1.0, "none": None}
    with translation.override(language):
        in_templates = template.render(Context(shares)).split("|")
        by_display = [
            display(shares["rate"], "rate"),
            display(shares["roi"], "ratio"),
            display(shares["loss"], "ratio"),
            display(None, "rate"),
        ]
        by_function = [
            percent_format(shares["rate"]),
            percent_format(shares["roi"], "ratio"),
            percent_format(shares["loss"], "ratio"),
            percent_format(None),
        ]
    assert in_templates == by_display == by_function == [rate, roi, loss, "—"]


def test_a_rate_of_one_half_keeps_the_dashboards_tenth():
    assert percent_format(0.5) == "50.0%"
    assert percent_format(0, "ratio") == "0%"
