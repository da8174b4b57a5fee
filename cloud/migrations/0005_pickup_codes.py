from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_event_signature')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PickupCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.IntField(unique=True)),
                ('sealed', fields.CharField(max_length=120)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pickup_codes', 'app': 'models', 'pk_attr': 'id', 'table_description': "An order's pickup code, sealed with the cloud's keyring (AES-GCM, bound to the"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PaymentIntent',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
