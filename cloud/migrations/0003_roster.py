from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_commerce')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FingerSlot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('device', fields.CharField(max_length=32)),
                ('slot', fields.IntField()),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='finger_slots', on_delete=OnDelete.CASCADE)),
                ('enrolled_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'finger_slots', 'app': 'models', 'unique_together': (('device', 'slot'),), 'pk_attr': 'id', 'table_description': "A seller's finger enrolled on one terminal's sensor, in that sensor's slot."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='pin_sealed',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
