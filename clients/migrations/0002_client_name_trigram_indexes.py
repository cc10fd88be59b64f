"""Trigram indexes for the admin's name search, on PostgreSQL only.

Django's ``icontains`` compiles to ``UPPER(col::text) LIKE UPPER('%term%')``, which no
B-tree index serves: every name search read the whole client table. A GIN trigram index
on that exact expression does. SQLite has no GIN indexes, so there this does nothing.
"""

from django.db import migrations

COLUMNS = ("first_name", "last_name")


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS client_{column}_trgm ON clients_client "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS client_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("clients", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
