"""Imports speak the customer's words: channel aliases, the dry run's unmapped values and
their quick map, and the result page's link to the leads an import wrote."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leads.imports.channels import (
    channel_alias_create,
    channel_alias_delete,
    channel_resolve,
)
from leads.imports.importer import lead_import
from leads.models import ChannelAlias, ImportedLead, ImportedRange, Lead, LeadImport
from tests.factories import ChannelAliasFactory, ImportedLeadFactory, LeadFactory

pytestmark = pytest.mark.django_db

# Every `origin` of the Olist marketing funnel data set (its SOURCE.md), blank included.
OLIST_ORIGINS = [
    "organic_search",
    "paid_search",
    "social",
    "unknown",
    "direct_traffic",
    "email",
    "referral",
    "other",
    "display",
    "other_publicities",
    "",
]
EXPECTED_CHANNEL = {
    "organic_search": "organic_search",
    "paid_search": "paid_search",
    "social": "social",
    "unknown": "unknown",
    "direct_traffic": "direct",
    "email": "email",
    "referral": "referral",
    "other": "other",
    "display": "display",
    "other_publicities": "other",
    "": "unknown",  # no source: the lead's default
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path, active_agreement):
    settings.MEDIA_ROOT = tmp_path


def _olist_csv(origins: list[str]) -> bytes:
    """An Olist MQL file's columns (mql_id, first_contact_date, landing_page_id, origin)
    plus the email an import needs, one row per origin given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["mql_id", "email", "first_contact_date", "landing_page_id", "origin"])
    for i, origin in enumerate(origins):
        mql_id = f"{i:032x}"
        writer.writerow([mql_id, f"{mql_id}@olist.invalid", f"2018-0{1 + i % 9}-1{i % 10}",
                         f"{(i * 7):032x}", origin])  # fmt: skip
    return out.getvalue().encode()


