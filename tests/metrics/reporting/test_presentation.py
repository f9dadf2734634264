"""The drill-down links the dashboard builds by the hundred."""

from datetime import date
from urllib.parse import parse_qsl, urlsplit

from django.test import override_settings
from django.urls import clear_script_prefix, set_script_prefix

from metrics.definitions import MetricFilter
from metrics.reporting.presentation import records_url


def _parts(url: str) -> tuple[str, list[tuple[str, str]]]:
    split = urlsplit(url)
    return split.path, parse_qsl(split.query)


def test_a_link_carries_the_metric_the_filter_and_the_extra_narrowing_in_order():
    f = MetricFilter(start=date(2026, 3, 2), end=date(2026, 3, 9), territory=4)
    assert _parts(records_url("revenue", f)) == ("/metrics/records/", [
        ("metric", "revenue"), ("start", "2026-03-02"), ("end", "2026-03-09"), ("territory", "4"),
    ])  # fmt: skip
    assert _parts(records_url("roi", f, campaign=7))[1][-1] == ("campaign", "7")


def test_an_extra_narrowing_replaces_the_filters_own_rather_than_repeating_it():
    f = MetricFilter(start=date(2026, 3, 2), end=date(2026, 3, 9), campaign=3)
    params = _parts(records_url("spend", f, campaign=9))[1]
    assert params == [
        ("metric", "spend"), ("start", "2026-03-02"), ("end", "2026-03-09"), ("campaign", "9"),
    ]  # fmt: skip


@override_settings(FORCE_SCRIPT_NAME="/crm/")
def test_the_path_follows_the_script_prefix_it_is_served_under():
    f = MetricFilter(start=date(2026, 3, 2), end=date(2026, 3, 9))
    set_script_prefix("/crm/")
    try:
        assert records_url("revenue", f).startswith("/crm/metrics/records/?metric=revenue&")
    finally:
        clear_script_prefix()
    assert records_url("revenue", f).startswith("/metrics/records/?")
