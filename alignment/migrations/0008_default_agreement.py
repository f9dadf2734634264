"""Install the default agreement on a database that has none, so `migrate` alone leaves a
usable installation: leads can be created and moved, /api/v1/stages/ lists the funnel.

Its texts are written in the deployment's language (LANGUAGE_CODE). A database that
already has an agreement (installed by `install_agreement` or edited since) is left as it
is. Unapplying leaves the agreement: by then it may hold leads' history.
"""

from django.db import migrations


def install_default_agreement(apps, schema_editor):
    from alignment.agreement import defaults

    agreement = apps.get_model("alignment", "Agreement")
    if agreement.objects.exists():
        return
    defaults.install(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("alignment", "0006_db_defaults"),
    ]

    operations = [
        migrations.RunPython(install_default_agreement, migrations.RunPython.noop, elidable=False),
    ]