# The map page's columns, by position: mql_id, email, first_contact_date, landing_page_id, origin.
MAPPING = {
    "col_0": "external_id",
    "col_1": "email",
    "col_2": "created_at",
    "col_3": "custom:landing_page_id",
    "col_4": "source",
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client, content: bytes, name: str = "olist.csv") -> str:
    response = client.post("/leads/import/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content
    return response["Location"]


def _unmapped_section(body: str) -> str:
    match = re.search(r'<div class="unmapped-sources".*?</table>', body, re.S)
    return match.group(0) if match else ""


# --- resolution ------------------------------------------------------------------------------


def test_the_default_aliases_map_every_olist_origin():
    for origin, channel in EXPECTED_CHANNEL.items():
        if origin:
            assert channel_resolve(value=origin) == channel, origin
    assert channel_resolve(value="  Organic ") == "organic_search"
    assert channel_resolve(value="Direct Traffic") == "direct"  # spaces count as underscores
    assert channel_resolve(value="Paid search") == "paid_search"  # a channel's label
    assert channel_resolve(value="carrier_pigeon") is None
    assert channel_resolve(value="") is None


def test_an_olist_file_imports_every_row_through_the_default_aliases(marketer):
    origins = [*OLIST_ORIGINS, *OLIST_ORIGINS[:9]]  # 20 rows, every origin, blank included
    assert len(origins) == 20
    client = _client(marketer)
    map_url = _upload(client, _olist_csv(origins))

    preview = client.post(map_url, {**MAPPING, "action": "preview"}).content.decode()
    assert "Dry run" in preview
    assert _unmapped_section(preview) == ""  # no unmapped value
    assert not Lead.objects.exists()

    response = client.post(map_url, {**MAPPING, "action": "import"})
    run = LeadImport.objects.get(dry_run=False)
    assert response["Location"] == f"/leads/import/runs/{run.pk}/"
    assert (run.total_rows, run.created_count, run.error_count) == (20, 20, 0)
    for i, origin in enumerate(origins):
        lead = Lead.objects.get(external_id=f"{i:032x}")
        assert lead.source == EXPECTED_CHANNEL[origin], origin


def test_the_dry_run_lists_an_unknown_value_with_its_count_and_its_quick_map_imports_it(
    marketer,
):
    origins = ["organic", "carrier_pigeon", "social", "carrier_pigeon", "Carrier_Pigeon"]
    client = _client(marketer)
    map_url = _upload(client, _olist_csv(origins))

    section = _unmapped_section(
        client.post(map_url, {**MAPPING, "action": "preview"}).content.decode()
    )
    assert "<code>carrier_pigeon</code>" in section
    assert re.search(r'data-label="Rows">3<', section)
    assert "<code>organic</code>" not in section and "<code>social</code>" not in section
    assert 'name="map-alias" value="carrier_pigeon"' in section

    # No channel chosen: nothing is made, and the dry run says why.
    body = client.post(
        map_url, {**MAPPING, "action": "alias", "map-alias": "carrier_pigeon", "map-channel": ""}
    ).content.decode()
    assert (
        "“carrier_pigeon” was not mapped: This field is required." in body
        and "<code>carrier_pigeon</code>" in body
    )
    assert not ChannelAlias.objects.filter(alias="carrier_pigeon").exists()

    # The quick map: the alias is made, and the dry run comes back without the value.
    body = client.post(
        map_url,
        {**MAPPING, "action": "alias", "map-alias": "carrier_pigeon", "map-channel": "other"},
    ).content.decode()
    assert ChannelAlias.objects.get(alias="carrier_pigeon").channel == "other"
    assert "Dry run" in body and _unmapped_section(body) == ""
    assert "now imports as Other" in body

    client.post(map_url, {**MAPPING, "action": "import"})
    run = LeadImport.objects.get(dry_run=False)
    assert (run.created_count, run.error_count) == (5, 0)
    assert Lead.objects.filter(source="other").count() == 3


def test_a_value_mapped_on_the_alias_page_then_imports(marketer):
    client = _client(marketer)
    map_url = _upload(client, _olist_csv(["carrier_pigeon"] * 3))
    section = _unmapped_section(
        client.post(map_url, {**MAPPING, "action": "preview"}).content.decode()
    )
    assert "<code>carrier_pigeon</code>" in section and 'data-label="Rows">3<' in section

    response = client.post(
        "/leads/import/aliases/",
        {"alias": "Carrier_Pigeon ", "channel": "referral", "next": map_url},
    )
    assert response.status_code == 302 and response["Location"] == map_url
    assert ChannelAlias.objects.get(alias="carrier_pigeon").created_by == marketer

    client.post(map_url, {**MAPPING, "action": "import"})
    run = LeadImport.objects.get(dry_run=False)
    assert (run.created_count, run.error_count) == (3, 0)
    assert set(Lead.objects.values_list("source", flat=True)) == {"referral"}


def test_an_unmapped_value_is_refused_naming_it():
    result = lead_import(rows=[{"email": "a@example.com", "source": "carrier_pigeon"}], user=None)
    assert result.errors == 1
    (error,) = result.results[0].errors
    assert error["field"] == "source" and "carrier_pigeon" in error["message"]
    assert result.unmapped_sources == [("carrier_pigeon", 1)]


def test_a_deleted_alias_no_longer_maps(marketer):
    alias = ChannelAlias.objects.get(alias="organic")
    channel_alias_delete(alias=alias, user=marketer)
    assert channel_resolve(value="organic") is None
    channel_alias_delete(alias=alias, user=marketer)  # safe twice


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "channel", "field", "message"),
    [
        ("pigeon", "carrier", "channel", "Choose one of Accord's source channels"),
        ("organic", "organic_search", "alias", "already an alias of Organic search"),
        ("ORGANIC ", "social", "alias", "already an alias of Organic search"),
        ("Direct Traffic", "direct", "alias", "already an alias of Direct"),
        ("email", "email", "alias", "already a source channel"),
        ("Paid search", "paid_search", "alias", "already a source channel"),
        ("   ", "other", "alias", "Type the name"),
        ("pi\x00geon", "other", "alias", "NUL character"),
        ("x" * 101, "other", "alias", "at most 100 characters"),
    ],
)
def test_the_service_refuses_a_bad_alias_with_a_clear_message(
    marketer, alias, channel, field, message
):
    with pytest.raises(ValidationError) as caught:
        channel_alias_create(alias=alias, channel=channel, user=marketer)
    assert any(message in text for text in caught.value.message_dict[field])


def test_only_who_may_import_may_edit_aliases(rep, executive, marketing_manager):
    for user in (rep, executive):
        with pytest.raises(PermissionDenied):
            channel_alias_create(alias="pigeon", channel="other", user=user)
    created = channel_alias_create(alias=" Pigeon  Post ", channel="other", user=marketing_manager)
    assert created.alias == "pigeon post"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"alias": "pigeon", "channel": "carrier"}, "Select a valid choice"),
        ({"alias": "organic", "channel": "social"}, "already an alias of Organic search"),
        ({"alias": "pi\x00geon", "channel": "other"}, "Null characters are not allowed"),
        ({"alias": "x" * 5000, "channel": "other"}, "at most 100 characters"),
    ],
)
def test_the_alias_page_shows_a_bad_alias_as_a_form_error(marketer, data, message):
    response = _client(marketer).post("/leads/import/aliases/", data)
    assert response.status_code == 400
    assert message in response.content.decode()


