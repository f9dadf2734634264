"""Covering indexes for the dashboard's deal figures (issue "The shared numbers at 1M
leads"): deals by outcome and closing time, and by creation time, with what the figures
read; a lead's deals by outcome and closing time, for new accounts' probe of an account's
earlier wins. PostgreSQL reads them index-only once vacuumed; SQLite builds them without
INCLUDE."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("leads", "0018_covering_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='deal',
            name='deal_closed_idx',
        ),
        migrations.RemoveIndex(
            model_name='deal',
            name='deal_created_idx',
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['outcome', 'closed_at'], include=('id', 'lead', 'amount'), name='deal_closed_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['created_at'], include=('id', 'amount'), name='deal_created_idx'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['lead', 'outcome', 'closed_at', 'id'], name='deal_lead_idx'),
        ),
    ]
