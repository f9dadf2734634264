"""What the leads app's migrations share (a module the migration loader skips: its name
starts with an underscore). Frozen like a migration: change it only by adding."""

from django.db import migrations


def own_index_dropped(
    index: str, alter: migrations.AlterField
) -> migrations.SeparateDatabaseAndState:
    """A foreign key's `db_index` turned off by dropping its index by name: no table
    remade on SQLite (the lead table's triggers would go with it)."""
    table, column = f"leads_{alter.model_name}", f"{alter.name}_id"
    return migrations.SeparateDatabaseAndState(
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            )
        ],
        state_operations=[alter],
    )
