"""Fewer index entries per imported lead (issue 21, as 0025). The rep queue's index holds
a lead once it has an owner (the unassigned open leads are in lead_open_queue_idx), the
agenda's once it has a next follow-up; an imported lead's record loses its run's own
index, which imported_lead_once_per_run leads with."""

import django.db.models.deletion
from django.db import migrations, models

from leads.migrations._indexes import own_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0025_partial_indexes"),
    ]

    operations = [
        own_index_dropped(
            "leads_importedlead_run_id_e1e632a2",
            migrations.AlterField(
                model_name="importedlead",
                name="run",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="leads",
                    to="leads.leadimport",
                    verbose_name="import",
                ),
            ),
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_queue_idx",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_agenda_idx",
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("owner__isnull", False)),
                fields=["owner", "sla_due_at", "id"],
                name="lead_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("next_follow_up_at__isnull", False)),
                fields=["owner", "next_follow_up_at"],
                name="lead_agenda_idx",
            ),
        ),
    ]
