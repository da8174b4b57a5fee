from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from fingerpos.cloud.commerce.fulltext import create_index as full_text_index
from fingerpos.cloud.commerce.fulltext import drop_index as drop_full_text_index


class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CallbackReceipt',
            fields=[
                ('signature', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('intent_id', fields.CharField(max_length=40)),
                ('received_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_callbacks', 'app': 'models', 'pk_attr': 'signature', 'table_description': 'Signatures of payment callbacks already accepted: refuses replays across workers.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Category',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop', fields.ForeignKeyField('models.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='categories', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
            ],
            options={'table': 'categories', 'app': 'models', 'unique_together': (('shop', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdempotencyRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=200)),
                ('status', fields.IntField(default=0)),
                ('response', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'idempotency_keys', 'app': 'models', 'unique_together': (('key',),), 'pk_attr': 'id', 'table_description': 'An Idempotency-Key seen for one user and operation: the first request wins the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderCheck',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='checks', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('ok', fields.BooleanField()),
                ('problems', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('user_id', fields.IntField(null=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'order_checks', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One validation before print (校检) and its outcome.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentIntent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='intents', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('amount', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('provider', fields.CharField(max_length=20)),
                ('status', fields.CharField(default='open', max_length=12)),
                ('reason', fields.CharField(default='', max_length=200)),
                ('card_last4', fields.CharField(default='', max_length=4)),
                ('buyer_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_intents', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One attempt to pay one order *version* through a provider.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PrintJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='prints', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('device_id', fields.CharField(max_length=32)),
                ('reprint', fields.BooleanField(default=False)),
                ('user_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('printed_ok', fields.BooleanField(null=True)),
                ('printed_event_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'print_jobs', 'app': 'models', 'pk_attr': 'id', 'table_description': "A receipt sent to the printer of a terminal, printed_ok comes from its printed event."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RevisionSnapshot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='snapshots', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('lines', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('adjustments', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('user_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'revision_snapshots', 'app': 'models', 'unique_together': (('order', 'version'),), 'pk_attr': 'id', 'table_description': 'The lines and adjustments of one order revision (OrderRevision keeps the total).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Product',
            name='category',
            field=fields.ForeignKeyField('models.Category', source_field='category_id', null=True, db_constraint=True, to_field='id', related_name='products', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Product',
            name='description',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Product',
            name='image_url',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
        ops.AddField(
            model_name='Product',
            name='search_text',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Product',
            name='updated_at',
            field=fields.DatetimeField(null=True, auto_now=True, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Product',
            index=Index(fields=['shop_id', 'price']),
        ),
        # Hand-written: the full-text index the catalogue search uses (not a model field).
        ops.RunPython(full_text_index, drop_full_text_index),
    ]
