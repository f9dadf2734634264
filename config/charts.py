"""pygal charts inlined in pages under the Content-Security-Policy (style-src 'self').

pygal writes each chart's CSS into a <style> inside the SVG (every selector prefixed by
the chart's random id), a config <script> for its tooltip library (which Accord does not
load) and a style="opacity: 0" on the tooltip: the policy refuses all three. So a chart
is rendered without them, its root carrying the class of its family ("chart-funnel"), and
its CSS, the same for every chart of a family (it depends on the style, the number of
series and their strokes, not on the data), lives in static/css/charts.css with the id
prefix replaced by that class. `manage.py chart_css` writes that file from each app's
sample charts; `manage.py chart_css --check` (and a test) fails when it is stale.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import pygal
from django.utils.safestring import SafeString, mark_safe

Chart = pygal.graph.graph.Graph
# A family's sample chart has this many series, so its CSS colours (and strokes) every
# series a real chart of the family draws: funnel stages, score components.
SAMPLE_SERIES = 16


def _without_inline_code(root: Element) -> Element:
    """pygal's xml filter: drop <style>, <script>, the script-driven tooltip and any
    style attribute (the CSS is in static/css/charts.css)."""
    for parent in list(root.iter()):
        for child in list(parent):
            if (
                child.tag in ("style", "script")
                or "tooltip-overlay" in child.get("class", "").split()
            ):
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)
    return root


def _classed(chart: Chart, family: str) -> Chart:
    chart.classes = ["pygal-chart", family]
    return chart


def inline_svg(chart: Chart, *, family: str) -> SafeString:
    """The chart as SVG markup for a page: no inline style or script."""
    _classed(chart, family).add_xml_filter(_without_inline_code)
    # pygal escapes labels and titles itself; the SVG is our own markup.
    return mark_safe(chart.render(is_unicode=True))


def chart_css(chart: Chart, *, family: str) -> str:
    """The CSS pygal would inline in this chart, for every chart of its family."""
    captured: list[str] = []

    def capture(root: Element) -> Element:
        captured.extend(style.text or "" for style in root.iter("style"))
        return root

    _classed(chart, family).add_xml_filter(capture)
    chart.render(is_unicode=True)
    css = "\n".join(captured)
    return re.sub(r"#chart-[0-9a-f-]{36}", "." + family, css).strip() + "\n"
