from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_printer_charset')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeviceKeysVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.BigIntField(default=0)),
            ],
            options={'table': 'device_keys_version', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row (id 1): bumped, row-locked, by every key rotation, revocation and'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Device',
            name='keys_version',
            field=fields.BigIntField(default=0, db_index=True),
        ),
    ]
