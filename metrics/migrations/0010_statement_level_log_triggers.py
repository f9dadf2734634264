from importlib import import_module

from django.db import migrations

# On PostgreSQL, leads and stage events written or deleted many at a time (an import's
# COPY, a merge, a purge) are logged for the rollups once per statement, from its
# transition table, instead of once per row: a row trigger ran a PL/pgSQL INSERT (and,
# for an event, a lookup of its lead's territory) for every row, about a quarter of what
# an imported lead cost the database (issue 21). The rows logged are the same: one
# 'lead_in'/'lead_out' row per lead, one 'added'/'removed' row per event, with the
# territory of the event's lead when the statement ends, as before. A changed event, and
# a lead whose counted columns change, stay logged by their row triggers (a trigger on
# chosen columns cannot have transition tables). SQLite has no statement triggers: its
# row triggers (0008, 0009) stay as they are.
_LEADS = import_module("metrics.migrations.0008_response_rollups")

_LEAD_COLUMNS = """(kind, lead_id, to_stage, occurred_at, source, territory_id, campaign_id,
                                         mql_at, first_follow_up_at)"""
_EVENT_COLUMNS = """(kind, lead_id, event_id, to_stage, occurred_at, source, reverts_id,
                                         territory_id, from_stage, actor_team)"""


def _lead_rows(kind: str, table: str) -> str:
    return f"""
        INSERT INTO metrics_rollupdirty {_LEAD_COLUMNS}
        SELECT '{kind}', t.id, '', t.created_at, t.source, t.territory_id, t.campaign_id,
               t.mql_at, t.first_follow_up_at
        FROM {table} AS t ORDER BY t.id;
"""


def _event_rows(kind: str, table: str) -> str:
    return f"""
        INSERT INTO metrics_rollupdirty {_EVENT_COLUMNS}
        SELECT '{kind}', t.lead_id, t.id, t.to_stage, t.occurred_at, t.source, t.reverts_id,
               lead.territory_id, t.from_stage, t.actor_team
        FROM {table} AS t LEFT JOIN leads_lead AS lead ON lead.id = t.lead_id ORDER BY t.id;
"""


def _function(name: str, body: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
    BEGIN {body}
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """


def _trigger(name: str, event: str, table: str, transition: str, function: str) -> str:
    return f"""
    CREATE TRIGGER {name} AFTER {event} ON {table}
    REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()
    """


PG = [
    _function("metrics_rollup_leads_in", _lead_rows("lead_in", "new_rows")),
    _function("metrics_rollup_leads_out", _lead_rows("lead_out", "old_rows")),
    _function("metrics_rollup_events_added", _event_rows("added", "new_rows")),
    _function("metrics_rollup_events_removed", _event_rows("removed", "old_rows")),
    "DROP TRIGGER metrics_rollup_lead_count ON leads_lead",
    _trigger(
        "metrics_rollup_leads_in",
        "INSERT",
        "leads_lead",
        "NEW TABLE AS new_rows",
        "metrics_rollup_leads_in",
    ),  # fmt: skip
    _trigger(
        "metrics_rollup_leads_out",
        "DELETE",
        "leads_lead",
        "OLD TABLE AS old_rows",
        "metrics_rollup_leads_out",
    ),  # fmt: skip
    "DROP TRIGGER metrics_rollup_event ON leads_stageevent",
    _trigger(
        "metrics_rollup_events_added",
        "INSERT",
        "leads_stageevent",
        "NEW TABLE AS new_rows",
        "metrics_rollup_events_added",
    ),  # fmt: skip
    _trigger(
        "metrics_rollup_events_removed",
        "DELETE",
        "leads_stageevent",
        "OLD TABLE AS old_rows",
        "metrics_rollup_events_removed",
    ),  # fmt: skip
    # A changed event: its row trigger, as before (0009's function handles UPDATE).
    """
    CREATE TRIGGER metrics_rollup_event AFTER UPDATE ON leads_stageevent
    FOR EACH ROW EXECUTE FUNCTION metrics_rollup_dirty_event()
    """,
]
PG_RESTORE = [
    "DROP TRIGGER metrics_rollup_leads_in ON leads_lead",
    "DROP TRIGGER metrics_rollup_leads_out ON leads_lead",
    "DROP TRIGGER metrics_rollup_events_added ON leads_stageevent",
    "DROP TRIGGER metrics_rollup_events_removed ON leads_stageevent",
    "DROP TRIGGER metrics_rollup_event ON leads_stageevent",
    "DROP FUNCTION metrics_rollup_leads_in()",
    "DROP FUNCTION metrics_rollup_leads_out()",
    "DROP FUNCTION metrics_rollup_events_added()",
    "DROP FUNCTION metrics_rollup_events_removed()",
    _LEADS.PG[1],  # the row trigger on inserted and deleted leads
    """
    CREATE TRIGGER metrics_rollup_event AFTER INSERT OR UPDATE OR DELETE
    ON leads_stageevent FOR EACH ROW EXECUTE FUNCTION metrics_rollup_dirty_event()
    """,
]


def triggers_replace(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG:
            schema_editor.execute(statement)


def triggers_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_RESTORE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0009_mql_decision_rollups"),
    ]

    operations = [
        migrations.RunPython(triggers_replace, triggers_restore),
    ]
