"""Autovacuum for the tables the metrics read index-only (PostgreSQL; issue 21).

The dashboard and the scorecards read a period's leads, stage events, follow-ups and
deals from covering indexes (index-only scans). Such a scan skips the table only for
pages the visibility map marks all-visible, and every write clears a page's mark until a
vacuum sets it again. With PostgreSQL's defaults a table is vacuumed after 20 % of its
rows changed (and, for inserts, 20 % more rows): at 1M leads, 200,000 writes. The recent
rows a dashboard reads are the ones being written, so their pages stayed unmarked: at 1M
leads, 7,010 of a 28-day period's 41,769 leads were fetched from the table, and the
response-time median took 25 ms instead of 9 ms (a VACUUM gave it back). After 1 % of
the rows changed or were added (10,000 at 1M leads) a vacuum is cheap, as it visits only
the pages written since the last one; analyze follows at 2 %, so the planner knows the
newest days' rows. SQLite has no autovacuum of this kind: nothing to do there."""

from django.db import migrations

TABLES = ("leads_lead", "leads_stageevent", "leads_followup", "leads_deal")
SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_analyze_scale_factor": "0.02",
}


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        options = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET ({options})")


def reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")


class Migration(migrations.Migration):
    dependencies = [("leads", "0023_deal_first_win")]

    operations = [migrations.RunPython(tune, reset)]
