"""A mixed load of reads and writes on the API and the pages, for `locust` (headless in CI).

    locust -f bench/locustfile_mixed.py --headless -u 20 -r 10 -t 60s --host http://127.0.0.1:8000

Needs the demo data (`manage.py seed_demo`; password accord-demo) and rate limits off
(API_THROTTLE_ENABLED=false) so the run measures the app, not the throttle. Each
simulated person logs in twice, once for a token (API) and once for a session (pages),
unless LOAD_AUTH gives them ({"<username>": {"token": ..., "session": ...}}).
Any non-2xx answer is a failure; tests/reliability/test_load.py requires none.
"""

from __future__ import annotations

import json
import os
import random
import re
import uuid

from locust import HttpUser, between, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "accord-demo")
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class _Person(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)
    username = ""

    def on_start(self) -> None:
        given = json.loads(os.environ.get("LOAD_AUTH") or "{}").get(self.username)
        if given:  # credentials made beforehand: no password hashing inside the measured run
            self.api = {"Authorization": f"Token {given['token']}"}
            self.session_cookies = {"sessionid": given["session"]}
        else:
            self._log_in()
        leads = self.client.get(
            "/api/v1/leads/?page_size=100", headers=self.api, name="GET /api/v1/leads/"
        ).json()["results"]
        self.lead_ids = [lead["id"] for lead in leads] or [0]

    def _log_in(self) -> None:
        token = self.client.post(
            "/api/v1/auth/token/",
            json={"username": self.username, "password": PASSWORD},
            name="POST /api/v1/auth/token/",
        ).json()["token"]
        self.api = {"Authorization": f"Token {token}"}
        page = self.client.get("/login/", name="GET /login/")
        csrf = _CSRF.search(page.text).group(1)
        with self.client.post(
            "/login/",
            data={"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{self.host}/login/"},
            allow_redirects=False,
            name="POST /login/",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login answered {response.status_code}")
        # The API client must not send the session (and so need no CSRF token).
        self.session_cookies = {"sessionid": self.client.cookies.get("sessionid", "")}
        self.client.cookies.clear()

    def page(self, path: str, name: str) -> None:
        self.client.get(path, cookies=self.session_cookies, name=name)
        self.client.cookies.clear()  # API calls stay token-only

    @task(4)
    def api_lead_list(self) -> None:
        self.client.get("/api/v1/leads/?page_size=50", headers=self.api, name="GET /api/v1/leads/")

    @task(4)
    def api_lead_detail(self) -> None:
        lead = random.choice(self.lead_ids)
        self.client.get(f"/api/v1/leads/{lead}/", headers=self.api, name="GET /api/v1/leads/{id}/")

    @task(2)
    def page_lead(self) -> None:
        lead = random.choice(self.lead_ids)
        self.page(f"/leads/{lead}/", "GET /leads/{id}/ (page)")

    @task(1)
    def page_dashboard(self) -> None:
        self.page("/metrics/", "GET /metrics/ (page)")


class Marketer(_Person):
    """Reads, creates leads (each create twice with one Idempotency-Key: one lead)."""

    username = "marketer"

    @task(2)
    def api_lead_create(self) -> None:
        key = uuid.uuid4().hex
        body = {"email": f"load-{key}@example.com", "company": "Load Co", "country": "PL"}
        headers = {**self.api, "Idempotency-Key": key}
        first = self.client.post(
            "/api/v1/leads/", json=body, headers=headers, name="POST /api/v1/leads/"
        )
        replay = self.client.post(
            "/api/v1/leads/", json=body, headers=headers, name="POST /api/v1/leads/ (replay)"
        )
        if first.ok and replay.ok and first.json()["id"] != replay.json()["id"]:
            replay.failure("the replay created a second lead")


class SalesManager(_Person):
    """Reads, works the queue and logs follow-ups."""

    username = "salesmgr"

    @task(2)
    def page_queue(self) -> None:
        self.page("/leads/queue/", "GET /leads/queue/ (page)")

    @task(2)
    def api_follow_up(self) -> None:
        lead = random.choice(self.lead_ids)
        self.client.post(
            f"/api/v1/leads/{lead}/follow-ups/",
            json={"kind": "call", "outcome": "connected", "notes": "load test"},
            headers={**self.api, "Idempotency-Key": uuid.uuid4().hex},
            name="POST /api/v1/leads/{id}/follow-ups/",
        )


class Rep(_Person):
    """A rep's day: the queue, leads and the dashboard."""

    username = "rep"

    @task(3)
    def page_queue(self) -> None:
        self.page("/leads/queue/", "GET /leads/queue/ (page)")
