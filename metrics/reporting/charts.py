"""Server-rendered SVG charts (pygal), inlined in the page: no JavaScript, no CDN, no
inline style (their CSS is static/css/charts.css: config/charts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pygal
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from pygal.style import Style

from config.charts import SAMPLE_SERIES, chart_css, inline_svg
from config.formats import number_format

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#d9e2ec",
    colors=("#2f6fab", "#1f7a5a", "#7b4fb8", "#c2410c", "#b42318", "#64748b"),
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=12,
    legend_font_size=12,
    title_font_size=14,
)


def _config(**extra: Any) -> dict[str, Any]:
    # js=[]: pygal would otherwise link its tooltip script from a CDN.
    return {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "show_legend": False,
        "print_values": True,
        "margin": 12,
        **extra,
    }


def _funnel(rows: list[dict[str, Any]]) -> pygal.HorizontalBar:
    # One series with the stages as axis labels, no legend: nothing to cut on a phone.
    chart = pygal.HorizontalBar(
        **_config(
            width=640,
            height=300,
            title=_("Leads entering each stage"),
            truncate_label=-1,
            value_formatter=lambda value: number_format(value),
        )
    )
    # pygal draws a horizontal bar chart's first label at the bottom: inquiry on top.
    ordered = list(reversed(rows))
    chart.x_labels = [str(row["label"]) for row in ordered]
    chart.add(_("Leads"), [row["count"] for row in ordered])
    return chart


# The same figures in the same language draw the same chart, so each drawing is kept for
# the next page that shows them (pygal takes 5-12 ms a chart; the figures of a period
# change far less often than the dashboard is read). The key is the whole input.
DRAWINGS_KEPT = 64


def funnel_chart(rows: list[dict[str, Any]]) -> SafeString:
    stages = tuple((str(row["label"]), row["count"]) for row in rows)
    return _funnel_drawing(get_language(), stages)


@lru_cache(maxsize=DRAWINGS_KEPT)
def _funnel_drawing(language: str | None, stages: tuple[tuple[str, Any], ...]) -> SafeString:
    rows = [{"label": label, "count": count} for label, count in stages]
    return inline_svg(_funnel(rows), family="chart-funnel")


def _score(points: list[tuple[str, float | None]]) -> pygal.Line:
    # One line, no legend: the components are a table of small lines beside it
    # (sparkline), so no legend is ever cut and each line can be read.
    chart = pygal.Line(
        **_config(
            width=640,
            height=300,
            title=_("Alignment score by week"),
            range=(0, 100),
            print_values=False,
            x_label_rotation=30,
            allow_interruptions=True,
            value_formatter=lambda value: number_format(value),
        )
    )
    chart.x_labels = [week for week, _score in points]
    chart.add(_("Alignment score"), [score for _week, score in points], stroke_style={"width": 3})
    return chart


def score_chart(points: list[tuple[str, float | None]]) -> SafeString:
    """The alignment score (0–100) over the weeks: one line, titled, without a legend."""
    return _score_drawing(get_language(), tuple((str(week), score) for week, score in points))


@lru_cache(maxsize=DRAWINGS_KEPT)
def _score_drawing(language: str | None, points: tuple[tuple[str, Any], ...]) -> SafeString:
    return inline_svg(_score(list(points)), family="chart-score")


# A sparkline's drawing box; the SVG scales to its cell (static/css/metrics.css).
SPARK_WIDTH, SPARK_HEIGHT = 120, 24


def sparkline(values: Sequence[float | None], *, label: str) -> SafeString:
    """A component's weeks as a small line on a fixed 0–1 scale (so lines compare across
    rows), its last value as a dot; a week without data breaks the line. No axes, no
    legend: the row names it. `label` is read out instead of the drawing."""
    count = len(values)
    step = SPARK_WIDTH / max(count - 1, 1)
    runs: list[list[str]] = [[]]
    last: tuple[float, float] | None = None
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        x = round(index * step, 1)
        y = round(SPARK_HEIGHT - 2 - max(0.0, min(1.0, float(value))) * (SPARK_HEIGHT - 4), 1)
        runs[-1].append(f"{x},{y}")
        last = (x, y)
    lines = "".join(
        f'<polyline points="{" ".join(run)}"/>' if len(run) > 1 else "" for run in runs if run
    )
    dot = f'<circle cx="{last[0]}" cy="{last[1]}" r="2"/>' if last else ""
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" '
        'aria-label="{}">{}{}</svg>',
        SPARK_WIDTH,
        SPARK_HEIGHT,
        label,
        mark_safe(lines),  # numbers we computed
        mark_safe(dot),
    )


def stylesheet() -> str:
    """The CSS of this module's charts, from samples built as the real ones are."""
    funnel = _funnel([{"label": str(i), "count": i} for i in range(SAMPLE_SERIES)])
    score = _score([("w1", 50.0), ("w2", 60.0)])
    return chart_css(funnel, family="chart-funnel") + chart_css(score, family="chart-score")