# --- the page and who sees it ----------------------------------------------------------------


def test_the_alias_page_lists_adds_and_deletes_for_marketing(marketer):
    client = _client(marketer)
    page = client.get("/leads/import/aliases/").content.decode()
    assert "<code>direct_traffic</code>" in page and 'name="alias"' in page
    assert "/leads/import/aliases/" in client.get("/leads/import/").content.decode()

    response = client.post("/leads/import/aliases/", {"alias": "Pigeon", "channel": "other"})
    assert response.status_code == 302 and response["Location"] == "/leads/import/aliases/"
    alias = ChannelAlias.objects.get(alias="pigeon")
    assert "“pigeon” now imports as Other" in client.get("/leads/import/aliases/").content.decode()
    # An outside `next` is ignored.
    response = client.post(
        "/leads/import/aliases/", {"alias": "dove", "channel": "other", "next": "https://x.test/"}
    )
    assert response["Location"] == "/leads/import/aliases/"

    response = client.post(f"/leads/import/aliases/{alias.pk}/delete/")
    assert response.status_code == 302 and not ChannelAlias.objects.filter(pk=alias.pk).exists()
    assert client.get(f"/leads/import/aliases/{alias.pk}/delete/").status_code == 405


def test_an_executive_reads_the_aliases_but_may_not_change_them(executive):
    client = _client(executive)
    page = client.get("/leads/import/aliases/").content.decode()
    assert "<code>direct_traffic</code>" in page and 'name="alias"' not in page
    count = ChannelAlias.objects.count()
    response = client.post(
        "/leads/import/aliases/", {"alias": "pigeon", "channel": "other"}, follow=True
    )
    assert (
        "Only marketers and marketing managers may edit channel aliases."
        in response.content.decode()
    )
    alias = ChannelAlias.objects.get(alias="organic")
    response = client.post(f"/leads/import/aliases/{alias.pk}/delete/", follow=True)
    assert "Only marketers and marketing managers" in response.content.decode()
    assert ChannelAlias.objects.count() == count


@pytest.mark.parametrize("role", ["rep", "sales_manager"])
def test_sales_is_sent_back_from_the_alias_page_with_a_message(request, role):
    client = _client(request.getfixturevalue(role))
    response = client.get("/leads/import/aliases/")
    assert response.status_code == 302 and response["Location"] == "/leads/import/"
    alias = ChannelAliasFactory()
    response = client.post(f"/leads/import/aliases/{alias.pk}/delete/", follow=True)
    assert "Only marketers and marketing managers" in response.content.decode()
    assert ChannelAlias.objects.filter(pk=alias.pk).exists()


def test_the_admin_adds_through_the_same_rules(admin_client):
    response = admin_client.post(
        "/admin/leads/channelalias/add/", {"alias": " ORGANIC ", "channel": "social"}
    )
    assert response.status_code == 200 and "already an alias of Organic search" in (
        response.content.decode()
    )
    response = admin_client.post(
        "/admin/leads/channelalias/add/", {"alias": " Pigeon  Post", "channel": "other"}
    )
    assert response.status_code == 302
    assert ChannelAlias.objects.get(alias="pigeon post").channel == "other"


# --- the leads an import wrote ---------------------------------------------------------------


