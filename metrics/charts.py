"""Server-rendered SVG charts (pygal), inlined in the page: no JavaScript, no CDN."""

from __future__ import annotations

from typing import Any

import pygal
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from pygal.style import Style

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


def _svg(chart: pygal.graph.graph.Graph) -> SafeString:
    # pygal escapes labels and titles itself; the SVG is our own markup.
    return mark_safe(chart.render(is_unicode=True))


def funnel_chart(rows: list[dict[str, Any]]) -> SafeString:
    chart = pygal.HorizontalBar(
        **_config(width=640, height=300, title=_("Leads entering each stage"))
    )
    # pygal draws a horizontal bar chart's first series on top: inquiry first, as a funnel.
    for row in rows:
        chart.add(str(row["label"]), [{"value": row["count"], "label": str(row["label"])}])
    chart.show_legend = True
    chart.legend_at_bottom = True
    chart.print_values = True
    return _svg(chart)


def score_chart(points: list[tuple[str, float | None]], components: dict[str, list]) -> SafeString:
    """The alignment score (0–100) over the weeks, with each component (as 0–100)."""
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
    return _svg(chart)
