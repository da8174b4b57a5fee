"""What the shop pages read from the catalogue: a search with filters, one product, the
categories. The ranked full-text search is the commerce side's (cloud/commerce/catalog.py,
fulltext.py); this module is the pages' one door to it, and adds category names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.commerce import catalog as commerce_catalog
from fingerpos.cloud.commerce import fulltext
from fingerpos.cloud.models.commerce import Category
from fingerpos.cloud.models.shops import Product

PAGE_SIZE = 24
MAX_CATEGORIES = 200


@dataclass(frozen=True)
class Filters:
    q: str = ""
    min_price: int | None = None     # minor units
    max_price: int | None = None
    in_stock: bool = False
    category: int | None = None
    page: int = 1


async def _category_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {c.id: c.name for c in await Category.filter(id__in=list(ids))}


async def _named(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = await _category_names({p["category"] for p in items if p.get("category")})
    return [{**p, "category_name": names.get(p.get("category") or 0, "")} for p in items]


async def search(f: Filters) -> tuple[list[dict[str, Any]], bool]:
    """One page of products matching the filters (best match first), and whether more follow."""
    found, more = await commerce_catalog.find(
        f.q, fulltext.Filters(category=f.category, min_price=f.min_price,
                              max_price=f.max_price, in_stock=f.in_stock),
        PAGE_SIZE, (f.page - 1) * PAGE_SIZE)
    return await _named(found), more


async def categories() -> list[dict[str, Any]]:
    rows = await Category.all().order_by("shop_id", "name").limit(MAX_CATEGORIES)
    return [{"id": c.id, "label": f"{c.name} ({c.shop_id})"} for c in rows]


async def product(shop: str, sku: str) -> dict[str, Any] | None:
    p = await Product.get_or_none(shop_id=shop[:32], sku=sku[:64])
    return (await _named([commerce_catalog.product_json(p)]))[0] if p else None


async def products(shop: str, skus: list[str]) -> dict[str, dict[str, Any]]:
    return {p.sku: commerce_catalog.product_json(p)
            for p in await Product.filter(shop_id=shop, sku__in=skus)}