def test_the_result_page_links_to_exactly_the_leads_it_created_and_updated(marketer):
    existing = LeadFactory(email="known@example.com", company="Old")
    unchanged = LeadFactory(email="same@example.com", company="Same")
    untouched = LeadFactory(email="other@example.com")
    content = (
        b"email,company,source\n"
        b"new1@example.com,A,organic\n"
        b"new2@example.com,B,direct_traffic\n"
        b"known@example.com,New,\n"
        b"same@example.com,Same,\n"
        b"bad,C,\n"
    )
    client = _client(marketer)
    map_url = _upload(client, content, "crm.csv")
    mapping = {"col_0": "email", "col_1": "company", "col_2": "source"}
    client.post(map_url, {**mapping, "action": "preview"})
    assert not ImportedLead.objects.exists()  # a dry run records nothing
    client.post(map_url, {**mapping, "action": "import"})
    run = LeadImport.objects.get(dry_run=False)
    assert (run.created_count, run.updated_count, run.unchanged_count, run.error_count) == (
        2, 1, 1, 1,
    )  # fmt: skip

    page = client.get(f"/leads/import/runs/{run.pk}/").content.decode()
    created_url = f"/leads/?import_run={run.pk}&amp;import_result=created"
    updated_url = f"/leads/?import_run={run.pk}&amp;import_result=updated"
    assert created_url in page and updated_url in page and f'/leads/?import_run={run.pk}"' in page

    created = set(Lead.objects.filter(email__startswith="new").values_list("pk", flat=True))
    listed = client.get(f"/leads/?import_run={run.pk}&import_result=created")
    assert {lead.pk for lead in listed.context["page"].object_list} == created
    body = listed.content.decode()
    assert f"Created by import #{run.pk}" in body  # the chip says why the list is narrowed
    assert 'href="/leads/?import_result' not in body  # "remove" drops both parameters

    listed = client.get(f"/leads/?import_run={run.pk}&import_result=updated")
    assert [lead.pk for lead in listed.context["page"].object_list] == [existing.pk]
    assert f"Updated by import #{run.pk}" in listed.content.decode()

    listed = client.get(f"/leads/?import_run={run.pk}")
    pks = {lead.pk for lead in listed.context["page"].object_list}
    assert pks == created | {existing.pk}
    assert unchanged.pk not in pks and untouched.pk not in pks


def test_a_lead_written_twice_by_one_run_is_listed_once_as_created(marketer):
    rows = [{"email": "twice@example.com", "company": "A"}] * 3 + [
        {"email": "twice@example.com", "company": "B"}
    ]
    result = lead_import(rows=rows, user=marketer, batch_size=2)
    assert (result.created, result.updated) == (1, 1)
    lead = Lead.objects.get()
    ranges = ImportedRange.objects.filter(run=result.record)
    assert list(ranges.values_list("first_id", "last_id")) == [(lead.pk, lead.pk)]
    assert not ImportedLead.objects.filter(run=result.record).exists()  # not "updated" too
    client = _client(marketer)
    created = client.get(f"/leads/?import_run={result.record.pk}&import_result=created")
    assert list(created.context["page"].object_list) == [lead]
    updated = client.get(f"/leads/?import_run={result.record.pk}&import_result=updated")
    assert list(updated.context["page"].object_list) == []


def test_the_import_filter_of_an_unknown_run_lists_nothing(marketer):
    LeadFactory()
    listed = _client(marketer).get("/leads/?import_run=999999")
    assert listed.status_code == 200 and list(listed.context["page"].object_list) == []


def test_the_channel_names_are_read_once_per_language_not_once_per_row(marketer):
    from django.utils import translation

    from leads.imports.channels import _channels_in

    _channels_in.cache_clear()
    rows = [{"email": f"c{n}@example.com", "source": "Paid search"} for n in range(30)]
    assert lead_import(rows=rows, user=marketer).created == 30
    with translation.override("pl"):
        lead_import(rows=[{"email": "pl@example.com", "source": "webinar"}], user=marketer)
    assert _channels_in.cache_info().misses == 2  # English, then Polish
    assert set(Lead.objects.values_list("source", flat=True)) >= {"paid_search"}


def test_the_import_filter_lists_a_runs_ranges_and_the_records_of_runs_before_them(marketer):
    """A run's created leads are ranges of ids (leads 0027); a run from before them listed
    its created leads one row each (ImportedLead, created true), and still does."""
    first = lead_import(rows=[{"email": f"a{n}@example.com"} for n in range(3)], user=marketer)
    second = lead_import(rows=[{"email": f"b{n}@example.com"} for n in range(2)], user=marketer)
    older = ImportedLeadFactory(created=True)  # its own run, recorded the old way
    client = _client(marketer)

    def listed(query: str) -> set[str]:
        page = client.get(f"/leads/?{query}").context["page"]
        return {lead.email for lead in page.object_list}

    assert listed(f"import_run={first.record.pk}&import_result=created") == {
        "a0@example.com", "a1@example.com", "a2@example.com",
    }  # fmt: skip
    assert listed(f"import_run={second.record.pk}") == {"b0@example.com", "b1@example.com"}
    assert listed(f"import_run={older.run_id}&import_result=created") == {older.lead.email}
    assert len(listed("import_result=created")) == 6
    assert listed(f"import_run={first.record.pk}&import_result=updated") == set()
