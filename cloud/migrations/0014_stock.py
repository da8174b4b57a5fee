# Stock that follows sales (issue #16 item 1): products.track_stock (off for every existing
# product: they stay unlimited), reserved, low_stock; the stock_moves ledger; alarms.shop_id
# for a shop's own alarms; shops.timezone and cash_expiry_s (item 2).
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_catalog_revision')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StockMove',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.CharField(max_length=32)),
                ('product_id', fields.IntField()),
                ('sku', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=12)),
                ('d_stock', fields.IntField(default=0)),
                ('d_reserved', fields.IntField(default=0)),
                ('stock_after', fields.IntField()),
                ('order_id', fields.IntField(null=True, db_index=True)),
                ('reason', fields.CharField(default='', max_length=200)),
                ('user_id', fields.IntField(null=True)),
                ('device_id', fields.CharField(null=True, max_length=32)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'stock_moves', 'app': 'models', 'indexes': [Index(fields=['shop_id', 'sku'])], 'pk_attr': 'id', 'table_description': "One change of a product's stock or reservations (append-only): a web order's"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Alarm',
            name='shop_id',
            field=fields.CharField(null=True, db_index=True, max_length=32),
        ),
        ops.AddField(
            model_name='Product',
            name='low_stock',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Product',
            name='reserved',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Product',
            name='track_stock',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Shop',
            name='cash_expiry_s',
            field=fields.IntField(default=3600, db_default=3600),
        ),
        ops.AddField(
            model_name='Shop',
            name='timezone',
            field=fields.CharField(default='UTC', db_default='UTC', max_length=64),
        ),
    ]
