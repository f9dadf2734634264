"""Request benchmarks: the lead list API and lead creation under load, the main pages.

The API runs in gunicorn (2 × cores + 1 sync workers, persistent database connections,
rate limits off) against the bench database, loaded by locust in headless mode. The
pages (rep queue, lead page, dashboard) are timed in-process through Django's test
client, N sequential requests each; every figure comes with its SQL query count.
"""

from __future__ import annotations

import base64
import csv
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from bench.dataset import Dataset, bench_user, worker_catch_up
from bench.registry import Measurement, benchmark

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Seconds of load per locust run, and sequential requests per page, by scale.
LOAD_SECONDS = {"tiny": 2, "small": 10, "100k": 30, "1m": 30}
PAGE_REQUESTS = {"tiny": 3, "small": 20, "100k": 30, "1m": 30}
PAGE_BUDGET = 60.0  # seconds per page; at least MIN_REQUESTS are timed whatever it takes
MIN_REQUESTS = 5
LIST_CLIENTS = 20
CREATE_CLIENTS = 10
PAGE_SIZES = (10, 100, 500)
DEEP_FRACTION = 0.9  # the deep page starts 90 % of the way through the list


def workers() -> int:
    return 2 * (os.cpu_count() or 1) + 1


def bench_env(var_dir: str) -> dict[str, str]:
    """Environment of the processes the bench starts: production-like, no rate limits.

    The same database; its own var/ folder (cache, file broker), so tasks enqueued by
    the bench never reach another checkout's worker.
    """
    env = dict(os.environ)
    env.update(
        # The database this process is connected to (under pytest: the test database).
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=env.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(48),
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        API_THROTTLE_ENABLED="false",
        DB_CONN_MAX_AGE="600",
        ACCORD_VAR_DIR=var_dir,
    )
    return env


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}{port}/{quote(db['NAME'])}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def bench_server(var_dir: str) -> Iterator[str]:
    """gunicorn on a free port for the duration of the block; yields its base URL."""
    port = _free_port()
    log = open(Path(var_dir) / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "--workers", str(workers()), "--bind",
         f"127.0.0.1:{port}", "--preload", "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=bench_env(var_dir), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(
                        "gunicorn did not start: "
                        + (Path(var_dir) / "gunicorn.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.3)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _token() -> str:
    from rest_framework.authtoken.models import Token

    from alignment.accounts.roles import Role

    token, _created = Token.objects.get_or_create(user=bench_user(Role.MARKETING_MANAGER))
    return token.key


def deep_cursor() -> str:
    """The `cursor` of the page DEEP_FRACTION into the list (ordered by -id)."""
    from leads.models import Lead

    top = Lead.objects.order_by("-id").values_list("id", flat=True).first() or 1
    position = max(1, int(top * (1 - DEEP_FRACTION)))
    return base64.b64encode(urlencode({"p": str(position)}).encode("ascii")).decode("ascii")


def _warm(base: str, path: str, token: str, n: int) -> None:
    for _ in range(n):
        request = urllib.request.Request(base + path, headers={"Authorization": f"Token {token}"})
        urllib.request.urlopen(request, timeout=60).read()


def _locust(
    *, base: str, user_class: str, clients: int, seconds: int, env: dict, out: Path
) -> dict[str, float]:
    """Run one user class headless; the aggregated p50/p95 (ms), requests/s, failures."""
    prefix = out / user_class
    subprocess.run(
        [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
         "-u", str(clients), "-r", str(clients), "-t", f"{seconds}s", "-H", base,
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", user_class],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(out / "locust.log", "a"),  # noqa: SIM115
        check=False,
    )  # fmt: skip
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    row = rows["Aggregated"]
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "rps": float(row["Requests/s"]),
    }


def _load_measurement(name: str, figures: dict, clients: int, goal: str) -> Measurement:
    return Measurement(
        name=name,
        seconds=figures["p95_ms"] / 1000,
        rows=figures["requests"],
        notes=(
            f"{clients} clients: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
            f"{figures['rps']:.0f} req/s, {figures['failures']} failed"
        ),
        extra={**figures, "clients": clients, "goal": goal},
    )


@benchmark("api_load", order=40)
def api_load(dataset: Dataset) -> list[Measurement]:
    """Lead list API page 1 and a deep cursor page (20 clients), lead creation (10 clients)."""
    token = _token()
    cursor = deep_cursor()
    seconds = LOAD_SECONDS.get(dataset.scale, 30)
    results = []
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as var_dir:
        out = Path(var_dir)
        env = {**bench_env(var_dir), "BENCH_TOKEN": token, "BENCH_DEEP_CURSOR": cursor}
        with bench_server(var_dir) as base:
            _warm(base, "/api/v1/leads/", token, 3 * workers())
            _warm(base, f"/api/v1/leads/?cursor={cursor}", token, 3 * workers())
            page1 = _locust(base=base, user_class="LeadListFirstPage", clients=LIST_CLIENTS,
                            seconds=seconds, env=env, out=out)  # fmt: skip
            deep = _locust(base=base, user_class="LeadListDeepPage", clients=LIST_CLIENTS,
                           seconds=seconds, env=env, out=out)  # fmt: skip
            create = _locust(base=base, user_class="LeadCreate", clients=CREATE_CLIENTS,
                             seconds=seconds, env=env, out=out)  # fmt: skip
            ceiling = _locust(base=base, user_class="Ceiling", clients=LIST_CLIENTS,
                              seconds=seconds, env=env, out=out)  # fmt: skip
    results.append(
        _load_measurement("lead list API page 1", page1, LIST_CLIENTS, "p95 < 100 ms, >= 300/s")
    )
    ratio = deep["p95_ms"] / page1["p95_ms"] if page1["p95_ms"] else None
    deep_m = _load_measurement(
        "lead list API deep page", deep, LIST_CLIENTS, "p95 within 1.2x page 1"
    )
    deep_m.notes += f"; p95 {ratio:.2f}x page 1" if ratio else ""
    deep_m.extra["ratio_to_page_1"] = ratio
    results.append(deep_m)
    results.append(_load_measurement("lead create API", create, CREATE_CLIENTS, ">= 300/s"))
    top = _load_measurement(
        "machine ceiling (/healthz)", ceiling, LIST_CLIENTS, "the most this machine serves"
    )
    shares = {
        name: figures["rps"] / ceiling["rps"] if ceiling["rps"] else None
        for name, figures in (("list", page1), ("create", create))
    }
    top.notes += "; " + ", ".join(
        f"{name} at {share:.0%} of it" for name, share in shares.items() if share is not None
    )
    top.extra["share_of_ceiling"] = shares
    results.append(top)
    return results


def _api_client(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json")


def _count(client: Client, method: str, path: str, **kwargs) -> tuple[int, int]:
    """The request's queries on every database (the primary and any replica) and its status."""
    aliases = [DEFAULT_DB_ALIAS]
    if settings.DATABASE_REPLICA_READS:
        aliases += settings.DATABASE_REPLICAS
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias]))
                    for alias in aliases]  # fmt: skip
        response = getattr(client, method)(path, **kwargs)
    return sum(len(c.captured_queries) for c in captured), response.status_code


