from tortoise import migrations
from tortoise.migrations import operations as ops

from fingerpos.cloud.commerce.catalog_cache import create_notify, drop_notify


class Migration(migrations.Migration):
    """PostgreSQL: the catalogue revision's bump also NOTIFYs catalog_revision, so a worker's
    cache learns of an edit without reading the row per page (cloud/commerce/catalog_cache.py)."""

    dependencies = [('models', '0018_refunds')]

    initial = False

    operations = [
        ops.RunPython(create_notify, drop_notify),
    ]
