from tortoise import migrations
from tortoise.migrations import operations as ops

from fingerpos.cloud.commerce.catalog_cache import create_revision, drop_revision


class Migration(migrations.Migration):
    """catalog_revision: one number the catalogue's tables bump (cloud/commerce/catalog_cache.py)."""

    dependencies = [('models', '0012_device_keys_version')]

    initial = False

    operations = [
        ops.RunPython(create_revision, drop_revision),
    ]
