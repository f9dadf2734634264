"""Leave room in each page of the lead table so rescoring all leads is a HOT update.

Rescoring rewrites score, score_breakdown and scored_at of every lead; none of them is
indexed, so PostgreSQL can update rows in place (heap-only tuples, no index writes)
when the page has room for the new version. With fillfactor 50 it has: a million-lead
rescore then takes a fraction of the time (see docs/performance.md). Existing pages
get the room after `VACUUM FULL leads_lead`. SQLite has no such setting: no-op there.
"""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE leads_lead SET (fillfactor = 50)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE leads_lead RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("alignment", "0002_initial"),
        ("leads", "0001_initial"),
    ]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
