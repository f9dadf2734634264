"""The dashboard, drill-downs, CSV, targets and meeting pack, through the test client."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.exports import csv_safe
from metrics.definitions import REGISTRY, metric_value
from metrics.models import Target
from metrics.reporting.services import scorecard_compute
from tests.factories import LeadFactory
from tests.metrics.conftest import EXPECTED, WEEK, at

pytestmark = pytest.mark.django_db

WEEK_QUERY = "start=2026-03-02&end=2026-03-09"


def _links(html: str) -> dict[str, str]:
    """{metric name: drill-down URL} of every figure link on a page."""
    links = {}
    for href in re.findall(r'href="(/metrics/records/\?[^"]+)"', html):
        href = unescape(href)
        from urllib.parse import parse_qs, urlsplit

        name = parse_qs(urlsplit(href).query)["metric"][0]
        links.setdefault(name, href)
    return links


def _count(html: str) -> int:
    match = re.search(r'class="record-count">(\d+) record', html)
    assert match, html[:500]
    return int(match.group(1))


def test_every_dashboard_figure_links_to_as_many_records_as_it_counts(client, week_data, executive):
    client.force_login(executive)
    html = client.get(f"/metrics/?{WEEK_QUERY}").content.decode()
    links = _links(html)
    assert set(REGISTRY) | {"target_attainment"} <= set(links)
    for name, href in links.items():
        page = client.get(href)
        assert page.status_code == 200, name
        metric = REGISTRY.get(name)
        if metric and metric.unit == "count" and not metric.parts:
            assert _count(page.content.decode()) == EXPECTED[name], name
            rows = page.content.decode().split("<tbody>")[1].split("</tbody>")[0].count("<tr>")
            assert rows == EXPECTED[name] or EXPECTED[name] == 0, name


def test_the_dashboard_shows_the_figures_and_inline_charts_without_a_cdn(client, week_data, rep):
    client.force_login(rep)
    html = client.get(f"/metrics/?{WEEK_QUERY}").content.decode()
    assert "3,800.50" in html  # revenue
    assert "50.0%" in html  # acceptance rate
    assert html.count("<svg") >= 1
    assert "kozea.github.io" not in html and "cdn" not in html.lower()
    assert "—" in html  # null rates read as a dash


def test_a_bad_period_on_the_dashboard_is_a_form_error(client, week_data, rep):
    client.force_login(rep)
    response = client.get("/metrics/?start=2026-99-01")
    assert response.status_code == 200
    assert "Enter a date as YYYY-MM-DD." in response.content.decode()


def test_an_unknown_metric_is_a_400_with_the_list_to_choose_from(client, week_data, rep):
    client.force_login(rep)
    response = client.get("/metrics/records/?metric=nope")
    assert response.status_code == 400
    assert "Unknown metric" in response.content.decode()


def test_the_csv_export_has_one_line_per_record_of_the_figure(client, week_data, marketer):
    client.force_login(marketer)
    response = client.get(f"/metrics/records.csv?metric=mqls&{WEEK_QUERY}")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) - 1 == metric_value(name="mqls", f=WEEK) == 3
    assert {r[1] for r in rows[1:]} == {"l1@x.test", "l2@x.test", "l5@x.test"}  # Lead, Email
    # A spreadsheet reads the moments as dates: ISO 8601 in the reader's zone, to the minute.
    when = next(i for i, name in enumerate(rows[0]) if name in ("When", "Created"))
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", r[when]) for r in rows[1:])


def test_the_deals_csv_writes_amounts_as_plain_numbers(client, week_data, marketer):
    client.force_login(marketer)
    response = client.get(f"/metrics/records.csv?metric=revenue&{WEEK_QUERY}")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    amount = rows[0].index("Amount")
    assert len(rows) > 1
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", r[amount]) for r in rows[1:])


def test_the_csv_export_defuses_formulas(client, week_data, marketer):
    LeadFactory(email="evil@x.test", company='=HYPERLINK("http://x","y")', created_at=at(3, 3))
    client.force_login(marketer)
    response = client.get(f"/metrics/records.csv?metric=new_leads&{WEEK_QUERY}")
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_start_is_quoted(start):
    assert csv_safe(f"{start}1+1") == f"'{start}1+1"
    assert csv_safe("plain") == "plain" and csv_safe(12) == "12" and csv_safe(None) == ""


def test_the_drill_down_list_does_not_grow_its_queries_with_rows(client, week_data, rep):
    client.force_login(rep)
    url = f"/metrics/records/?metric=new_leads&{WEEK_QUERY}"
    client.get(url)  # warm: the reader's preferences are cached
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12):
        LeadFactory(email=f"more{i}@x.test", created_at=at(3, 4), owner=week_data.rep,
                    territory=week_data.north, campaign=week_data.c1)  # fmt: skip
    client.get(url)  # after writes, cached reads (config.generations) refill once
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert _count(response.content.decode()) == 15
    assert len(many) == len(few)


def test_a_sales_manager_sets_a_target_and_sees_the_plan(client, week_data, sales_manager):
    client.force_login(sales_manager)
    response = client.post(
        "/metrics/targets/",
        {"territory": week_data.north.pk, "period": "quarter", "starts_on": "2026-04-01",
         "revenue_target": "90000"},
    )  # fmt: skip
    assert response.status_code == 302
    target = Target.objects.get(territory=week_data.north)
    assert (target.starts_on, target.ends_on) == (date(2026, 4, 1), date(2026, 7, 1))
    assert target.revenue_target == Decimal("90000") and target.set_by == sales_manager
    page = client.get(response["Location"]).content.decode()
    assert "90,000.00" in page and "Weighted pipeline forecast" in page


def test_a_target_must_start_a_quarter(client, week_data, sales_manager):
    client.force_login(sales_manager)
    response = client.post(
        "/metrics/targets/",
        {"period": "quarter", "starts_on": "2026-05-01", "revenue_target": "1"},
    )
    assert response.status_code == 200
    assert "A quarter starts in January, April, July or October." in response.content.decode()


def test_a_rep_cannot_set_targets(client, week_data, rep):
    client.force_login(rep)
    response = client.post(
        "/metrics/targets/", {"period": "month", "starts_on": "2026-04-01", "revenue_target": "1"}
    )
    assert response.status_code == 403
    assert not Target.objects.filter(starts_on=date(2026, 4, 1)).exists()


def test_the_weighted_forecast_weighs_open_deals_by_stage(week_data):
    from leads.models import Deal, Lead
    from metrics.reporting.selectors import forecast_weighted

    lead = week_data.leads[3]
    Lead.objects.filter(pk=lead.pk).update(stage="opportunity")
    Deal.objects.create(lead=lead, amount=Decimal("10000.00"), created_at=at(3, 3))
    forecast = forecast_weighted()
    assert forecast["rows"][0]["stage"] == "opportunity"
    assert forecast["total"] == Decimal("4000.00")  # 40% in the default agreement


def test_the_meeting_pack_shows_the_week(client, week_data, executive):
    scorecard_compute(week=date(2026, 2, 23), territory=None)
    scorecard_compute(week=WEEK.start, territory=None)
    client.force_login(executive)
    html = client.get("/metrics/pack/?week=2026-03-04").content.decode()
    assert "week of 2 Mar 2026" in html
    assert "67.0" in html  # 66.95, rounded half up to the one decimal shown
    assert "1 SLA breach" in html  # due Monday 12:00
    assert "1 open dispute" in html  # raised 5 March, still open
    assert "Not yet published" not in html
    assert "+$3,100.50" in html  # revenue against the week before (3,800.50 − 700)
    assert "+2</td>" in html  # new leads: 3 against 1


def test_the_meeting_pack_works_before_the_week_is_published(client, week_data, rep):
    client.force_login(rep)
    html = client.get(
        f"/metrics/pack/?week=2026-03-02&territory={week_data.north.pk}"
    ).content.decode()
    assert "Not yet published" in html and "North" in html


def test_the_dashboard_costs_the_same_queries_with_more_records(client, week_data, rep):
    from campaigns.models import SpendEntry
    from tests.factories import CampaignFactory, UserFactory

    client.force_login(rep)
    url = f"/metrics/?{WEEK_QUERY}"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(4):
        owner = UserFactory(username=f"more-rep-{i}")
        campaign = CampaignFactory(name=f"More {i}", owner=owner)
        SpendEntry.objects.create(campaign=campaign, date=date(2026, 3, 3), amount=Decimal("5"))
        for j in range(3):
            LeadFactory(email=f"m{i}-{j}@x.test", created_at=at(3, 4), owner=owner,
                        campaign=campaign)  # fmt: skip
    client.get(url)  # after writes, cached reads (config.generations) refill once
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert "More 3" in response.content.decode()
    assert len(many) == len(few)


def test_the_funnel_chart_reads_from_inquiry_on_top_to_won():
    from metrics.reporting.charts import funnel_chart

    rows = [{"label": label, "count": count} for label, count in
            [("Inquiry", 100), ("MQL", 40), ("SAL", 30), ("Won", 5)]]  # fmt: skip
    svg = str(funnel_chart(rows))
    # The stages label the axis beside their bars (no legend to cut); a smaller y is higher.
    labels = re.findall(r'<text [^>]*?y="([\d.]+)"[^>]*>(Inquiry|MQL|SAL|Won)</text>', svg)
    top = {label: float(y) for y, label in labels}
    assert sorted(top, key=top.get) == ["Inquiry", "MQL", "SAL", "Won"]
    assert 'class="legends"' not in svg


def test_the_dashboard_adds_up_its_tables_for_their_totals(week_data):
    """The totals of the counts and sums the campaign and rep tables group are the sums of
    their rows: the same values as read alone, the follow-ups and spend read once."""
    from metrics.definitions import MetricFilter, metric_values
    from metrics.reporting.selectors import dashboard_build

    f = MetricFilter(start=date(2026, 3, 2), end=date(2026, 3, 9))
    with CaptureQueriesContext(connection) as read:
        data = dashboard_build(f=f)
    assert data.values == metric_values(f=f)
    assert data.values["follow_ups_within_sla"] == EXPECTED["follow_ups_within_sla"] > 0
    assert data.values["spend"] == EXPECTED["spend"] > 0
    for table in ("leads_followup", "campaigns_spendentry"):
        reads = [q for q in read.captured_queries if f'FROM "{table}"' in q["sql"]]
        assert len(reads) == 1, (table, [q["sql"] for q in reads])


def test_a_chart_is_drawn_once_for_the_same_figures_and_language(monkeypatch):
    from django.utils import translation

    from metrics.reporting import charts

    charts._funnel_drawing.cache_clear()
    charts._score_drawing.cache_clear()
    drawn: list[str] = []
    real_funnel, real_score = charts._funnel, charts._score
    monkeypatch.setattr(charts, "_funnel", lambda rows: drawn.append("funnel") or real_funnel(rows))
    monkeypatch.setattr(charts, "_score", lambda pts: drawn.append("score") or real_score(pts))
    rows = [{"label": "Inquiry", "count": 1200}, {"label": "MQL", "count": 300}]
    points = [("w1", 40.0), ("w2", 55.5)]

    first = charts.funnel_chart(rows), charts.score_chart(points)
    again = charts.funnel_chart([dict(row) for row in rows]), charts.score_chart(list(points))
    assert again == first and drawn == ["funnel", "score"]

    # Other figures, or another language (its title and number format), draw anew.
    changed = charts.funnel_chart([{"label": "Inquiry", "count": 1201}, rows[1]])
    assert "1,201" in changed and drawn == ["funnel", "score", "funnel"]
    with translation.override("pl"):
        polish = charts.funnel_chart(rows)
    assert drawn[-1] == "funnel" and len(drawn) == 4
    assert "1 200" in polish.replace("\xa0", " ") and polish != first[0]


def _section(html: str, heading: str) -> str:
    """The pack or dashboard section whose heading holds `heading`."""
    for part in html.split("<section")[1:]:
        if heading in part.split("</h2>")[0]:
            return unescape(part.split("</section>")[0])
    raise AssertionError(f"no section headed {heading!r}")


def test_the_dashboard_shows_mql_overrides_with_the_hand_off_figures(client, week_data, rep):
    client.force_login(rep)
    html = client.get(f"/metrics/?{WEEK_QUERY}").content.decode()
    handoff = _section(html, "The hand-off")
    tile = re.search(r'<a class="tile metric-tile" href="([^"]+)" title="MQL overrides">'
                     r'<span class="num">(\d+)</span>', handoff)  # fmt: skip
    assert tile and tile.group(2) == "1"
    assert "metric=mql_overrides" in tile.group(1)
    drill = client.get(tile.group(1)).content.decode()
    assert _count(drill) == 1
    assert "l2@x.test" in drill and "Maria Manager" in drill
    assert "Met the CFO at the trade fair." in drill
    assert "Referral from a customer." not in drill  # l4's: the next week


def test_the_meeting_pack_lists_the_weeks_overrides_with_who_when_and_why(
    client, week_data, executive
):
    client.force_login(executive)
    html = client.get("/metrics/pack/?week=2026-03-02").content.decode()
    overrides = _section(html, "MQL override")
    assert "1 MQL override" in overrides
    assert "l2@x.test" in overrides and "Maria Manager" in overrides
    assert "4 Mar 2026, 13:00" in overrides and "Met the CFO at the trade fair." in overrides
    assert "Referral from a customer." not in overrides
    key_metrics = html.split('class="compact key-metrics"')[1].split("</table>")[0]
    assert "MQL overrides" in key_metrics
    next_week = client.get("/metrics/pack/?week=2026-03-09").content.decode()
    assert "Referral from a customer." in _section(next_week, "MQL override")


def test_an_override_through_the_stage_service_reaches_the_pack(
    client, week_data, executive, marketing_manager
):
    from leads.services import lead_transition

    lead = LeadFactory(email="fair@x.test", created_at=at(3, 3), score=0)
    lead_transition(lead=lead, to_stage="mql", actor=marketing_manager, at=at(3, 5, 16),
                    override_reason="Strategic account: board-level sponsor.")  # fmt: skip
    client.force_login(executive)
    html = client.get("/metrics/pack/?week=2026-03-02").content.decode()
    overrides = _section(html, "MQL override")
    assert "2 MQL overrides" in overrides
    assert "fair@x.test" in overrides and "5 Mar 2026, 16:00" in overrides
    assert "Strategic account: board-level sponsor." in overrides


def test_a_stored_scorecard_from_before_a_new_metric_still_shows_it_in_the_pack(
    client, week_data, executive
):
    from metrics.models import Scorecard

    card = scorecard_compute(week=WEEK.start, territory=None).scorecard
    Scorecard.objects.filter(pk=card.pk).update(
        metrics={k: v for k, v in card.metrics.items() if k != "mql_overrides"}
    )
    client.force_login(executive)
    html = client.get("/metrics/pack/?week=2026-03-02").content.decode()
    key_metrics = html.split('class="compact key-metrics"')[1].split("</table>")[0]
    row = key_metrics.split("MQL overrides")[1].split("</tr>")[0]
    assert ">1</a>" in row


def test_a_past_weeks_pack_shows_disputes_and_intel_as_they_stood_then(
    client, week_data, executive
):
    """A dispute raised in the week of 2 March and resolved in the week of 16 March was
    open at the end of the weeks of 2 and 9 March, not of 16 March; the same for intel
    acknowledged in the week of 16 March. Today both are closed."""
    from alignment.models import Dispute, FieldIntel

    Dispute.objects.create(
        lead=week_data.leads[0], kind="rejection", raised_by=week_data.rep,
        raised_by_team="sales", reason="Contested in the tenth week", created_at=at(3, 4),
        resolved_at=at(3, 18), status="resolved", decision="for_sales",
    )  # fmt: skip
    FieldIntel.objects.create(
        author=week_data.rep, kind="pricing", text="RivalCo halved its price",
        created_at=at(3, 4, 10), acknowledged_at=at(3, 17), actioned_at=at(3, 19),
        status="actioned",
    )  # fmt: skip
    client.force_login(executive)

    def pack(week: str) -> str:
        return client.get(f"/metrics/pack/?week={week}").content.decode()

    first, second, third = pack("2026-03-02"), pack("2026-03-09"), pack("2026-03-16")
    # Also open then: the dispute raised on 5 March; waiting: intel of 26 Feb and 4 March.
    for html in (first, second):
        disputes = _section(html, "open dispute")
        assert "2 open disputes" in disputes and "Contested in the tenth week" in disputes
        waiting = _section(html, "waiting for acknowledgement")
        assert "3 pieces of intelligence" in waiting and "RivalCo halved" in waiting
    disputes = _section(third, "open dispute")
    assert "1 open dispute" in disputes and "Contested in the tenth week" not in disputes
    waiting = _section(third, "waiting for acknowledgement")
    assert "2 pieces of intelligence" in waiting and "RivalCo halved" not in waiting
    # The week's intel with its status at the end of the week, not today's "Actioned".
    sent = _section(first, "Top intelligence from the field")
    line = next(li for li in sent.split("<li>") if "RivalCo halved" in li)
    assert "New" in line and "Actioned" not in line


def test_a_past_weeks_pack_flags_campaigns_by_the_floor_then_agreed(
    client, week_data, executive, second_version
):
    """Spring search's leads were accepted half the time: at v1's floor of 50% that is no
    flag; v2's 90% floor, agreed later, does not reach back."""
    client.force_login(executive)
    html = client.get("/metrics/pack/?week=2026-03-02").content.decode()
    flagged = _section(html, "Campaigns flagged by sales")
    assert "Spring search" not in flagged
    later = client.get("/metrics/pack/?week=2026-03-23").content.decode()
    assert "Spring search" in _section(later, "Campaigns flagged by sales")
