"""The search index's pending list: 32 MB instead of PostgreSQL's 4 MB (issue 21, imports).

A GIN index with `fastupdate` (the default) takes new entries into an unsorted pending
list and merges it into the index when the list outgrows `gin_pending_list_limit`; the
session whose insert crosses the limit does the merge. With the default 4 MB that is every
~20k new leads, and it made a 10k-lead COPY cost 0.6-1.0 s instead of 0.4 s (measured at
1M leads). A larger list is merged less often and in bigger, cheaper sorted runs, by
autovacuum or the importer at the end of a large run (leads.imports.importer), at the price of
a search scanning the list until then (a few ms per 10k waiting leads). SQLite has no GIN
index: nothing to do there. Instant: ALTER INDEX ... SET changes no data."""

from django.db import migrations

INDEX = "lead_search_idx"
PENDING_LIST_KB = 32 * 1024


def widen(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER INDEX {INDEX} SET (gin_pending_list_limit = {PENDING_LIST_KB})"
        )


def reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER INDEX {INDEX} RESET (gin_pending_list_limit)")


class Migration(migrations.Migration):
    dependencies = [("leads", "0019_deal_covering_indexes")]

    operations = [migrations.RunPython(widen, reset)]
