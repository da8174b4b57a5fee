"""Orders and everything that happens to them: lines, revisions, events, payments."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Order(Model):
    id = fields.IntField(primary_key=True)
    shop: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Shop", related_name="orders", on_delete=fields.RESTRICT)
    shop_id: str
    buyer: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="orders", null=True, on_delete=fields.SET_NULL)
    buyer_id: int | None
    source = fields.CharField(max_length=10)          # "web" | "terminal"
    device_id = fields.CharField(max_length=32, null=True)   # the selling terminal
    ref = fields.CharField(max_length=64, null=True)         # the terminal's sale reference
    state = fields.CharField(max_length=20, db_index=True)
    # Bumped by every price change; a payment must name the version it pays.
    version = fields.IntField(default=1)
    total = fields.BigIntField()                      # minor units
    currency = fields.CharField(max_length=3)
    # What refunds took back (pending and succeeded ones): a refund is a conditional
    # UPDATE ... WHERE refunded + amount <= paid, so none ever passes what was paid.
    refunded = fields.BigIntField(default=0, db_default=0)
    pickup_hash = fields.CharField(max_length=64, null=True)  # HMAC of the pickup code, never the code
    # A terminal sale's seller: the user of the device's last successful `login` event
    # before the sale (cloud/orders/sales.py); NULL for web orders and unknown sellers.
    seller_id = fields.IntField(null=True)
    alerted = fields.BooleanField(default=False)      # "not accepted in time" already raised
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    state_changed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "orders"
        # One terminal sale makes one order, however often the event is delivered.
        unique_together = (("device_id", "ref"),)
        # A shop's sales of a period (cloud/orders/reports.py).
        indexes = (("shop_id", "created_at"),)


class OrderLine(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="lines", on_delete=fields.CASCADE)
    order_id: int
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200, default="")
    qty = fields.IntField()
    unit_price = fields.BigIntField()
    # The product's tax rate when it was sold (basis points), so a later change of the
    # rate never rewrites a receipt; NULL on lines older than tax: 0.
    tax_rate = fields.IntField(null=True)
    # Units of this line refunded so far (cloud/orders/refunds.py): never above qty.
    refunded_qty = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "order_lines"
        indexes = (("order_id",),)   # an order's lines (reports join them per order)


class OrderRevision(Model):
    """One per version of an order's price (the old ones stay)."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="revisions", on_delete=fields.CASCADE)
    order_id: int
    version = fields.IntField()
    total = fields.BigIntField()
    reason = fields.CharField(max_length=200, default="")
    user_id = fields.IntField(null=True)
    device_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_revisions"
        unique_together = (("order", "version"),)


class OrderEvent(Model):
    """Every state transition: who (a user or a device event), when, from -> to."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="events", on_delete=fields.CASCADE)
    order_id: int
    from_state = fields.CharField(max_length=20, null=True)
    to_state = fields.CharField(max_length=20)
    user_id = fields.IntField(null=True)
    device_id = fields.CharField(max_length=32, null=True)
    device_event_id = fields.BigIntField(null=True)   # the ingested event that caused it
    note = fields.CharField(max_length=200, default="")
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_events"


class Payment(Model):
    """A payment attempt, accepted only when amount, currency and order version all match."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="payments", on_delete=fields.CASCADE)
    order_id: int
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    version = fields.IntField()
    method = fields.CharField(max_length=20, default="web")
    accepted = fields.BooleanField()
    reason = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payments"
        indexes = (("order_id",),)   # an order's accepted payment (reports: by method)


# The sales reports' rollup (cloud/orders/rollup.py, issue #17 item 3): the facts of
# cloud/orders/reports.py summed per shop and UTC day, kept exact by report_dirty marks
# that triggers write in the same transaction as any change they depend on.

class ReportDirty(Model):
    """A (shop, UTC day) whose rolled-up rows may be stale: written by the triggers."""

    id = fields.BigIntField(primary_key=True)
    shop_id = fields.CharField(max_length=32)
    day = fields.IntField()           # unix seconds // 86400

    class Meta:
        table = "report_dirty"
        indexes = (("shop_id", "day"),)


class _Figures(Model):
    """The figures a rollup row sums (one definition for the day and the slot tables)."""

    id = fields.BigIntField(primary_key=True)
    shop_id = fields.CharField(max_length=32)
    currency = fields.CharField(max_length=3)
    sales = fields.BigIntField()
    gross = fields.BigIntField()
    net = fields.BigIntField()
    tax = fields.BigIntField()
    refunds = fields.BigIntField()
    refund_tax = fields.BigIntField()
    refund_count = fields.BigIntField()

    class Meta:
        abstract = True


class ReportRollup(_Figures):
    """One shop's figures of one UTC day per currency, payment method, terminal, seller."""

    day = fields.IntField()
    method = fields.CharField(max_length=20)
    terminal = fields.CharField(max_length=32)
    seller = fields.CharField(max_length=16)

    class Meta:
        table = "report_rollup"
        indexes = (("shop_id", "day"),)


class ReportSlot(_Figures):
    """One shop's figures of one 15-minute UTC slot per currency (the time splits)."""

    slot = fields.BigIntField()       # unix seconds // 900

    class Meta:
        table = "report_slots"
        indexes = (("shop_id", "slot"),)


class ReportProduct(Model):
    """One shop's sales of one product (sku) on one UTC day per currency."""

    id = fields.BigIntField(primary_key=True)
    shop_id = fields.CharField(max_length=32)
    currency = fields.CharField(max_length=3)
    day = fields.IntField()
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)   # the name on its latest line (last_line)
    last_line = fields.BigIntField()          # that line's id
    qty = fields.BigIntField()
    gross = fields.BigIntField()
    tax = fields.BigIntField()

    class Meta:
        table = "report_products"
        indexes = (("shop_id", "day"),)
