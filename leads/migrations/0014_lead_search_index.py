"""The search indexes (PostgreSQL only): GIN indexes on the leads' search document that
alignment.search.selectors.lead_search_vector() builds and on deal names, so the
header's search stays fast at a million leads. SQLite has no GIN: there the search reads the fields, and this
migration does nothing."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Replace

INDEX = GinIndex(
    SearchVector(
        "first_name",
        "last_name",
        Replace("email", Value("@"), Value(" ")),
        "company",
        "phone",
        config="simple",
    ),
    name="lead_search_idx",
)
DEAL_INDEX = GinIndex(SearchVector("name", config="simple"), name="deal_search_idx")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("leads", "Lead"), INDEX)
        schema_editor.add_index(apps.get_model("leads", "Deal"), DEAL_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("leads", "Deal"), DEAL_INDEX)
        schema_editor.remove_index(apps.get_model("leads", "Lead"), INDEX)


class Migration(migrations.Migration):
    dependencies = [("leads", "0013_assignments_saved_views")]

    operations = [migrations.RunPython(create, drop)]
