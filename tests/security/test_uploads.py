"""Upload abuse: oversize, wrong type, broken encoding and a 1,000,000-column header.

Each gets a clear 400 (413 for size on the API; a form error on the pages), nothing is
stored (no LeadImport row, no lead, no file, no collateral), and memory stays flat: the
peak of Python allocations while the request is handled stays far below the file's worth
of parsed columns (tracemalloc, bounded generously).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from campaigns.models import Collateral
from leads.models import Lead, LeadImport
from tests.conftest import need
from tests.factories import CampaignFactory
from tests.foundation.test_infrastructure import _database_url_for_subprocess
from tests.processes import free_port, process_stop

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
def _media(settings, tmp_path, active_agreement):
    settings.MEDIA_ROOT = tmp_path
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


# --- request bodies refused before they are read ------------------------------------------------


class _MustNotBeRead(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        raise AssertionError("the request body was read")

    def readline(self, size=-1):
        raise AssertionError("the request body was read")


@pytest.fixture
def temp_files(monkeypatch):
    """Every temporary upload file Django creates while the test runs."""
    from django.core.files import uploadedfile

    made = []
    real = uploadedfile.TemporaryUploadedFile.__init__

    def spy(self, *args, **kwargs):
        made.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(uploadedfile.TemporaryUploadedFile, "__init__", spy)
    return made


def _huge_post(client, path: str, **headers):
    """A multipart POST that declares 210 MB and whose body may not be read."""
    return client.generic(
        "POST",
        path,
        b"",
        **{
            "wsgi.input": _MustNotBeRead(),
            "CONTENT_LENGTH": str(210 * MB),
            "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
            **headers,
        },
    )


@pytest.mark.parametrize(
    "path", ["/leads/import/", "/login/", "/api/v1/leads/import/", "/api/v1/auth/token/"]
)
@pytest.mark.parametrize("credentials", ["none", "a bad token"])
def test_an_unauthenticated_large_body_is_refused_unread(path, credentials, temp_files, _media):
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32  # anyone gets one from the login page
    headers = {"HTTP_X_CSRFTOKEN": "a" * 32}
    if credentials == "a bad token":
        headers["HTTP_AUTHORIZATION"] = "Token not-a-token"
    response = _huge_post(client, path, **headers)
    assert response.status_code == 413, response.content[:300]
    assert response["Connection"] == "close"
    text = response.json()["detail"] if path.startswith("/api/") else response.content.decode()
    assert "210.0" in text and "Sign in" in text and "64.0" in text
    assert temp_files == [] and not [p for p in _media.rglob("*") if p.is_file()]
    assert not LeadImport.objects.exists()


def test_a_signed_in_body_over_the_request_limit_is_refused_unread(marketer, settings, temp_files):
    from rest_framework.authtoken.models import Token

    settings.REQUEST_MAX_BYTES = 100 * MB
    token = Token.objects.create(user=marketer)
    response = _huge_post(
        Client(), "/api/v1/leads/import/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 413
    assert "split the file" in response.json()["detail"] and "100.0" in response.json()["detail"]
    page = Client()
    page.force_login(marketer)
    response = _huge_post(page, "/leads/import/")
    assert response.status_code == 413 and "split the file" in response.content.decode()
    assert temp_files == []


def test_a_body_without_a_length_stops_being_read_at_the_limit(settings):
    """Chunked (no Content-Length): the body is read through a counter that stops at the
    limit, whatever the server hands over."""
    from django.core.handlers.exception import convert_exception_to_response
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.upload_limits import RequestBodyLimitMiddleware

    settings.ANONYMOUS_REQUEST_MAX_BYTES = 64 * 1024
    endless = _Endless()
    request = RequestFactory().post(
        "/api/v1/leads/import/", b"", content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = endless  # what an ASGI server or a dechunking proxy hands over

    def view(request):
        request.body  # noqa: B018 - reads the whole body, as a JSON parser would
        return HttpResponse("read it all")

    # As in Django's handler, where each layer turns an exception into a response.
    response = RequestBodyLimitMiddleware(convert_exception_to_response(view))(request)
    assert response.status_code == 413
    assert 64 * 1024 < endless.handed_out <= 64 * 1024 + 1


class _Endless(io.RawIOBase):
    def __init__(self) -> None:
        self.handed_out = 0

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        size = 1024 * 1024 if size is None or size < 0 else size
        self.handed_out += size
        return b"x" * size


@pytest.mark.django_db(transaction=True)
def test_a_real_server_answers_413_before_the_body_arrives(tmp_path):
    """gunicorn, as deployed: headers declaring 210 MB and no body; the answer comes at once
    and the server's temporary folder stays empty."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    need(gunicorn.exists() or shutil.which("gunicorn") is not None, "gunicorn is not installed")
    port, spool = free_port(), tmp_path / "tmp"
    spool.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_subprocess(),
        "ACCORD_VAR_DIR": str(tmp_path / "var"),
        "TMPDIR": str(spool),
        "DEBUG": "true",
    }
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "60"],
        cwd=Path(__file__).resolve().parents[2], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(
                b"POST /api/v1/leads/import/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=xyz\r\n"
                b"Content-Length: %d\r\n\r\n"
                % (210 * MB)
                + b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
                + b"x" * 65536
            )
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, f"the server closed without an answer: {answer!r}"
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert not list(spool.rglob("*"))
    finally:
        process_stop(server)
