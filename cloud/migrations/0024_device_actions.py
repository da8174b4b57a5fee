# Device actions in the UI (issue #18 item 5): a terminal's display name and the settings
# its managers pushed (re-sent on every connect).
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0021_shifts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Device',
            name='name',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='Device',
            name='settings',
            field=fields.JSONField(default=dict, db_default='{}'),
        ),
    ]
