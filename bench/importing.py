"""CSV import: `manage.py import_leads` in a subprocess, its rows/s and its peak memory.

Two files, one ten times the other: if the importer streams, the peak memory (max RSS
of the process, from wait4) stays the same as the file grows.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.dataset import Dataset
from bench.registry import Measurement, benchmark
from bench.web import ROOT, bench_env

IMPORT_ROWS = {"tiny": 500, "small": 10_000, "100k": 100_000, "1m": 100_000}


def _write_csv(path: Path, *, rows: int, tag: str) -> None:
    countries = ["PL", "DE", "FR", "US", "GB", "ES"]
    titles = ["Head of Sales", "Engineer", "Marketing Director", "Analyst"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "first_name", "last_name", "company", "title", "phone",
                         "country", "industry", "company_size", "source"])  # fmt: skip
        for i in range(rows):
            writer.writerow([
                f"import-{tag}-{i}@bench.accord.test", f"First{i}", f"Last{i}",
                f"Imported {i % 5000}", titles[i % 4], f"+48 700 {i:06d}",
                countries[i % 6], "Software", 10 + i % 900, "event",
            ])  # fmt: skip


def import_run(*, path: Path, var_dir: str) -> tuple[float, int, str]:
    """Run the import command; its wall seconds, peak RSS in bytes and last output line."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "import_leads", str(path), "--no-progress"],
        cwd=ROOT, env=bench_env(var_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in other children).
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"import_leads failed: {stderr.decode()[-2000:]}")
    lines = stdout.decode().strip().splitlines()
    return seconds, usage.ru_maxrss * 1024, lines[-1] if lines else ""


def _worker_merge() -> float:
    """The search index's merge that a run of 1,000 leads or more hands to the worker
    (leads.tasks.settle_search_index), done here as the worker would, timed apart: the
    bench starts no worker, and a merge left undone would land on the next writer."""
    from leads.tasks import settle_search_index

    started = time.perf_counter()
    settle_search_index()
    return time.perf_counter() - started


@benchmark("csv_import", order=80)
def csv_import(dataset: Dataset) -> list[Measurement]:
    """Import N new leads from CSV (and N/10 first, for the memory comparison)."""
    big = IMPORT_ROWS.get(dataset.scale, 100_000)
    results = []
    with tempfile.TemporaryDirectory(prefix="accord-import-") as var_dir:
        peaks = {}
        for rows in (big // 10, big):
            path = Path(var_dir) / f"leads-{rows}.csv"
            _write_csv(path, rows=rows, tag=f"{rows}-{int(time.time())}")
            seconds, peak, summary = import_run(path=path, var_dir=var_dir)
            peaks[rows] = peak
            merge = _worker_merge()
            results.append(
                Measurement(
                    name=f"CSV import {rows:,} rows",
                    seconds=seconds,
                    rows=rows,
                    notes=f"{rows / seconds:,.0f} rows/s, peak RSS {peak / 2**20:.0f} MiB; "
                    f"then the worker's merge of the search index {merge:.2f} s "
                    f"({rows / (seconds + merge):,.0f} rows/s with it); {summary}",
                    extra={
                        "rows_per_second": rows / seconds,
                        "worker_merge_seconds": merge,
                        "rows_per_second_with_merge": rows / (seconds + merge),
                        "peak_rss_bytes": peak,
                        "goal": ">= 10k rows/s, memory flat < 300 MB",
                    },
                )
            )
        growth = peaks[big] / peaks[big // 10]
        results[-1].notes += f"; peak {growth:.2f}x the {big // 10:,}-row run"
        results[-1].extra["peak_growth"] = growth
    ceiling = copy_ceiling(rows=big // 10)
    import_rate = results[-1].extra["rows_per_second"]
    ceiling.notes += f"; the import is {import_rate / ceiling.extra['rows_per_second']:.0%} of it"
    ceiling.extra["import_share"] = import_rate / ceiling.extra["rows_per_second"]
    results.append(ceiling)
    return results


def copy_ceiling(*, rows: int) -> Measurement:
    """The database's part alone: the same new leads (with the columns an import fills) and
    their inquiry events written with COPY in 1,000-row transactions, nothing read, parsed,
    checked or matched. No import can be faster on this machine and schema (indexes,
    change-log triggers, foreign keys checked at commit)."""
    from django.db import transaction
    from django.utils import timezone

    from config.bulk import rows_insert
    from leads.models import Lead, StageEvent

    tag = f"ceiling-{int(time.time())}"
    now = timezone.now()
    started = time.perf_counter()
    for start in range(0, rows, 1000):
        leads = [
            {"email": f"{tag}-{i}@bench.accord.test", "first_name": f"First{i}",
             "last_name": f"Last{i}", "company": f"Imported {i % 5000}", "title": "Engineer",
             "phone": f"+48 700 {i:06d}", "country": "PL", "industry": "Software",
             "company_size": 10 + i % 900, "source": "event", "created_at": now,
             "inquiry_at": now, "stage_entered_at": now}
            for i in range(start, min(start + 1000, rows))
        ]  # fmt: skip
        with transaction.atomic():
            ids = rows_insert(Lead, leads, with_ids=True)
            rows_insert(StageEvent, [{"lead_id": pk, "to_stage": "inquiry", "occurred_at": now,
                                      "source": "import"} for pk in ids])  # fmt: skip
    seconds = time.perf_counter() - started
    return Measurement(
        name="CSV import ceiling (COPY alone)",
        seconds=seconds,
        rows=rows,
        notes=f"{rows / seconds:,.0f} rows/s: the leads and their inquiry events written with "
        "COPY, nothing parsed, checked or matched",
        extra={"rows_per_second": rows / seconds},
    )
