from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_pickup_codes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ThrottleWindow',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=80)),
                ('count', fields.IntField()),
                ('expires_at', fields.FloatField(db_index=True)),
            ],
            options={'table': 'throttle_windows', 'app': 'models', 'pk_attr': 'key'},
            bases=['Model'],
        ),
    ]
