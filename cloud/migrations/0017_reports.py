# Sales reports (issue #17 item 3): the indexes cloud/orders/reports.py reads by: a shop's
# orders of a period, an order's lines, an order's payments (without them a report over a
# month of a busy shop scans every line and payment once per order).
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [('models', '0016_tax')]

    initial = False

    operations = [
        ops.AddIndex(model_name='Order', index=Index(fields=['shop_id', 'created_at'])),
        ops.AddIndex(model_name='OrderLine', index=Index(fields=['order_id'])),
        ops.AddIndex(model_name='Payment', index=Index(fields=['order_id'])),
    ]
