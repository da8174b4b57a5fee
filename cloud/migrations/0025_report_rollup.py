# Sales reports at 1,000,000 orders (issue #17 item 3): the rollup tables, the triggers that
# mark a (shop, UTC day) dirty in the transaction that changes it (cloud/orders/rollup.py),
# every existing day marked so the first report builds it; orders.seller_id (a terminal
# sale's seller, for the seller split) and device_event (device_id, typ, seq) to find it.
from tortoise import migrations
from tortoise.migrations import operations as ops

from fingerpos.cloud.orders.rollup import create_triggers, drop_triggers
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0024_device_actions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportDirty',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.CharField(max_length=32)),
                ('day', fields.IntField()),
            ],
            options={'table': 'report_dirty', 'app': 'models', 'indexes': [Index(fields=['shop_id', 'day'])], 'pk_attr': 'id', 'table_description': 'A (shop, UTC day) whose rolled-up rows may be stale: written by the triggers.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportProduct',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.CharField(max_length=32)),
                ('currency', fields.CharField(max_length=3)),
                ('day', fields.IntField()),
                ('sku', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('last_line', fields.BigIntField()),
                ('qty', fields.BigIntField()),
                ('gross', fields.BigIntField()),
                ('tax', fields.BigIntField()),
            ],
            options={'table': 'report_products', 'app': 'models', 'indexes': [Index(fields=['shop_id', 'day'])], 'pk_attr': 'id', 'table_description': "One shop's sales of one product (sku) on one UTC day per currency."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.CharField(max_length=32)),
                ('currency', fields.CharField(max_length=3)),
                ('day', fields.IntField()),
                ('method', fields.CharField(max_length=20)),
                ('terminal', fields.CharField(max_length=32)),
                ('seller', fields.CharField(max_length=16)),
                ('sales', fields.BigIntField()),
                ('gross', fields.BigIntField()),
                ('net', fields.BigIntField()),
                ('tax', fields.BigIntField()),
                ('refunds', fields.BigIntField()),
                ('refund_tax', fields.BigIntField()),
                ('refund_count', fields.BigIntField()),
            ],
            options={'table': 'report_rollup', 'app': 'models', 'indexes': [Index(fields=['shop_id', 'day'])], 'pk_attr': 'id', 'table_description': "One shop's figures of one UTC day per currency, payment method, terminal, seller."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportSlot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.CharField(max_length=32)),
                ('currency', fields.CharField(max_length=3)),
                ('slot', fields.BigIntField()),
                ('sales', fields.BigIntField()),
                ('gross', fields.BigIntField()),
                ('net', fields.BigIntField()),
                ('tax', fields.BigIntField()),
                ('refunds', fields.BigIntField()),
                ('refund_tax', fields.BigIntField()),
                ('refund_count', fields.BigIntField()),
            ],
            options={'table': 'report_slots', 'app': 'models', 'indexes': [Index(fields=['shop_id', 'slot'])], 'pk_attr': 'id', 'table_description': "One shop's figures of one 15-minute UTC slot per currency (the time splits)."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='DeviceEvent',
            index=Index(fields=['device_id', 'typ', 'seq']),
        ),
        ops.AddField(
            model_name='Order',
            name='seller_id',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(create_triggers, drop_triggers),
    ]
