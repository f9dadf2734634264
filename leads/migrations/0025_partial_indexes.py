"""Fewer index entries per new lead and stage event (issue 21: the import's COPY).

A foreign key's own index goes where a composite index already leads with its column
(owner: lead_queue_idx; campaign: lead_campaign_idx; a stage event's lead:
stage_event_lead_idx). The indexes on a moment or a link that most new rows do not have
yet (MQL, assignment, win, SLA due, qualifying version, creator; a move's actor and
version) become partial: a row enters them when it gets the value, and a range or an
equality on the column implies it is set, so the queries read them as before.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from leads.migrations._indexes import own_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("alignment", "0012_handoffs"),
        ("campaigns", "0004_spend_corrections"),
        ("leads", "0024_autovacuum_for_reads"),
        ("metrics", "0010_statement_level_log_triggers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_won_at_idx",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_sla_due_idx",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_mql_at_idx",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_assigned_at_idx",
        ),
        own_index_dropped(
            "leads_lead_campaign_id_5dd7a82a",
            migrations.AlterField(
                model_name="lead",
                name="campaign",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="first_touch_leads",
                    to="campaigns.campaign",
                    verbose_name="first-touch campaign",
                ),
            ),
        ),
        own_index_dropped(
            "leads_lead_created_by_id_bd2e8097",
            migrations.AlterField(
                model_name="lead",
                name="created_by",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                    verbose_name="created by",
                ),
            ),
        ),
        own_index_dropped(
            "leads_lead_owner_id_1f4568d0",
            migrations.AlterField(
                model_name="lead",
                name="owner",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="owned_leads",
                    to=settings.AUTH_USER_MODEL,
                    verbose_name="owner",
                ),
            ),
        ),
        own_index_dropped(
            "leads_lead_qualified_under_id_80372c2b",
            migrations.AlterField(
                model_name="lead",
                name="qualified_under",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="qualified_leads",
                    to="alignment.agreement",
                    verbose_name="qualified under agreement",
                ),
            ),
        ),
        own_index_dropped(
            "leads_stageevent_actor_id_9fd273b7",
            migrations.AlterField(
                model_name="stageevent",
                name="actor",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                    verbose_name="actor",
                ),
            ),
        ),
        own_index_dropped(
            "leads_stageevent_agreement_id_26e39fcf",
            migrations.AlterField(
                model_name="stageevent",
                name="agreement",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="alignment.agreement",
                    verbose_name="agreement",
                ),
            ),
        ),
        own_index_dropped(
            "leads_stageevent_lead_id_22207c35",
            migrations.AlterField(
                model_name="stageevent",
                name="lead",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="stage_events",
                    to="leads.lead",
                    verbose_name="lead",
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("mql_at__isnull", False)),
                fields=["mql_at"],
                include=("id", "first_follow_up_at", "territory", "campaign", "source"),
                name="lead_mql_at_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("assigned_at__isnull", False)),
                fields=["assigned_at"],
                include=("id", "first_follow_up_at", "territory", "campaign", "source"),
                name="lead_assigned_at_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("won_at__isnull", False)),
                fields=["won_at"],
                name="lead_won_at_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("sla_due_at__isnull", False)),
                fields=["sla_due_at"],
                name="lead_sla_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("qualified_under__isnull", False)),
                fields=["qualified_under"],
                name="lead_qualified_under_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("created_by__isnull", False)),
                fields=["created_by"],
                name="lead_created_by_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="stageevent",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)),
                fields=["actor"],
                name="stage_event_actor_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="stageevent",
            index=models.Index(
                condition=models.Q(("agreement__isnull", False)),
                fields=["agreement"],
                name="stage_event_agreement_idx",
            ),
        ),
    ]
