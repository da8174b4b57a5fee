# Tax and the receipt header (issue #16 item 5): products.tax_rate (basis points, 0 for
# every existing product), order_lines.tax_rate (the rate when sold; NULL before this),
# shops.tax_rounding / address / tax_id.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_stock')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Product',
            name='tax_rate',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='OrderLine',
            name='tax_rate',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Shop',
            name='tax_rounding',
            field=fields.CharField(default='line', db_default='line', max_length=10),
        ),
        ops.AddField(
            model_name='Shop',
            name='address',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.AddField(
            model_name='Shop',
            name='tax_id',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
    ]
