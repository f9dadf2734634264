"""Server-rendered SVG charts (pygal); no script, no CDN and no inline style (their CSS is
static/css/charts.css: config/charts.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pygal
from django.utils import formats
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from pygal.style import Style

from campaigns.selectors import TimelinePoint
from config.charts import chart_css, inline_svg

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2733",
    foreground_strong="#1d2733",
    foreground_subtle="#d9e0e7",
    colors=("#7a4bb3", "#1f7a5a"),
    font_family="system-ui, -apple-system, 'Segoe UI', sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)


def nice_ticks(top: float, *, at_most: int = 6) -> list[float]:
    """Round y-axis ticks from 0 past `top`: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if top <= 0:
        return [0.0, 1.0]
    magnitude = 10 ** math.floor(math.log10(top / at_most))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if top / (m * magnitude) <= at_most)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _spend_revenue(points: Sequence[TimelinePoint]) -> pygal.Line:
    chart = pygal.Line(
        style=STYLE,
        width=760,
        height=300,
        js=[],  # pygal links its tooltip script from a CDN by default
        disable_xml_declaration=True,
        show_dots=len(points) <= 26,
        dots_size=2.5,
        fill=False,
        legend_at_bottom=True,
        x_label_rotation=0,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(points) // 8),
        truncate_label=-1,
        value_formatter=lambda v: formats.number_format(
            v, decimal_pos=0, use_l10n=True, force_grouping=True
        ),  # grouped as the reader writes numbers
        margin=8,
    )
    chart.x_labels = [date_format(p.week, "MONTH_DAY_FORMAT") for p in points]
    spent = revenue = Decimal("0")
    spend_series, revenue_series = [], []
    for point in points:
        spent += point.spend
        revenue += point.revenue
        spend_series.append(float(spent))
        revenue_series.append(float(revenue))
    chart.y_labels = nice_ticks(max([*spend_series, *revenue_series, 0.0]))
    chart.add(_("Spend (cumulative)"), spend_series)
    chart.add(_("Won revenue (cumulative)"), revenue_series)
    return chart


def spend_revenue_chart(points: Sequence[TimelinePoint]) -> str:
    """Cumulative spend against cumulative won revenue, week by week, as inline SVG."""
    return inline_svg(_spend_revenue(points), family="chart-spend")


def stylesheet() -> str:
    """The CSS of this module's chart, from a sample built as the real one is."""
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(3)]
    sample = [TimelinePoint(week=w, spend=Decimal(1), revenue=Decimal(2)) for w in weeks]
    return chart_css(_spend_revenue(sample), family="chart-spend")
