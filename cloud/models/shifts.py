"""Shifts: a terminal's cash drawer between an open and a close (issue #16 item 4).

`Shift` is one row per (device, the terminal's own shift number): who it belongs to and
the seq range of the device's events attributed to it (open's seq .. close's seq; an
open shift has no end yet). It holds no money figures: every amount lives in the
shift's append-only log (`ShiftEntry`), and the X and Z reports are sums of that log
plus the sales and cash acks in the seq range (cloud/orders/shiftreport.py), never a
running total kept beside it (Square's CashDrawerShift events, DESIGN "append-only log").

`ShiftEntry` rows are only ever inserted: its `save()` refuses to update a stored row and
`delete()` refuses always, and the code has no UPDATE or DELETE of `shift_entries`
(tests/test_shifts_log.py checks both).
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

OPEN, CLOSED, UNCLOSED = "open", "closed", "unclosed"


class Shift(Model):
    id = fields.IntField(primary_key=True)
    shop_id = fields.CharField(max_length=32, db_index=True)
    device_id = fields.CharField(max_length=32)
    number = fields.IntField()                    # the terminal's shift number
    # open -> closed (its close arrived) | unclosed (the terminal opened another first)
    state = fields.CharField(max_length=10, default=OPEN)
    open_seq = fields.BigIntField()
    close_seq = fields.BigIntField(null=True)     # last seq attributed; NULL while open
    opened_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "shifts"
        unique_together = (("device_id", "number"),)
        indexes = (("shop_id", "opened_at"),)


class LogIsAppendOnly(RuntimeError):
    """An attempt to change or delete a shift log entry."""


class ShiftEntry(Model):
    # One line of a shift's log: its own events, cash refunds paid out, refusals and
    # anomalies, in the device's seq order.

    id = fields.BigIntField(primary_key=True)
    shift: fields.ForeignKeyNullableRelation[Shift] = fields.ForeignKeyField(
        "models.Shift", related_name="entries", null=True, on_delete=fields.RESTRICT)
    shift_id: int | None
    shop_id = fields.CharField(max_length=32)
    device_id = fields.CharField(max_length=32)
    seq = fields.BigIntField()                    # the device event's seq
    device_event_id = fields.BigIntField(null=True)
    # open cash_in cash_out x close | refund (paid out) | refund_refused | anomaly
    kind = fields.CharField(max_length=16)
    number = fields.IntField(null=True)           # the event's shift number as sent
    amount = fields.BigIntField(default=0)        # minor units
    reason = fields.CharField(max_length=64, default="")
    seller = fields.CharField(max_length=32, default="")
    approved_by = fields.CharField(max_length=32, default="")
    refund_id = fields.IntField(null=True)
    note = fields.CharField(max_length=200, default="")
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "shift_entries"
        indexes = (("shift_id", "seq"), ("device_id", "seq"))

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self._saved_in_db:
            raise LogIsAppendOnly("a shift log entry is never changed: append a new one")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise LogIsAppendOnly("a shift log entry is never deleted")
