"""Collateral files reach the people who may see them, in production too.

With DEBUG off nothing serves MEDIA_URL, so uploaded collateral is read through its
storage (the local disk or an S3-compatible bucket) by a download view that checks the
viewer's permission, and every link (campaign page, lead page, admin) points there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from moto import mock_aws

from alignment.agreement.services import agreement_create_default
from campaigns.models import Collateral
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n% the spring campaign's deck\n"
BUCKET = "accord-media"


@pytest.fixture
def media(settings, tmp_path):
    settings.DEBUG = False
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def campaign(marketer):
    return CampaignFactory(owner=marketer)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(marketer, campaign, *, name: str = "deck.pdf", content: bytes = PDF) -> Collateral:
    response = logged_in(marketer).post(
        f"/campaigns/{campaign.pk}/collateral/",
        {"title": "Spring deck", "file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Collateral.objects.get()


def download_url(item: Collateral) -> str:
    return f"/campaigns/collateral/{item.pk}/download/"


def test_a_rep_downloads_uploaded_collateral_with_debug_off(media, marketer, rep, campaign):
    item = upload(marketer, campaign)
    client = logged_in(rep)

    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f'href="{download_url(item)}"' in page and "/media/" not in page

    response = client.get(download_url(item))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="deck')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    # The stored file is not reachable by its storage path.
    assert client.get(f"/media/{item.file.name}").status_code == 404


def test_the_lead_page_links_its_collateral_to_the_download_view(media, marketer, rep, campaign):
    agreement_create_default()
    item = upload(marketer, campaign)
    lead = LeadFactory(campaign=campaign, owner=rep)
    page = logged_in(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert f'href="{download_url(item)}"' in page and "/media/" not in page


def test_only_signed_in_users_who_may_view_collateral_get_the_file(media, marketer, campaign):
    item = upload(marketer, campaign)
    response = Client().get(download_url(item))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    nobody = UserFactory(username="no-role")  # signed in, but no role: no view permission
    assert logged_in(nobody).get(download_url(item)).status_code == 403


def test_a_link_or_a_file_gone_from_storage_is_404_not_500(media, marketer, executive, campaign):
    link = Collateral.objects.create(title="Site", url="https://example.com/", campaign=campaign)
    assert logged_in(executive).get(download_url(link)).status_code == 404
    link.delete()
    item = upload(marketer, campaign)
    (media / item.file.name).unlink()
    response = logged_in(executive).get(download_url(item))
    assert response.status_code == 404


def test_removing_collateral_removes_its_file_from_storage(
    media, marketer, campaign, django_capture_on_commit_callbacks
):
    item = upload(marketer, campaign)
    assert (media / item.file.name).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(marketer).post(
            f"/campaigns/{campaign.pk}/collateral/delete/",
            {"collateral": item.pk, "confirmed": "yes"},
        )
    assert response.status_code == 302
    assert not Collateral.objects.exists() and not (media / item.file.name).exists()


def test_the_admin_links_to_the_download_view_and_checks_uploads(media, marketer, campaign):
    item = upload(marketer, campaign)
    admin = logged_in(UserFactory(username="root", is_superuser=True, is_staff=True))
    page = admin.get(f"/admin/campaigns/collateral/{item.pk}/change/").content.decode()
    assert f'href="{download_url(item)}"' in page and "/media/" not in page

    html = SimpleUploadedFile("deck.html", b"<html><script>alert(1)</script></html>")
    response = admin.post(
        "/admin/campaigns/collateral/add/",
        {"title": "Page", "file": html, "campaign": campaign.pk, "stage_key": ""},
    )
    assert response.status_code == 200
    assert "Upload a document, image or video" in response.content.decode()
    assert Collateral.objects.count() == 1


@pytest.fixture
def s3_media(media, settings, monkeypatch):
    """The default storage is an S3 bucket, as MEDIA_STORAGE=s3 configures it; moto plays
    S3 inside this process, so nothing leaves it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": BUCKET, "region_name": "us-east-1",
                            "default_acl": None, "file_overwrite": False},
            },
        }  # fmt: skip
        yield boto3.client("s3", region_name="us-east-1")


def test_collateral_in_an_s3_bucket_is_stored_and_downloaded_through_the_storage(
    s3_media, media, marketer, rep, campaign
):
    item = upload(marketer, campaign)
    keys = [o["Key"] for o in s3_media.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [item.file.name] and not list(media.rglob("*.pdf"))

    response = logged_in(rep).get(download_url(item))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")

    s3_media.delete_object(Bucket=BUCKET, Key=item.file.name)
    assert logged_in(rep).get(download_url(item)).status_code == 404


def _settings_with(**env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MEDIA_"))}
    script = (
        "from django.conf import settings; from django.core.files.storage import default_storage;"
        "print(settings.STORAGES['default']['BACKEND'], default_storage.bucket_name,"
        " default_storage.endpoint_url)"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env={**environ, **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_media_storage_s3_is_a_setting_and_a_wrong_one_fails_loudly():
    done = _settings_with(
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_ENDPOINT_URL="https://minio.example.com",
    )
    assert done.returncode == 0, done.stderr
    assert "storages.backends.s3.S3Storage accord-media https://minio.example.com" in done.stdout

    done = _settings_with(MEDIA_STORAGE="s3")
    assert done.returncode != 0 and "AWS_STORAGE_BUCKET_NAME is required" in done.stderr
    done = _settings_with(MEDIA_STORAGE="ftp")
    assert done.returncode != 0 and "MEDIA_STORAGE must be local or s3" in done.stderr
