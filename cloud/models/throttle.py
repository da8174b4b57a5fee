"""Throttle windows shared by every worker: one row per throttled key (cloud/accounts/throttle.py)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ThrottleWindow(Model):
    # "<kind>:<sha256 of the key parts>": fixed length, and no email address kept here.
    key = fields.CharField(max_length=80, primary_key=True)
    count = fields.IntField()
    # Unix seconds when this window ends; a hit after it starts a new window at 1.
    expires_at = fields.FloatField(db_index=True)

    class Meta:
        table = "throttle_windows"
