"""Accord's benchmark harness (`make bench`): PostgreSQL data sets and timed operations.

Run: `DATABASE_URL=postgres://... SCALE=small make bench` (SCALE=1m for a million
leads). See bench/README.md; add a benchmark with `@benchmark` in any bench module
listed in `bench.runner.MODULES`.
"""
