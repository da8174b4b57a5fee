from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_roster')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DeviceEvent',
            name='raw_body',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='DeviceEvent',
            name='sig',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
