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
