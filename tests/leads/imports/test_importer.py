"""The import engine: bad rows reported, duplicates merged, re-import idempotent, history."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.db.models.functions import Lower

from alignment.models import StageKey
from config.exports import csv_lines
from config.exports import csv_safe as csv_cell
from leads.imports import importer
from leads.imports.importer import (
    ROW_ERROR_KEY,
    history_put_in_order,
    lead_import,
    report_csv_rows,
    rows_from_csv,
    rows_from_json,
)
from leads.models import Deal, DealOutcome, Lead, LeadImport, StageEvent
from leads.services import lead_transition
from leads.services.deals import deal_close
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def _rows(n: int) -> tuple[list[dict], set[int], set[int]]:
    """n rows: every 20th invalid (5 %), every 50th an email of an earlier row in upper case."""
    rows, bad, dupes = [], set(), set()
    for i in range(1, n + 1):
        row = {
            "email": f"person{i}@example.com",
            "first_name": f"First{i}",
            "company": f"Company {i % 97}",
            "country": "de",
            "company_size": str(10 + i % 40),
            "source": "organic_search",
        }
        if i % 20 == 0:
            bad.add(i)
            kind = (i // 20) % 3
            if kind == 0:
                row["email"] = f"not-an-email-{i}"
            elif kind == 1:
                row["company_size"] = "many"
            else:
                row["created_at"] = "31/02/2026"
        elif i % 50 == 25:
            dupes.add(i)
            original = rows[i - 11]  # row i-10, a valid one (not a multiple of 20)
            row = {**original, "email": original["email"].upper()}
        rows.append(row)
    return rows, bad, dupes


def test_ten_thousand_rows_keep_the_valid_report_the_bad_and_reimport_changes_nothing(
    active_agreement, marketer
):
    rows, bad, dupes = _rows(10_000)
    assert len(bad) == 500 and len(dupes) == 200

    result = lead_import(rows=rows, user=marketer)

    assert result.total == 10_000
    assert result.errors == 500
    errors = {r.row: r for r in result.results if r.status == "error"}
    assert set(errors) == bad
    for r in errors.values():
        assert r.errors and all(e["field"] and e["message"] for e in r.errors)
    assert {errors[20].errors[0]["field"], errors[40].errors[0]["field"]} <= {
        "email",
        "company_size",
        "created_at",
    }
    assert result.created == 10_000 - 500 - 200
    assert {r.row for r in result.results if r.status == "unchanged"} == dupes
    assert Lead.objects.count() == 9_300
    assert not (
        Lead.objects.annotate(e=Lower("email")).values("e").annotate(n=Count("id")).filter(n__gt=1)
    )
    events = StageEvent.objects.count()
    stamp = sorted(Lead.objects.values_list("pk", "updated_at", "score", "stage"))

    again = lead_import(rows=rows, user=marketer)

    assert (again.created, again.updated, again.errors) == (0, 0, 500)
    assert again.unchanged == 9_500
    assert Lead.objects.count() == 9_300 and StageEvent.objects.count() == events
    assert sorted(Lead.objects.values_list("pk", "updated_at", "score", "stage")) == stamp
    record = LeadImport.objects.get(pk=again.record.pk)
    assert record.status == "done" and record.error_count == 500 and record.total_rows == 10_000


def test_an_update_in_another_case_changes_the_existing_lead(active_agreement, marketer):
    lead = LeadFactory(email="ada@example.com", company="Old")
    result = lead_import(rows=[{"email": "ADA@EXAMPLE.COM", "company": "New"}], user=marketer)
    assert [r.status for r in result.results] == ["updated"]
    lead.refresh_from_db()
    assert lead.company == "New" and Lead.objects.count() == 1


def test_external_id_wins_over_email(active_agreement, marketer):
    lead = LeadFactory(email="old@example.com", external_id="crm-1")
    result = lead_import(rows=[{"external_id": "crm-1", "email": "new@example.com"}], user=marketer)
    assert result.results[0].status == "updated" and result.results[0].id == lead.pk
    lead.refresh_from_db()
    assert lead.email == "new@example.com"


def test_a_dry_run_reports_the_same_and_writes_nothing(active_agreement, marketer):
    LeadFactory(email="known@example.com", company="Same")
    rows = [
        {"email": "new@example.com"},
        {"email": "KNOWN@example.com", "company": "Same"},
        {"email": "known@example.com", "company": "Other"},
        {"email": ""},
    ]
    result = lead_import(rows=rows, user=marketer, dry_run=True)
    assert [r.status for r in result.results] == ["created", "unchanged", "updated", "error"]
    assert Lead.objects.count() == 1
    assert Lead.objects.get().company == "Same"


def test_a_history_import_reproduces_stage_timestamps(active_agreement, marketer, sales_manager):
    owner = UserFactory(username="seller", email="seller@accord.test")
    campaign = CampaignFactory(name="Spring launch")
    times = {
        "created_at": "2025-01-02T09:00:00+00:00",
        "mql_at": "2025-01-05T10:00:00+00:00",
        "sal_at": "2025-01-06T11:00:00+00:00",
        "sql_at": "2025-01-10T12:00:00+00:00",
        "opportunity_at": "2025-01-20T13:00:00+00:00",
        "won_at": "2025-02-01T14:00:00+00:00",
    }
    rows = [
        {
            "email": "won@example.com",
            **times,
            "stage": "won",
            "owner_email": "SELLER@accord.test",
            "campaign": "spring launch",
            "source": "Paid search",
            "deal_amount": "12500.50",
        },
        {
            "email": "lost@example.com",
            "created_at": "2025-03-01",
            "mql_at": "2025-03-02",
            "lost_at": "2025-03-09",
            "lost_reason": "price",
            "deal_amount": "900",
        },
        {"email": "opp@example.com", "created_at": "2025-04-01", "stage": "opportunity"},
    ]
    result = lead_import(rows=rows, user=marketer)
    # The opportunity without an amount keeps its open deal (0.00) and says so.
    assert [r.status for r in result.results] == ["created", "created", "warning"], result

    won = Lead.objects.get(email="won@example.com")
    for column, value in times.items():
        assert getattr(won, column) == datetime.fromisoformat(value)
    assert won.stage == "won" and won.owner == owner and won.campaign == campaign
    assert won.source == "paid_search"
    history = list(won.stage_events.values_list("from_stage", "to_stage", "occurred_at", "source"))
    assert [(f, t) for f, t, _at, _s in history] == [
        ("", "inquiry"),
        ("inquiry", "mql"),
        ("mql", "sal"),
        ("sal", "sql"),
        ("sql", "opportunity"),
        ("opportunity", "won"),
    ]
    assert [at for _f, _t, at, _s in history] == [
        datetime.fromisoformat(times[c])
        for c in ["created_at", "mql_at", "sal_at", "sql_at", "opportunity_at", "won_at"]
    ]
    assert {s for *_x, s in history} == {"import"}
    deal = Deal.objects.get(lead=won)
    assert deal.outcome == "won" and deal.amount == Decimal("12500.50")
    assert deal.closed_at == datetime.fromisoformat(times["won_at"])

    lost = Lead.objects.get(email="lost@example.com")
    assert lost.stage == "lost" and lost.lost_at == datetime(2025, 3, 9, tzinfo=UTC)
    assert lost.stage_events.last().reason == "price"
    assert Deal.objects.get(lead=lost).lost_reason == "price"

    # New activity still follows the agreed funnel.
    opportunity = Lead.objects.get(email="opp@example.com")
    assert opportunity.stage == "opportunity"
    with pytest.raises(ValidationError):
        lead_transition(lead=won, to_stage=StageKey.MQL, actor=sales_manager)
    deal = Deal.objects.get(lead=opportunity, outcome=DealOutcome.OPEN)
    assert deal.amount == Decimal("0.00")
    deal_close(deal=deal, actor=sales_manager, outcome=DealOutcome.WON, amount="500")
    assert Lead.objects.get(pk=opportunity.pk).stage == StageKey.WON  # the stage follows

    # Importing the history again changes nothing.
    events = StageEvent.objects.count()
    again = lead_import(rows=rows, user=marketer)
    assert again.created == 0 and StageEvent.objects.count() == events
    assert Deal.objects.count() == 3


def test_bad_history_is_reported_by_field(active_agreement, marketer):
    rows = [
        {"email": "a@example.com", "created_at": "2025-02-30"},
        {"email": "b@example.com", "owner_email": "nobody@example.com"},
        {"email": "c@example.com", "stage": "nirvana"},
        {"email": "d@example.com", "campaign": "No such campaign"},
        {"email": "e@example.com", "deal_amount": "lots"},
        {"email": "f@example.com", "won_at": "2025-01-01", "lost_at": "2025-01-02"},
        {"email": "g@example.com", "stage": "mql", "won_at": "2025-01-01"},
    ]
    result = lead_import(rows=rows, user=marketer)
    fields = [r.errors[0]["field"] for r in result.results]
    assert fields == ["created_at", "owner_email", "stage", "campaign", "deal_amount", "lost_at",
                      "stage"]  # fmt: skip
    assert [r.row for r in result.results] == [1, 2, 3, 4, 5, 6, 7]
    assert Lead.objects.count() == 0


def test_a_row_with_stage_times_out_of_funnel_order_is_imported_in_order_with_a_warning(
    active_agreement, marketer
):
    # Olist's deal b91cf881… was won two days before its first contact; here sal is
    # also logged before the mql and sql before the sal.
    rows = [
        {
            "email": "odd@example.com",
            "created_at": "2018-03-10T00:00:00+00:00",
            "mql_at": "2018-03-10T00:00:00+00:00",
            "sal_at": "2018-03-09T08:00:00+00:00",
            "sql_at": "2018-03-12T00:00:00+00:00",
            "opportunity_at": "2018-03-11T00:00:00+00:00",
            "won_at": "2018-03-08T12:00:00+00:00",
            "deal_amount": "100",
        },
        {"email": "fine@example.com", "created_at": "2018-03-01", "mql_at": "2018-03-02"},
    ]
    result = lead_import(rows=rows, user=marketer)

    odd, fine = result.results
    assert (odd.status, fine.status) == ("warning", "created")
    assert [w["field"] for w in odd.warnings] == ["sal_at", "opportunity_at", "won_at"]
    assert "earlier than mql_at" in odd.warnings[0]["message"]
    assert "earlier than sql_at" in odd.warnings[2]["message"]
    assert (result.created, result.warnings, result.errors) == (2, 1, 0)
    lead = Lead.objects.get(email="odd@example.com")
    march = datetime(2018, 3, 10, tzinfo=UTC)
    assert (lead.mql_at, lead.sal_at) == (march, march)  # raised to the stage before
    assert lead.sql_at == lead.opportunity_at == lead.won_at == datetime(2018, 3, 12, tzinfo=UTC)
    assert lead.stage == "won" and lead.stage_entered_at == lead.won_at
    times = list(lead.stage_events.values_list("occurred_at", flat=True))
    assert times == sorted(times) and len(times) == 6
    deal = Deal.objects.get(lead=lead)
    assert deal.outcome == "won" and deal.closed_at == lead.won_at

    record = LeadImport.objects.get(pk=result.record.pk)
    assert (record.created_count, record.warning_count, record.error_count) == (2, 1, 0)
    assert record.report[0]["status"] == "warning" and len(record.report[0]["warnings"]) == 3
    lines = list(report_csv_rows(record.report))
    assert [line[:4] for line in lines[1:4]] == [
        [1, "warning", lead.pk, "sal_at"],
        [1, "warning", lead.pk, "opportunity_at"],
        [1, "warning", lead.pk, "won_at"],
    ]

    again = lead_import(rows=rows, user=marketer)
    assert [r.status for r in again.results] == ["unchanged", "unchanged"]
    assert again.warnings == 0


def test_history_put_in_order_is_a_running_maximum_from_the_creation():
    at = [datetime(2025, 1, day, tzinfo=UTC) for day in range(1, 6)]
    history = [("mql", at[0]), ("sal", at[3]), ("sql", at[1]), ("won", at[4])]
    ordered, warnings = history_put_in_order(created_at=at[2], history=history)
    assert ordered == [("mql", at[2]), ("sal", at[3]), ("sql", at[3]), ("won", at[4])]
    assert [w["field"] for w in warnings] == ["mql_at", "sql_at"]
    assert history_put_in_order(created_at=None, history=history[:2]) == (history[:2], [])


def test_without_created_at_a_lead_with_history_was_created_at_its_first_stage(
    active_agreement, marketer
):
    lead_import(rows=[{"email": "a@example.com", "mql_at": "2024-05-01"}], user=marketer)
    lead = Lead.objects.get()
    assert lead.created_at == lead.inquiry_at == lead.mql_at == datetime(2024, 5, 1, tzinfo=UTC)


def test_a_won_row_without_an_amount_gets_a_won_deal_of_zero_and_a_warning(
    active_agreement, marketer
):
    rows = [
        {"email": "won@example.com", "created_at": "2025-01-01", "won_at": "2025-02-01"},
        {"email": "said-won@example.com", "created_at": "2025-01-01", "stage": "won"},
        {"email": "lost@example.com", "created_at": "2025-01-01", "lost_at": "2025-02-01"},
        {"email": "lost-deal@example.com", "stage": "lost", "deal_amount": "50"},
    ]
    result = lead_import(rows=rows, user=marketer)
    assert [r.status for r in result.results] == ["warning", "warning", "created", "created"]
    assert result.results[0].warnings[0]["field"] == "deal_amount"
    assert "0.00" in result.results[0].warnings[0]["message"]
    for lead in Lead.objects.filter(stage="won"):
        assert list(lead.deals.values_list("outcome", "amount")) == [("won", Decimal("0.00"))]
    assert not Deal.objects.filter(lead__stage="lost", outcome="open").exists()
    assert Deal.objects.get(lead__email="lost-deal@example.com").outcome == "lost"
    assert not Deal.objects.filter(lead__email="lost@example.com").exists()


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1969-12-30T23:00:00+00:00"])
def test_a_time_outside_the_history_window_is_a_field_error(active_agreement, marketer, value):
    rows = [
        {"email": "a@example.com", "created_at": value},
        {"email": "b@example.com", "created_at": "2025-01-01", "won_at": value, "deal_amount": "1"},
        {"email": "c@example.com", "created_at": "2025-01-01"},
    ]
    result = lead_import(rows=rows, user=marketer)
    assert [r.status for r in result.results] == ["error", "error", "created"]
    assert [r.errors for r in result.results[:2]] == [
        [{"field": "created_at", "message": result.results[0].errors[0]["message"]}],
        [{"field": "won_at", "message": result.results[0].errors[0]["message"]}],
    ]
    assert "1970-01-01" in result.results[0].errors[0]["message"]
    assert list(Lead.objects.values_list("email", flat=True)) == ["c@example.com"]


def _csv(*lines: str) -> io.BytesIO:
    return io.BytesIO(("email,first_name,company\n" + "".join(lines)).encode())


def test_a_nul_a_huge_cell_and_an_unclosed_quote_are_row_errors_and_the_rest_imports(
    active_agreement, marketer
):
    huge = "x" * 1_048_576
    data = _csv(
        "a@example.com,Ada,Acme\n",
        "nul@example.com,Nu\x00l,Acme\n",
        f"huge@example.com,Huge,{huge}\n",
        "b@example.com,Bob,Beta\n",
        'open@example.com,"Open,Acme\n',  # the quote never closes
        "c@example.com,Cy,Gamma\n",
        'd@example.com,Di,"Quoted, Inc."\n',  # a later quote the open one would close on
        "e@example.com,Ed,Delta\n",
    )
    result = lead_import(rows=rows_from_csv(data), user=marketer)

    assert [r.status for r in result.results] == [
        "created", "error", "error", "created", "error", "created", "created", "created",
    ]  # fmt: skip
    nul, big, unclosed = (result.results[i].errors[0] for i in (1, 2, 4))
    assert nul["field"] == "first_name" and "NUL" in nul["message"]
    assert "longer than 131,072 characters" in big["message"]
    assert "never closed" in unclosed["message"] and "2 lines" in unclosed["message"]
    assert set(Lead.objects.values_list("email", flat=True)) == {
        "a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com",
    }  # fmt: skip
    assert Lead.objects.get(email="d@example.com").company == "Quoted, Inc."


def test_an_unclosed_quote_at_the_end_of_the_file_is_that_rows_error():
    rows = list(rows_from_csv(_csv("a@example.com,Ada,Acme\n", 'b@example.com,"Bob,B\n')))
    assert rows[0] == {"email": "a@example.com", "first_name": "Ada", "company": "Acme"}
    assert list(rows[1]) == [ROW_ERROR_KEY] and "never closed" in rows[1][ROW_ERROR_KEY]
    assert len(rows) == 2
    rows = list(rows_from_csv(_csv('b@example.com,"Bob,B\n', "c@example.com,Cy,C\n")))
    assert "the line after it" in rows[0][ROW_ERROR_KEY]
    assert rows[1] == {"email": "c@example.com", "first_name": "Cy", "company": "C"}


def test_an_unclosed_quote_running_past_the_cell_limit_loses_no_later_row():
    lines = [f"p{i}@example.com,P,{'y' * 1000}\n" for i in range(200)]  # 200 KB after it
    rows = list(rows_from_csv(_csv('open@example.com,"Open,Acme\n', *lines)))
    assert ROW_ERROR_KEY in rows[0]
    assert [row["email"] for row in rows[1:]] == [f"p{i}@example.com" for i in range(200)]


def test_a_quoted_cell_over_several_lines_is_still_one_cell():
    rows = list(rows_from_csv(_csv('a@example.com,Ada,"Acme\nBuilding 2"\n', "b@example.com,,\n")))
    assert rows == [
        {"email": "a@example.com", "first_name": "Ada", "company": "Acme\nBuilding 2"},
        {"email": "b@example.com", "first_name": "", "company": ""},
    ]


def test_json_rows_with_a_nul_or_a_huge_value_are_row_errors(active_agreement, marketer):
    rows = [
        {"email": "a@example.com", "custom:notes": "fine"},
        {"email": "b@example.com", "company": "Nu\u0000l"},
        {"email": "c@example.com", "custom:notes": "z" * 200_000},
        {"email": "d@example.com", "custom:tags": {"nested": ["ok", "bad\u0000"]}},
    ]
    result = lead_import(rows=rows, user=marketer)
    assert [r.status for r in result.results] == ["created", "error", "error", "error"]
    assert [r.errors[0]["field"] for r in result.results[1:]] == [
        "company", "custom:notes", "custom:tags",
    ]  # fmt: skip


def test_csv_and_json_lines_are_read_as_streams():
    data = "\ufeffEmail;First name;Company size\nada@example.com;Ada;12\n"
    rows = list(rows_from_csv(io.BytesIO(data.encode())))
    assert rows == [{"Email": "ada@example.com", "First name": "Ada", "Company size": "12"}]
    lines = b'{"email": "a@example.com"}\n\n{"email": "b@example.com"}\nnot json\n'
    assert list(rows_from_json(io.BytesIO(lines))) == [
        {"email": "a@example.com"},
        {"email": "b@example.com"},
        {"__invalid__": "not json"},
    ]
    array = json.dumps([{"email": "a@example.com"}, 3]).encode()
    assert list(rows_from_json(io.BytesIO(array)))[1] == {"__invalid__": 3}


def test_file_headers_map_to_columns_in_any_case(active_agreement, marketer):
    rows = rows_from_csv(io.BytesIO(b"EMAIL,First Name,company-size\nada@example.com,Ada,5\n"))
    result = lead_import(rows=rows, user=marketer)
    lead = Lead.objects.get()
    assert result.created == 1 and lead.first_name == "Ada" and lead.company_size == 5


def test_an_explicit_mapping_and_custom_fields(active_agreement, marketer):
    rows = [{"Mail": "ada@example.com", "Plan": "gold", "Ignored": "x"}]
    lead_import(rows=rows, user=marketer, mapping={"Mail": "email", "Plan": "custom:plan"})
    assert Lead.objects.get().custom_fields == {"plan": "gold"}


def test_the_report_csv_escapes_formulas():
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("+1") == "'+1" and csv_cell("@x") == "'@x" and csv_cell("-2+3") == "'-2+3"
    assert csv_cell("-2") == "-2"  # a plain number stays a number
    assert csv_cell("plain") == "plain"
    lines = csv_lines(
        report_csv_rows(
            [{"row": 1, "status": "error", "errors": [{"field": "email", "message": "=cmd"}]}]
        )
    )
    assert "".join(lines).splitlines()[1] == "1,error,,email,'=cmd,,"


def test_rows_of_one_batch_that_name_one_lead_are_written_as_a_row_at_a_time_would(
    active_agreement, marketer
):
    """The first row moves a lead to a new e-mail, the second names that e-mail, the third
    the old one. A row at a time: two updates of that lead, then a new lead with the old
    e-mail. The batch once matched each row against the leads as they were before it: the
    third row moved the lead back to its old e-mail and the second row became a new lead
    (without the third row, a duplicate e-mail that failed the whole run on PostgreSQL)."""
    lead = LeadFactory(email="old@example.com", external_id="X1", title="Engineer")
    rows = [
        {"external_id": "X1", "email": "new@example.com"},
        {"email": "new@example.com", "title": "Director"},
        {"email": "old@example.com", "title": "Analyst"},
    ]
    result = lead_import(rows=rows, user=marketer)
    assert [r.status for r in result.results] == ["updated", "updated", "created"]
    lead.refresh_from_db()
    assert (lead.email, lead.title) == ("new@example.com", "Director")
    assert Lead.objects.get(email="old@example.com").title == "Analyst"
    assert Lead.objects.count() == 2


def test_a_file_without_external_ids_keeps_the_leads_own(active_agreement, marketer):
    """No external id given (no such column, or a blank cell) leaves the lead's as it is:
    a file without the column once wiped the id of every lead it matched."""
    lead = LeadFactory(email="kept@example.com", external_id="crm-7", title="Engineer")
    other = LeadFactory(email="blank@example.com", external_id="crm-8")
    rows = [
        {"email": "kept@example.com", "title": "Director"},
        {"email": "blank@example.com", "external_id": "  ", "title": "Analyst"},
    ]
    result = lead_import(rows=rows, user=marketer)
    assert [r.status for r in result.results] == ["updated", "updated"]
    lead.refresh_from_db()
    other.refresh_from_db()
    assert (lead.external_id, lead.title) == ("crm-7", "Director")
    assert (other.external_id, other.title) == ("crm-8", "Analyst")


def test_rows_of_one_batch_updating_one_lead_by_the_same_key_take_one_pass(
    active_agreement, marketer, monkeypatch
):
    """Rows that update one lead without moving its keys are written in order in one pass
    (a row that moves a key or creates a lead is what sends the rows after it to a pass of
    their own): a file that names a few leads many times stays a few queries a batch."""
    LeadFactory(email="many@example.com")
    rows = [{"email": "many@example.com", "title": f"Title {n}"} for n in range(6)]
    passes = []
    real = importer._existing

    def existing(parsed):
        passes.append(len(parsed))
        return real(parsed)

    monkeypatch.setattr(importer, "_existing", existing)
    result = lead_import(rows=rows, user=marketer)
    assert [r.status for r in result.results] == ["updated"] * 6
    assert Lead.objects.get(email="many@example.com").title == "Title 5"
    assert passes == [6]  # one pass: the batch's keys looked up once
