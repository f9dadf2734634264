"""Every response carries the Content-Security-Policy, and no page holds what it refuses:
an inline script, an inline event handler, a style element or attribute, a javascript: URL."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.test import Client

from alignment.accounts.roles import Role
from config.csp import HEADER, csp_update, policy_header
from config.demo import demo_seed
from tests.factories import UserFactory
from tests.urlwalk import page_urls, with_demo_ids

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# <script type="…"> that browsers do not run: data blocks (json_script) are no script.
_DATA_TYPES = {"application/json", "application/ld+json", "text/template"}


class _InlineCode(HTMLParser):
    """What a strict CSP refuses, as "line: what" findings."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def _add(self, what: str) -> None:
        self.found.append(f"line {self.getpos()[0]}: {what}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not values.get("src") and values.get("type") not in _DATA_TYPES:
            self._add("inline <script>")
        if tag == "style":
            self._add("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self._add(f"{name}= handler on <{tag}>")
            elif name == "style":
                self._add(f'style="{value}" on <{tag}>')
            elif name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self._add(f"{name}=javascript: on <{tag}>")

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def test_the_finder_finds_what_the_policy_refuses():
    html = """<p onclick="x()">a</p><script>alert(1)</script><script src="/s.js"></script>
      <span style="width: 3%"></span><style>p{}</style><a href="javascript:go()">b</a>
      <script type="application/json">{"data": 1}</script><svg><rect style="opacity:0"/></svg>"""
    found = inline_code(html)
    assert len(found) == 6, found
    assert inline_code('<script src="/static/js/accord.js" defer></script>') == []


def test_every_page_for_every_role_has_the_policy_and_no_inline_code(client: Client):
    """One walk over the URL conf (one demo seed): every page, as every role."""
    demo_seed(lead_count=40, scorecard_weeks=2)
    users = [UserFactory(username=f"csp-{role}", role=role) for role in Role.values]
    users.append(UserFactory(username="csp-root", is_staff=True, is_superuser=True))
    problems: dict[str, object] = {}
    rendered = 0
    for name, raw in page_urls():
        if name == "logout":
            continue
        path = with_demo_ids(raw)
        for user in users:
            client.force_login(user)
            response = client.get(path)
            where = f"{name} {path} as {user.username}"
            if response.get(HEADER) != POLICY:
                problems[where] = f"header: {response.get(HEADER)!r}"
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                rendered += 1
                found = inline_code(response.content.decode())
                if found:
                    problems[where] = found
    assert problems == {}
    assert rendered > 100  # the walk rendered real pages, not a wall of redirects


@pytest.mark.parametrize(
    "path",
    ["/login/", "/healthz", "/api/v1/leads/", "/static/css/accord.css", "/no-such-page/"],
)
def test_every_kind_of_response_carries_the_policy(client: Client, path):
    response = client.get(path)
    assert response[HEADER] == POLICY


def test_the_admin_carries_the_policy_and_no_inline_code(client: Client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for path in ("/admin/", "/admin/leads/lead/", "/admin/leads/lead/add/", "/admin/auth/user/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response[HEADER] == POLICY
        assert inline_code(response.content.decode()) == [], path


def test_the_api_docs_page_runs_without_inline_code(client: Client, settings):
    settings.API_DOCS_PUBLIC = True
    response = client.get("/api/docs/")
    assert response[HEADER] == POLICY
    assert inline_code(response.content.decode()) == []


def test_charts_are_inline_svg_without_inline_style_and_their_css_is_current(client: Client):
    from metrics.reporting.charts import funnel_chart, score_chart

    svg = str(funnel_chart([{"label": "Inquiry", "count": 3}, {"label": "MQL", "count": 1}]))
    svg += str(score_chart([("w1", 40.0), ("w2", 55.0)]))
    assert svg.count("<svg") == 2 and "chart-funnel" in svg and "chart-score" in svg
    assert inline_code(svg) == []
    call_command("chart_css", "--check")  # static/css/charts.css matches the charts


def test_a_view_can_widen_the_policy_for_itself_only():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.csp import ContentSecurityPolicyMiddleware

    @csp_update(img_src=["https://maps.example"], connect_src=["https://api.example"])
    def view(request):
        return HttpResponse("ok")

    widened = ContentSecurityPolicyMiddleware(view)(RequestFactory().get("/"))[HEADER]
    assert "img-src 'self' data: https://maps.example" in widened
    assert "connect-src 'self' https://api.example" in widened
    assert "script-src 'self';" in widened
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("ok"))
    assert plain(RequestFactory().get("/"))[HEADER] == POLICY


def test_the_header_is_the_policy_setting_in_order(settings):
    settings.CONTENT_SECURITY_POLICY = {"default-src": ["'none'"], "img-src": ["'self'", "data:"]}
    assert (
        policy_header(settings.CONTENT_SECURITY_POLICY)
        == "default-src 'none'; img-src 'self' data:"
    )
