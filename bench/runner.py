"""Run the registered benchmarks; print a table; write JSON to bench-results/.

Environment: DATABASE_URL (PostgreSQL, required: the figures are about PostgreSQL),
SCALE (small | 100k | 1m, default small), BENCH (comma-separated names, default all),
BENCH_RESULTS (output folder, default bench-results), BENCH_REUSE=1 (measure the data set
already in the database instead of building one).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

# Modules whose @benchmark functions run; add yours here.
MODULES = [
    "bench.rescoring",
    "bench.sales",
    "bench.search",
    "bench.web",
    "bench.replicas",
    "bench.importing",
    "bench.scorecards",
]


def _refuse_without_postgres() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.stderr.write(
            "make bench needs a PostgreSQL database it may fill (it TRUNCATEs the lead tables):\n"
            "  DATABASE_URL=postgres://accord@127.0.0.1:5433/accord_bench SCALE=small make bench\n"
            "SCALE=small (10k leads, default), 100k, or 1m (one million leads).\n"
        )
        raise SystemExit(2)


def benchmarks_run(*, dataset, wanted: list[str]) -> list:
    """Every default benchmark (or those named in `wanted`) in order; their measurements."""
    from bench.registry import BENCHMARKS

    for module in MODULES:
        importlib.import_module(module)
    measurements = []
    for bench in sorted(BENCHMARKS.values(), key=lambda b: (b.order, b.name)):
        if (wanted and bench.name not in wanted) or (not wanted and not bench.default):
            continue
        started = time.perf_counter()
        done = bench.func(dataset)
        measurements += done
        print(f"  {bench.name} done in {time.perf_counter() - started:.1f} s", flush=True)
        for m in done:  # as they come, so a run stopped early still shows its figures
            print(f"    {m.name}: {m.seconds:.3f} s; {m.notes}", flush=True)
    return measurements


def table_print(measurements: list) -> None:
    """One line per figure: name, seconds (p95 for request figures), rows, notes."""
    width = max([len(m.name) for m in measurements] + [9])
    print()
    print(f"{'benchmark':<{width}}  {'seconds':>9}  {'rows':>10}  notes")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 10}  -----")
    for m in measurements:
        rows = f"{m.rows:,}" if m.rows is not None else ""
        print(f"{m.name:<{width}}  {m.seconds:>9.3f}  {rows:>10}  {m.notes}")
    print("(seconds: p95 for request figures, wall time otherwise)")


def main() -> int:
    _refuse_without_postgres()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from bench.dataset import dataset_build, dataset_reuse
    from bench.registry import BENCHMARKS

    for module in MODULES:
        importlib.import_module(module)
    scale = os.environ.get("SCALE", "small") or "small"
    wanted = [n for n in os.environ.get("BENCH", "").split(",") if n]
    unknown = set(wanted) - BENCHMARKS.keys()
    if unknown:
        raise SystemExit(f"Unknown BENCH names: {sorted(unknown)}; known: {sorted(BENCHMARKS)}")

    call_command("migrate", verbosity=0, interactive=False)
    if os.environ.get("BENCH_REUSE"):  # re-measure on the data set already there
        dataset = dataset_reuse(scale=scale)
    else:
        print(f"Building the {scale} data set ...", flush=True)
        dataset = dataset_build(scale=scale)
    print(
        f"{dataset.leads:,} leads, {dataset.touches:,} touches, {dataset.stage_events:,} stage "
        f"events, {dataset.follow_ups:,} follow-ups, {dataset.deals:,} deals in "
        f"{dataset.build_seconds:.1f} s (PostgreSQL {dataset.server_version})",
        flush=True,
    )
    built = dict(dataset.counts)
    load_before = os.getloadavg()
    run_started = time.perf_counter()
    measurements = benchmarks_run(dataset=dataset, wanted=wanted)

    table_print(measurements)

    out_dir = Path(os.environ.get("BENCH_RESULTS", "bench-results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{stamp}-{scale}.json"
    path.write_text(
        json.dumps(
            {
                "scale": scale,
                "leads": built.get("leads", dataset.leads),
                "touches": built.get("touches", dataset.touches),
                "dataset": built,
                "build_seconds": dataset.build_seconds,
                "measure_seconds": time.perf_counter() - run_started,
                "postgresql": dataset.server_version,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "gunicorn_workers": 2 * (os.cpu_count() or 1) + 1,
                # Other processes' load: the machine may be shared (1-minute averages).
                "load_average_before": load_before[0],
                "load_average_after": os.getloadavg()[0],
                "finished_at": stamp,
                "results": [asdict(m) for m in measurements],
            },
            indent=2,
        )
    )
    print(f"\nWrote {path}")
    return 0
