"""Repair moments stored at the very end of the calendar (9999-12-31 from an import or a
follow-up before config.dates bounded every entry path).

Shown in any time zone east of UTC such a moment overflows Python's datetime, so the lead
page answered 500 for everyone there. No path can store one any more; this repairs what
was stored: an optional moment (a plan, a deadline, a last activity) is cleared, a
required one becomes the moment its row was written (`created_at`), the best evidence of
when it happened. Only values after 9999-12-30 are touched.
"""

from datetime import UTC, datetime

from django.db import migrations, models

EDGE = datetime(9999, 12, 30, tzinfo=UTC)
APPS = ("leads", "campaigns", "alignment", "metrics")


def repair(apps, schema_editor):
    for app_label in APPS:
        for model in apps.get_app_config(app_label).get_models():
            names = {f.name for f in model._meta.concrete_fields}
            for field in model._meta.concrete_fields:
                if not isinstance(field, models.DateTimeField):
                    continue
                rows = model._default_manager.filter(**{f"{field.name}__gt": EDGE})
                if field.null:
                    rows.update(**{field.name: None})
                elif "created_at" in names and field.name != "created_at":
                    rows.update(**{field.name: models.F("created_at")})
                else:
                    rows.update(**{field.name: EDGE})


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_import_jobs"),
        ("campaigns", "0003_alter_briefing_options_and_more"),
        ("alignment", "0008_default_agreement"),
        ("metrics", "0003_alter_scorecard_options_alter_target_options_and_more"),
    ]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop, elidable=True)]
