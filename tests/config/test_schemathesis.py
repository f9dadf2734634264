"""Schemathesis against the running app's /api/schema/ (all default checks, a token).

Selected with `-m schemathesis`; part of `make test`. Acceptance: no server error and
no response that violates the schema (body, status code, content type, headers).
Findings of the other default checks (e.g. data a validator rejects that the schema
allows) are printed and written to test-artifacts/schemathesis.json for follow-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from config.demo import demo_seed
from tests.conftest import need

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Server errors and schema violations: these must not happen.
FORBIDDEN = {
    "ST101": "server error",
    "ST103": "undocumented status code",
    "ST104": "undocumented response header / missing documented header",
    "ST105": "undocumented content type",
    "ST108": "response violates schema",
}
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5")


def test_the_api_has_no_server_errors_and_no_schema_violations(live_server, tmp_path):
    need(SCHEMATHESIS.exists(), "schemathesis is not installed (pip install -e '.[dev]')")
    demo_seed(lead_count=30, scorecard_weeks=1)
    admin = get_user_model().objects.get(username="admin")
    token = Token.objects.create(user=admin).key
    report = tmp_path / "schemathesis.json"
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {token}",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        "20261123",
        # Two: the fuzzer generates while the server answers (about 2 minutes on 2 cores).
        "--workers",
        "2",
        "--no-shrink",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "schemathesis.json").write_text(json.dumps(result, indent=2))
    (ARTIFACTS / "schemathesis.txt").write_text(run.stdout)

    found = {f["code"]: f for f in result["failures"]}
    for code, failure in sorted(found.items()):
        print(f"{code} {failure['title']} ×{failure['count']}: {', '.join(failure['operations'])}")
    assert result["operations"]["tested"] > 30
    bad = {code: found[code]["operations"] for code in FORBIDDEN if code in found}
    assert not bad, (
        "\n".join(f"{code} {FORBIDDEN[code]}: {', '.join(ops)}" for code, ops in bad.items())
        + "\n\n"
        + run.stdout[-20000:]
    )
