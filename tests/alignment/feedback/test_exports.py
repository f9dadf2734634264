"""The intel and dispute lists as CSV: the page's filters, every record, texts defused."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alignment.models import DisputeStatus, IntelKind, IntelStatus, Team
from tests.exports import HOSTILE, column, safe_rows
from tests.factories import DisputeFactory, FieldIntelFactory, LeadFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("active_agreement")]


@pytest.fixture
def intel(rep, marketer):
    lead = LeadFactory(company=HOSTILE[6], first_name=HOSTILE[3], last_name="")
    mine = [
        FieldIntelFactory(author=rep, text=value, lead=lead, kind=IntelKind.PRICING)
        for value in HOSTILE
    ]
    other = FieldIntelFactory(
        text="Heard from another rep", kind=IntelKind.MARKET, status=IntelStatus.ACKNOWLEDGED,
        acknowledged_at=timezone.now(), response=HOSTILE[1],
    )  # fmt: skip
    return mine, other


def test_the_intel_list_exports_every_item_under_the_pages_filters(client, marketer, intel):
    mine, _other = intel
    client.force_login(marketer)
    response = client.get("/feedback/intel.csv")
    assert response.status_code == 200
    rows = safe_rows(response)
    assert rows[0][:3] == ["Status", "Kind", "What was heard"]
    assert len(rows) == 1 + len(mine) + 1
    assert "'=1+1" in column(rows, "What was heard") and "'+1" in column(rows, "Response")
    assert set(column(rows, "Lead")) >= {"'-2+3 · Acme;'=HYPERLINK(\"http://x\")"}
    pricing = safe_rows(client.get("/feedback/intel.csv?kind=pricing"))
    assert len(pricing) == 1 + len(mine) and set(column(pricing, "Kind")) == {"Pricing"}
    waiting = safe_rows(client.get("/feedback/intel.csv?status=acknowledged"))
    assert column(waiting, "What was heard") == ["Heard from another rep"]


def test_a_rep_gets_their_own_intel_by_default_as_on_the_page(client, rep, intel):
    mine, _other = intel
    client.force_login(rep)
    assert len(safe_rows(client.get("/feedback/intel.csv"))) == 1 + len(mine)
    assert len(safe_rows(client.get("/feedback/intel.csv?status="))) == 1 + len(mine) + 1


def test_a_bad_intel_filter_goes_back_to_the_page(client, marketer, intel):
    client.force_login(marketer)
    response = client.get("/feedback/intel.csv?created_after=not-a-date")
    assert response.status_code == 302 and response["Location"].startswith("/feedback/intel/?")


def test_the_intel_page_links_its_csv_with_its_filters(client, marketer, intel):
    client.force_login(marketer)
    page = client.get("/feedback/intel/?kind=pricing").content.decode()
    assert 'href="/feedback/intel.csv?kind=pricing"' in page


@pytest.fixture
def disputes(rep, marketer):
    lead = LeadFactory(company=HOSTILE[7], first_name="Ann", last_name="Lee")
    made = [DisputeFactory(lead=lead, raised_by=marketer, reason=value) for value in HOSTILE]
    DisputeFactory(
        raised_by=rep, raised_by_team=Team.SALES, status=DisputeStatus.RESOLVED,
        decision="shared", resolution_note=HOSTILE[5], resolved_at=timezone.now(),
        resolved_by=rep,
    )  # fmt: skip
    return made


@pytest.mark.parametrize("user", ["rep", "marketer", "executive"])
def test_the_dispute_list_exports_every_dispute(client, disputes, user, request):
    client.force_login(request.getfixturevalue(user))
    rows = safe_rows(client.get("/feedback/disputes.csv"))
    assert len(rows) == 1 + len(disputes) + 1
    assert "'@SUM(A1)" in column(rows, "Reason")
    assert "'\r'=x" in column(rows, "Resolution note")
    assert set(column(rows, "Lead")) >= {"Ann Lee · a,'=b"}


def test_the_dispute_export_keeps_the_pages_filters(client, executive, disputes):
    client.force_login(executive)
    rows = safe_rows(client.get("/feedback/disputes.csv?status=resolved"))
    assert column(rows, "Status") == ["Resolved"]
    team = safe_rows(client.get("/feedback/disputes.csv?raised_by_team=marketing"))
    assert len(team) == 1 + len(disputes)
    bad = client.get("/feedback/disputes.csv?status=nonsense")
    assert bad.status_code == 302 and bad["Location"].startswith("/feedback/disputes/?")
    page = client.get("/feedback/disputes/?status=open").content.decode()
    assert 'href="/feedback/disputes.csv?status=open"' in page
