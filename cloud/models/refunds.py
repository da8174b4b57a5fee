"""Refunds: money (and optionally goods) going back on a paid order (issue #16 item 3).

One row per refund, with the lines and quantities it takes back (JSON, as sold: the
order's line id, sku, name, qty, unit price, tax rate), its amount and tax, and the
method it is paid back by. A shift's Z report sums `amount` of the succeeded refunds by
`method` (card | cash) over the shift's time and terminal (`device_id`, `settled_at`).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Refund(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Order", related_name="refunds", on_delete=fields.RESTRICT)
    order_id: int
    shop_id = fields.CharField(max_length=32, db_index=True)
    amount = fields.BigIntField()                 # minor units, tax included
    tax = fields.BigIntField(default=0)           # the refunded lines' tax (orders/tax.py)
    currency = fields.CharField(max_length=3)
    lines = fields.JSONField()    # [{line, sku, name, qty, unit_price, tax_rate}]
    method = fields.CharField(max_length=10)      # "card" (the provider) | "cash"
    # pending (waiting for the provider's callback or the terminal) -> succeeded | failed
    status = fields.CharField(max_length=10, db_index=True)
    reason = fields.CharField(max_length=200)
    restock = fields.BooleanField(default=False)
    provider_ref = fields.CharField(max_length=40, null=True, unique=True)  # "re_..."
    intent_id = fields.CharField(max_length=40, null=True)   # the card payment refunded
    user_id = fields.IntField(null=True)          # who asked for it
    approved_by = fields.IntField(null=True)      # the manager whose right it needed
    device_id = fields.CharField(max_length=32, null=True)   # the terminal paying out cash
    # A cash refund paid at the terminal needs a manager's finger or PIN there (its
    # `refund_new` said `approval`): decided once, when it was made (protocol/README.md).
    needs_approval = fields.BooleanField(default=False, db_default=False)
    failure = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refunds"
        indexes = (("shop_id", "settled_at"),)   # a shop's refunds of a period (reports)
