"""config.bulk.rows_insert: COPY on PostgreSQL, bulk_create elsewhere; the same rows either way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from alignment.models import StageKey
from config.bulk import copy_prepare, rows_insert, texts_in
from leads.models import Deal, DealOutcome, Lead, StageEvent
from tests.conftest import need
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_rows_come_back_as_written_with_their_ids_in_order():
    awkward = "tab\there, new\nline, back\\slash, \\N, carriage\rreturn, ünïcode 🙂"
    rows = [
        {"email": "a@example.com", "first_name": awkward, "company": "", "external_id": None,
         "company_size": 12, "custom_fields": {"note": awkward, "n": [1, 2]}, "created_at": AT,
         "inquiry_at": AT, "stage": StageKey.INQUIRY},
        {"email": "b@example.com", "last_name": "\\N", "created_at": AT, "inquiry_at": AT},
    ]  # fmt: skip
    ids = rows_insert(Lead, rows, with_ids=True)
    assert len(ids) == 2 and ids[0] < ids[1]
    first, second = Lead.objects.get(pk=ids[0]), Lead.objects.get(pk=ids[1])
    assert first.email == "a@example.com" and second.email == "b@example.com"
    assert first.first_name == awkward
    assert first.custom_fields == {"note": awkward, "n": [1, 2]}
    assert first.company == "" and first.external_id is None and first.company_size == 12
    assert second.last_name == "\\N"  # the text "\N", not NULL
    # What a row leaves out is the field's default, as Lead(**row) would have it.
    assert second.custom_fields == {} and second.score_breakdown == []
    assert second.score == 0 and second.source == Lead().source and second.stage == "inquiry"
    assert second.company_size is None and second.mql_at is None
    assert second.created_at == AT and second.updated_at is not None


def test_many_rows_stream_in_chunks_and_shared_values_are_written_to_every_row():
    """Rows are encoded as the COPY reads them, a chunk at a time, and a value held by many
    rows (the same moment, the same scored breakdown) is encoded once: every row still gets
    its own values, whichever rows share them and in whatever order."""
    shared = [{"rule": "Head of\tsales", "points": 15}]
    other = [{"rule": "Director", "points": 15}]
    rows = []
    for n in range(257):  # more than two chunks, the last one short
        breakdown = [shared, other, [dict(shared[0])]][n % 3]  # an equal copy, too
        rows.append({"email": f"s{n}@example.com", "first_name": ["Ann", "Bo"][n % 2 == 0],
                     "created_at": AT if n % 5 else AT.replace(day=2), "inquiry_at": AT,
                     "score": n % 7, "score_breakdown": breakdown,
                     "custom_fields": {"n": n} if n % 4 else {}})  # fmt: skip
    ids = rows_insert(Lead, rows, with_ids=True)
    stored = Lead.objects.in_bulk(ids)
    for row, pk in zip(rows, ids, strict=True):
        lead = stored[pk]
        assert (lead.email, lead.first_name, lead.created_at, lead.score) == (
            row["email"], row["first_name"], row["created_at"], row["score"]
        )  # fmt: skip
        assert lead.score_breakdown == row["score_breakdown"]
        assert lead.custom_fields == row["custom_fields"]


def test_the_next_row_created_elsewhere_gets_a_new_id():
    ids = rows_insert(Lead, [{"email": "c@example.com"}], with_ids=True)
    later = LeadFactory()
    assert later.pk > ids[0]


def test_a_database_default_is_left_to_the_database_and_decimals_and_booleans_are_kept():
    lead = LeadFactory()
    rows_insert(StageEvent, [{"lead_id": lead.pk, "to_stage": StageKey.INQUIRY,
                              "occurred_at": AT, "override": True}])  # fmt: skip
    event = StageEvent.objects.get(lead=lead)
    assert event.override is True
    assert event.actor_team == ""  # its db_default
    rows_insert(Deal, [{"lead_id": lead.pk, "amount": Decimal("1234.50"),
                        "outcome": DealOutcome.WON, "closed_at": AT}])  # fmt: skip
    deal = Deal.objects.get(lead=lead)
    assert deal.amount == Decimal("1234.50") and deal.outcome == DealOutcome.WON
    assert deal.closed_at == AT


def test_a_column_the_model_does_not_have_is_refused():
    with pytest.raises(ValueError, match="no column"):
        rows_insert(Lead, [{"email": "d@example.com", "colour": "blue"}], with_ids=True)
    assert not Lead.objects.filter(email="d@example.com").exists()


def test_nothing_to_insert_is_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert rows_insert(Lead, [], with_ids=True) == []
    assert len(queries) == 0


def test_on_postgresql_the_rows_go_through_copy_not_insert(db_vendor):
    need(db_vendor == "postgresql", "COPY is PostgreSQL's (SQLite takes bulk_create)")
    with CaptureQueriesContext(connection) as queries:
        ids = rows_insert(Lead, [{"email": f"e{i}@example.com"} for i in range(3)],
                          with_ids=True)  # fmt: skip
    assert Lead.objects.filter(pk__in=ids).count() == 3
    sql = [q["sql"] for q in queries]
    assert not any("INSERT" in s.upper() for s in sql), sql  # COPY is not a captured query
    assert any("nextval" in s for s in sql)


def test_a_prepared_copy_writes_when_sent_and_a_taken_key_is_an_integrity_error(db_vendor):
    """copy_prepare encodes now (ids reserved), Copy.send writes later, from any thread of
    the importer's pipeline; a key taken meanwhile is Django's IntegrityError, which the
    importer's batch catches to redo its rows one by one."""
    if db_vendor != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL"):
            copy_prepare(Lead, [{"email": "x@example.com"}])
        return
    odd = "vertical\x0btab, line\u2028separator, escape\x1b, back\\slash"
    ids, copy = copy_prepare(Lead, [{"email": "p@example.com", "first_name": odd}],
                             with_ids=True)  # fmt: skip
    assert not Lead.objects.filter(pk__in=ids).exists()  # nothing written yet
    copy.send()
    assert Lead.objects.get(pk=ids[0]).first_name == odd
    _ids, again = copy_prepare(Lead, [{"email": "P@example.com"}], with_ids=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        again.send()


def test_texts_in_matches_whole_values_only(db_vendor):
    """One array parameter on PostgreSQL, compared as text: a value longer than the column
    is not cut down to one that matches (varchar(254) would cut it)."""
    longest = "x" * 248 + "@e.com"  # 254 characters, the column's length
    lead = LeadFactory(email=longest)
    assert list(Lead.objects.filter(texts_in("email", [longest + "zz"]))) == []
    assert list(Lead.objects.filter(texts_in("email", [longest, "other@example.com"]))) == [lead]
    assert list(Lead.objects.filter(texts_in("email", []))) == []
