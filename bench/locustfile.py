"""Locust users of the request benchmarks (bench/web.py runs one class at a time, headless).

Reconstructed: the first version of this file was overwritten by mistake before it was
committed (see the reliability engineer's report); bench/web.py defines what it needs.
BENCH_TOKEN is an API token; BENCH_DEEP_CURSOR a cursor 90 % of the way through the list.
"""

from __future__ import annotations

import os
import uuid

from locust import FastHttpUser, constant, task

TOKEN = os.environ.get("BENCH_TOKEN", "")
DEEP_CURSOR = os.environ.get("BENCH_DEEP_CURSOR", "")


class _Api(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {TOKEN}", "Accept": "application/json"}


class LeadListFirstPage(_Api):
    @task
    def first_page(self) -> None:
        self.client.get("/api/v1/leads/", headers=self.headers(), name="leads page 1")


class LeadListDeepPage(_Api):
    @task
    def deep_page(self) -> None:
        self.client.get(
            f"/api/v1/leads/?cursor={DEEP_CURSOR}", headers=self.headers(), name="leads deep page"
        )


class LeadCreate(_Api):
    @task
    def create(self) -> None:
        key = uuid.uuid4().hex
        self.client.post(
            "/api/v1/leads/",
            json={"email": f"bench-{key}@example.com", "company": "Bench Co"},
            headers={**self.headers(), "Idempotency-Key": key},
            name="lead create",
        )


class Ceiling(_Api):
    """The machine's ceiling: the lightest request through the same gunicorn and
    middleware (the health check: one SELECT 1), beside which the API's figures read."""

    @task
    def health(self) -> None:
        self.client.get("/healthz", name="healthz")
