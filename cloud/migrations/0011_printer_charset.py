from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_password_resets')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Device',
            name='printer_charset',
            field=fields.CharField(default='ascii', max_length=16),
        ),
    ]
