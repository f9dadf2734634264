"""Upload abuse: oversize, wrong type, broken encoding and a 1,000,000-column header.

Each gets a clear 400 (413 for size on the API; a form error on the pages), nothing is
stored (no LeadImport row, no lead, no file, no collateral), and memory stays flat: the
peak of Python allocations while the request is handled stays far below the file's worth
of parsed columns (tracemalloc, bounded generously).
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from alignment.services import agreement_create_default
from campaigns.models import Collateral
from leads.models import Lead, LeadImport
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
GOOD = b"email,first_name\nada@example.com,Ada\n"


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("leads.csv", GOOD)
    return out.getvalue()


MILLION_COLUMNS = b",".join(b"c%d" % n for n in range(1_000_000)) + b"\nada@example.com\n"

BAD_FILES = {
    # name: (file name, bytes, words the message must hold)
    "png as csv": ("leads.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG"),
    "zip as csv": ("leads.csv", _zip(), "ZIP"),
    "executable": ("leads.exe", b"MZ\x90\x00", ".csv"),
    "invalid utf-8": ("leads.csv", b"email,company\nada@example.com,Caf\xe9 \xff\n", "UTF-8"),
    "utf-16 without bom": (
        "leads.csv",
        "email,company\nada@example.com,Café\n".encode("utf-16-le"),
        "UTF-16",
    ),
    "utf-16 with bom": ("leads.csv", "email\nada@example.com\n".encode("utf-16"), "UTF-16"),
    "binary noise": ("leads.json", b'{"email": "\x00\x01\x02"}\n', "binary"),
    "a million columns": ("leads.csv", MILLION_COLUMNS, "column"),
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    agreement_create_default()
    return tmp_path


def _nothing_stored(media) -> None:
    assert not LeadImport.objects.exists()
    assert not Lead.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]


def _peak_mb(call):
    tracemalloc.start()
    try:
        result = call()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / MB


@pytest.mark.parametrize("case", BAD_FILES)
def test_the_import_page_refuses_a_bad_file_with_a_form_error_and_stores_nothing(
    case, marketer, _media
):
    name, content, words = BAD_FILES[case]
    client = Client()
    client.force_login(marketer)
    response, peak = _peak_mb(
        lambda: client.post("/leads/import/", {"file": SimpleUploadedFile(name, content)})
    )
    assert response.status_code == 400
    errors = response.context["form"].errors["file"]
    assert any(words.lower() in e.lower() for e in errors), errors
    _nothing_stored(_media)
    assert peak < 100, f"{peak:.0f} MB"


@pytest.mark.parametrize("case", BAD_FILES)
def test_the_import_api_refuses_a_bad_file_with_400_and_stores_nothing(case, marketer, _media):
    name, content, words = BAD_FILES[case]
    client = APIClient()
    client.force_authenticate(marketer)
    response, peak = _peak_mb(
        lambda: client.post(
            "/api/v1/leads/import/",
            {"file": SimpleUploadedFile(name, content)},
            format="multipart",
        )
    )
    assert response.status_code == 400, response.content[:300]
    assert any(words.lower() in e.lower() for e in response.json()["file"])
    _nothing_stored(_media)
    assert peak < 100, f"{peak:.0f} MB"


def test_an_oversize_import_is_413_on_the_api_and_a_form_error_on_the_page(
    marketer, settings, _media
):
    settings.LEAD_IMPORT_MAX_BYTES = 4096
    big = GOOD + b"".join(b"l%d@example.com,L\n" % n for n in range(400))
    assert len(big) > 4096
    api = APIClient()
    api.force_authenticate(marketer)
    response = api.post(
        "/api/v1/leads/import/", {"file": SimpleUploadedFile("big.csv", big)}, format="multipart"
    )
    assert response.status_code == 413
    assert "most an import takes" in response.json()["file"][0]
    page = Client()
    page.force_login(marketer)
    response = page.post("/leads/import/", {"file": SimpleUploadedFile("big.csv", big)})
    assert response.status_code == 400
    assert "most an import takes" in response.context["form"].errors["file"][0]
    _nothing_stored(_media)


def test_a_good_file_still_imports_after_the_checks(marketer, _media):
    api = APIClient()
    api.force_authenticate(marketer)
    bom = b"\xef\xbb\xbf" + GOOD.replace(b"Ada", "Zoë".encode())
    response = api.post(
        "/api/v1/leads/import/", {"file": SimpleUploadedFile("ok.csv", bom)}, format="multipart"
    )
    assert response.status_code == 200 and response.json()["created"] == 1
    assert Lead.objects.get().first_name == "Zoë"


def test_a_json_body_over_the_request_limit_is_refused_without_a_500(marketer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    api = APIClient()
    api.force_authenticate(marketer)
    rows = [{"email": f"r{n}@example.com"} for n in range(200)]
    response = api.post("/api/v1/leads/import/", rows, format="json")
    assert response.status_code in (400, 413), response.content[:300]
    assert response.json()
    assert not Lead.objects.exists() and not LeadImport.objects.exists()


def test_the_upload_limits_are_set():
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 10 * MB
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 10 * MB  # bigger files go to a temp file
    assert settings.LEAD_IMPORT_MAX_BYTES <= 1024 * MB
    assert settings.COLLATERAL_MAX_BYTES <= 200 * MB


COLLATERAL_BAD = {
    "html page": ("deck.html", b"<html><script>alert(1)</script></html>", "document"),
    "svg as png": ("logo.png", b"<svg onload=alert(1)></svg>", "not a .png"),
    "executable as pdf": ("deck.pdf", b"MZ\x90\x00 not a pdf", "not a .pdf"),
    "markup as txt": ("notes.txt", b"  <!DOCTYPE html><script>x</script>", "Web pages"),
}


@pytest.mark.parametrize("case", COLLATERAL_BAD)
def test_a_collateral_upload_of_the_wrong_type_is_a_form_error(case, marketer, _media):
    name, content, words = COLLATERAL_BAD[case]
    campaign = CampaignFactory(owner=marketer)
    client = Client()
    client.force_login(marketer)
    response = client.post(
        f"/campaigns/{campaign.pk}/collateral/",
        {"title": "Deck", "file": SimpleUploadedFile(name, content), "stage_key": "sql"},
    )
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Collateral.objects.exists()
    assert not [p for p in _media.rglob("*") if p.is_file()]


def test_an_oversize_collateral_file_is_a_form_error(marketer, settings, _media):
    settings.COLLATERAL_MAX_BYTES = 2048
    campaign = CampaignFactory(owner=marketer)
    client = Client()
    client.force_login(marketer)
    response = client.post(
        f"/campaigns/{campaign.pk}/collateral/",
        {"title": "Deck", "file": SimpleUploadedFile("deck.pdf", b"%PDF-1.4" + b"x" * 4096)},
    )
    assert response.status_code == 400
    assert "collateral may be at most" in response.content.decode()
    assert not Collateral.objects.exists()
