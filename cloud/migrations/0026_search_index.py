from tortoise import migrations
from tortoise.migrations import operations as ops

from fingerpos.cloud.commerce.fulltext import tune_index, untune_index


class Migration(migrations.Migration):
    """Search latency at 100,000 products (#15 item 4): FTS5 prefix indexes on SQLite, a GIN
    index without a pending list on PostgreSQL (cloud/commerce/fulltext.py). No result
    changes; no model changes."""

    dependencies = [('models', '0025_report_rollup')]

    initial = False

    operations = [
        ops.RunPython(tune_index, untune_index),
    ]
