# Shifts and cash refunds at the terminal (issue #16 items 3-4): the shifts and their
# append-only log (triggers refuse UPDATE and DELETE of shift_entries on SQLite and
# PostgreSQL), the shop's shift difference limit and per-shift refund cap, and whether a
# cash refund needs a manager at the terminal.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from fingerpos.cloud.orders.shiftlog import forbid_changes, allow_changes


class Migration(migrations.Migration):
    dependencies = [('models', '0019_catalog_notify')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Shift',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.CharField(db_index=True, max_length=32)),
                ('device_id', fields.CharField(max_length=32)),
                ('number', fields.IntField()),
                ('state', fields.CharField(default='open', max_length=10)),
                ('open_seq', fields.BigIntField()),
                ('close_seq', fields.BigIntField(null=True)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'shifts', 'app': 'models', 'unique_together': (('device_id', 'number'),), 'indexes': [Index(fields=['shop_id', 'opened_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShiftEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shift', fields.ForeignKeyField('models.Shift', source_field='shift_id', null=True, db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('shop_id', fields.CharField(max_length=32)),
                ('device_id', fields.CharField(max_length=32)),
                ('seq', fields.BigIntField()),
                ('device_event_id', fields.BigIntField(null=True)),
                ('kind', fields.CharField(max_length=16)),
                ('number', fields.IntField(null=True)),
                ('amount', fields.BigIntField(default=0)),
                ('reason', fields.CharField(default='', max_length=64)),
                ('seller', fields.CharField(default='', max_length=32)),
                ('approved_by', fields.CharField(default='', max_length=32)),
                ('refund_id', fields.IntField(null=True)),
                ('note', fields.CharField(default='', max_length=200)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'shift_entries', 'app': 'models', 'indexes': [Index(fields=['shift_id', 'seq']), Index(fields=['device_id', 'seq'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Shop',
            name='shift_diff_limit',
            field=fields.BigIntField(default=1000, db_default=1000),
        ),
        ops.AddField(
            model_name='Shop',
            name='shift_refund_cap',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Refund',
            name='needs_approval',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.RunPython(forbid_changes, allow_changes),
    ]
