"""What the shop pages read from the catalogue: a search with filters, one product.

The ranking full-text search belongs to the commerce side (cloud/commerce); this
module is the pages' one door to it, so the page code does not change when the
search does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.models.shops import Product

PAGE_SIZE = 24


@dataclass(frozen=True)
class Filters:
    q: str = ""
    min_price: int | None = None     # minor units
    max_price: int | None = None
    in_stock: bool = False
    category: str = ""
    page: int = 1


def product_json(p: Any) -> dict[str, Any]:
    return {"shop": p.shop_id, "sku": p.sku, "name": p.name, "price": p.price,
            "currency": p.currency, "stock": p.stock,
            "description": getattr(p, "description", "") or "",
            "category": getattr(p, "category", "") or ""}


async def search(f: Filters) -> tuple[list[dict[str, Any]], bool]:
    """Products matching the filters, and whether there is a next page."""
    rows = Product.all()
    if f.q:
        for word in f.q.split()[:8]:
            rows = rows.filter(name__icontains=word)
    if f.min_price is not None:
        rows = rows.filter(price__gte=f.min_price)
    if f.max_price is not None:
        rows = rows.filter(price__lte=f.max_price)
    if f.in_stock:
        rows = rows.filter(stock__gt=0)
    found = await rows.order_by("name", "id").offset((f.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    return [product_json(p) for p in found[:PAGE_SIZE]], len(found) > PAGE_SIZE


async def categories() -> list[str]:
    return []


async def product(shop: str, sku: str) -> dict[str, Any] | None:
    p = await Product.get_or_none(shop_id=shop[:32], sku=sku[:64])
    return product_json(p) if p else None


async def products(shop: str, skus: list[str]) -> dict[str, dict[str, Any]]:
    return {p.sku: product_json(p) for p in await Product.filter(shop_id=shop, sku__in=skus)}
