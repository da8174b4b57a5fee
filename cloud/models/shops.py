"""Shops and what they sell (minimal here; the commerce work extends products)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Shop(Model):
    # The same id the terminals' config.json carries ("shop1").
    id = fields.CharField(max_length=32, primary_key=True)
    name = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

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
    stock = fields.IntField(default=0)

    class Meta:
        table = "products"
        unique_together = (("shop", "sku"),)