@benchmark("api_queries", order=41)
def api_queries(dataset: Dataset) -> list[Measurement]:
    """SQL queries per lead list request (page 1, deep page; page_size 10/100/500), create."""
    token = _token()
    cursor = deep_cursor()
    client = _api_client(token)
    counts = {}
    with override_settings(API_THROTTLE_ENABLED=False, ALLOWED_HOSTS=["*"]):
        for size in PAGE_SIZES:
            counts[f"page 1, {size}"] = _count(client, "get", f"/api/v1/leads/?page_size={size}")
            counts[f"deep, {size}"] = _count(
                client, "get", f"/api/v1/leads/?page_size={size}&cursor={cursor}"
            )
        for _warm in range(2):  # the second: with the agreement and token cached
            counts["create"] = _count(
                client,
                "post",
                "/api/v1/leads/",
                data={"email": f"count-{secrets.token_hex(6)}@bench.accord.test", "country": "PL"},
                content_type="application/json",
            )
    bad = {k: status for k, (_n, status) in counts.items() if status >= 400}
    most = max(n for k, (n, _s) in counts.items() if k != "create")
    notes = ", ".join(f"{k}: {n}" for k, (n, _s) in counts.items())
    return [
        Measurement(
            name="lead list API queries/request",
            seconds=0.0,
            rows=most,
            notes=notes + (f"; HTTP errors: {bad}" if bad else ""),
            extra={
                "queries": {k: n for k, (n, _s) in counts.items()},
                "max": most,
                "goal": "<= 5 whatever the page size; a create <= 8",
            },
        )
    ]


def _percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _page(name: str, client: Client, paths: list[str], n: int, goal: str = "") -> Measurement:
    """n sequential GETs cycling through `paths` (after one warm-up each)."""
    with override_settings(ALLOWED_HOSTS=["*"]):
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
        queries, _status = _count(client, "get", paths[0])
        times: list[float] = []
        begun = time.perf_counter()
        while len(times) < n and (
            len(times) < MIN_REQUESTS or time.perf_counter() - begun < PAGE_BUDGET
        ):
            started = time.perf_counter()
            client.get(paths[len(times) % len(paths)])
            times.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentile(times, 50), _percentile(times, 95)
    return Measurement(
        name=name,
        seconds=p95 / 1000,
        rows=len(times),
        notes=f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, {queries} queries (sequential, in-process)",
        extra={"p50_ms": p50, "p95_ms": p95, "queries": queries, "goal": goal},
    )


@benchmark("pages", order=50)
def pages(dataset: Dataset) -> list[Measurement]:
    """The rep queue page, a lead page and the dashboard: p50/p95 and query counts."""
    from alignment.accounts.roles import Role
    from leads.models import Lead

    n = PAGE_REQUESTS.get(dataset.scale, 30)
    rep = bench_user_rep()
    client = Client()
    client.force_login(rep)
    results = [_page("rep queue page", client, ["/leads/queue/"], n, "p95 < 150 ms")]
    lead_ids = list(
        Lead.objects.filter(owner=rep, stage__in=["won", "opportunity", "sql"])
        .order_by("-id")
        .values_list("id", flat=True)[:10]
    )
    results.append(_page("lead page", client, [f"/leads/{pk}/" for pk in lead_ids], n))
    executive = Client()
    executive.force_login(bench_user(Role.EXECUTIVE))
    worker_catch_up()  # the rollups as the worker keeps them (every 10 s)
    results.append(_page("dashboard", executive, ["/metrics/"], n, "p95 < 200 ms"))
    return results


def bench_user_rep():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="bench-rep-0")
