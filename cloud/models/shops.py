"""Shops and what they sell (minimal here; the commerce work extends products)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Shop(Model):
    # The same id the terminals' config.json carries ("shop1").
    id = fields.CharField(max_length=32, primary_key=True)
    name = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    # IANA zone of the shop's clock: what its people and buyers read is local time.
    timezone = fields.CharField(max_length=64, default="UTC", db_default="UTC")
    # A web order to be paid in cash at the counter waits this long (the buyer has to
    # come in), instead of Config.unpaid_expiry_s for card payments.
    cash_expiry_s = fields.IntField(default=3600, db_default=3600)
    # Tax (cloud/orders/tax.py): prices include it; rounded per line or once per rate.
    tax_rounding = fields.CharField(max_length=10, default="line", db_default="line")
    # The receipt's header: who sold it, where, under which tax number (税号).
    address = fields.CharField(max_length=200, default="", db_default="")
    tax_id = fields.CharField(max_length=64, default="", db_default="")
    # Refunds (cloud/orders/refunds.py): after this many days since the sale, and above
    # this amount (minor units), only a manager (or a seller with the refund right) may.
    refund_window_days = fields.IntField(default=30, db_default=30)
    refund_approval_above = fields.BigIntField(default=20000, db_default=20000)
    # Shifts (cloud/orders/shiftreport.py): a close whose counted cash differs from the
    # expected by more than this (minor units) needs a manager's approval at the terminal;
    # the cash refunds paid out in one shift may add up to at most the cap (0 = no cap).
    shift_diff_limit = fields.BigIntField(default=1000, db_default=1000)
    shift_refund_cap = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "shops"


class Product(Model):
    id = fields.IntField(primary_key=True)
    shop: fields.ForeignKeyRelation[Shop] = fields.ForeignKeyField(
        "models.Shop", related_name="products", on_delete=fields.CASCADE)
    shop_id: str
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    price = fields.BigIntField()                   # minor units (cents)
    currency = fields.CharField(max_length=3)
    # On hand. With track_stock, web orders reserve (`reserved`) and buyers can take
    # only stock - reserved; a terminal sale may take stock below zero (cloud/orders/stock.py).
    stock = fields.IntField(default=0)
    track_stock = fields.BooleanField(default=False, db_default=False)
    reserved = fields.IntField(default=0, db_default=0)
    low_stock = fields.IntField(null=True)   # an alarm when what is available falls to it
    tax_rate = fields.IntField(default=0, db_default=0)  # basis points: 1300 = 13 %
    # Commerce additions (cloud/commerce/catalog.py writes them).
    description = fields.TextField(default="", db_default="")
    image_url = fields.CharField(max_length=500, default="", db_default="")
    category: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Category", related_name="products", null=True, on_delete=fields.SET_NULL)
    category_id: int | None
    # search.index_text(name, sku, description, category): what FTS5 / tsvector index.
    search_text = fields.TextField(default="", db_default="")
    updated_at = fields.DatetimeField(auto_now=True, null=True)

    class Meta:
        table = "products"
        unique_together = (("shop", "sku"),)
        indexes = (("shop_id", "price"),)


class StockMove(Model):
    """One change of a product's stock or reservations (append-only): a web order's
    reservation, its release or consumption, a terminal sale, a count, damage, a
    delivery, a restock. A product's reservations for an order are the sum of its
    moves' d_reserved for that order."""

    id = fields.BigIntField(primary_key=True)
    shop_id = fields.CharField(max_length=32)
    product_id = fields.IntField()
    sku = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=12)    # reserve release consume sale count damage ...
    d_stock = fields.IntField(default=0)
    d_reserved = fields.IntField(default=0)
    stock_after = fields.IntField()
    order_id = fields.IntField(null=True, db_index=True)
    reason = fields.CharField(max_length=200, default="")
    user_id = fields.IntField(null=True)
    device_id = fields.CharField(max_length=32, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stock_moves"
        indexes = (("shop_id", "sku"),)
