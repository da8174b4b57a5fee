"""Alarms raised for operators, and the audit trail of who did what."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Alarm(Model):
    id = fields.IntField(primary_key=True)
    device_id = fields.CharField(max_length=32, null=True, db_index=True)
    # The shop of an alarm no terminal raised (low stock of a product); a terminal's
    # alarm belongs to the terminal's shop.
    shop_id = fields.CharField(max_length=32, null=True, db_index=True)
    kind = fields.CharField(max_length=32)
    severity = fields.CharField(max_length=10)        # info | warning | critical
    message = fields.CharField(max_length=300, default="")
    count = fields.IntField(default=1)                # how often it was raised while open
    # "device:kind" while the alarm is not cleared, NULL after: the unique index makes
    # the dedup hold across several workers (NULLs never collide).
    open_key = fields.CharField(max_length=80, null=True, unique=True)
    first_at = fields.DatetimeField(auto_now_add=True)
    last_at = fields.DatetimeField(auto_now_add=True)
    acked_at = fields.DatetimeField(null=True)
    acked_by = fields.IntField(null=True)
    cleared_at = fields.DatetimeField(null=True)
    cleared_by = fields.IntField(null=True)

    class Meta:
        table = "alarms"


class AuditEntry(Model):
    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    user_id = fields.IntField(null=True)
    actor = fields.CharField(max_length=100)          # "user:3", "device:t1", "system"
    action = fields.CharField(max_length=50)
    target = fields.CharField(max_length=100, default="")
    detail = fields.JSONField(default=dict)

    class Meta:
        table = "audit_log"
