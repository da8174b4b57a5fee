# Refunds (issue #16 item 3): the refunds table, orders.refunded and order_lines.refunded_qty
# (the columns the conditional UPDATEs that cap refunds test), the shop's refund window and
# approval amount, the seller's refund right.
from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_reports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('shop_id', fields.CharField(db_index=True, max_length=32)),
                ('amount', fields.BigIntField()),
                ('tax', fields.BigIntField(default=0)),
                ('currency', fields.CharField(max_length=3)),
                ('lines', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('method', fields.CharField(max_length=10)),
                ('status', fields.CharField(db_index=True, max_length=10)),
                ('reason', fields.CharField(max_length=200)),
                ('restock', fields.BooleanField(default=False)),
                ('provider_ref', fields.CharField(null=True, unique=True, max_length=40)),
                ('intent_id', fields.CharField(null=True, max_length=40)),
                ('user_id', fields.IntField(null=True)),
                ('approved_by', fields.IntField(null=True)),
                ('device_id', fields.CharField(null=True, max_length=32)),
                ('failure', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('settled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refunds', 'app': 'models', 'indexes': [Index(fields=['shop_id', 'settled_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Order',
            name='refunded',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='OrderLine',
            name='refunded_qty',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Shop',
            name='refund_approval_above',
            field=fields.BigIntField(default=20000, db_default=20000),
        ),
        ops.AddField(
            model_name='Shop',
            name='refund_window_days',
            field=fields.IntField(default=30, db_default=30),
        ),
        ops.AddField(
            model_name='User',
            name='can_refund',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
