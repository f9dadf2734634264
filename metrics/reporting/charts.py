"""Server-rendered SVG charts (pygal), inlined in the page: no JavaScript, no CDN, no
inline style (their CSS is static/css/charts.css: config/charts.py)."""

from __future__ import annotations

from typing import Any

import pygal
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from pygal.style import Style

from config.charts import SAMPLE_SERIES, chart_css, inline_svg

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
    chart = pygal.HorizontalBar(
        **_config(width=640, height=300, title=_("Leads entering each stage"))
    )
    # pygal draws a horizontal bar chart's first series on top: inquiry first, as a funnel.
    for row in rows:
        chart.add(str(row["label"]), [{"value": row["count"], "label": str(row["label"])}])
    chart.show_legend = True
    chart.legend_at_bottom = True
    chart.print_values = True
    return chart


def funnel_chart(rows: list[dict[str, Any]]) -> SafeString:
    return inline_svg(_funnel(rows), family="chart-funnel")


def _score(points: list[tuple[str, float | None]], components: dict[str, list]) -> pygal.Line:
    chart = pygal.Line(
        **_config(
            width=640,
            height=300,
            title=_("Alignment score by week"),
            range=(0, 100),
            show_legend=True,
            legend_at_bottom=True,
            print_values=False,
            x_label_rotation=30,
            allow_interruptions=True,
        )
    )
    chart.x_labels = [week for week, _score in points]
    chart.add(_("Alignment score"), [score for _week, score in points], stroke_style={"width": 3})
    for label, values in components.items():
        chart.add(label, values, show_dots=False, stroke_style={"width": 1, "dasharray": "4, 3"})
    return chart


def score_chart(points: list[tuple[str, float | None]], components: dict[str, list]) -> SafeString:
    """The alignment score (0–100) over the weeks, with each component (as 0–100)."""
    return inline_svg(_score(points, components), family="chart-score")


def stylesheet() -> str:
    """The CSS of this module's charts, from samples built as the real ones are."""
    funnel = _funnel([{"label": str(i), "count": i} for i in range(SAMPLE_SERIES)])
    weeks = [("w1", 50.0), ("w2", 60.0)]
    score = _score(weeks, {str(i): [1.0, 2.0] for i in range(SAMPLE_SERIES - 1)})
    return chart_css(funnel, family="chart-funnel") + chart_css(score, family="chart-score")
