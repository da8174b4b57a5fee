"""What the shop pages read from the catalogue: a search with filters, one product, the
categories. The ranked full-text search is the commerce side's (cloud/commerce/catalog.py,
fulltext.py); this module is the pages' one door to it, and adds category names.

Reads here are raw SQL (one query each, dicts, no models): profiling the shop page under
load (`fingerpos bench web --profile`) showed building tortoise queries and models cost
more than running them. Each page's reads are then cached as one entry of the catalogue
cache (cloud/commerce/catalog_cache.py): one revision read per page while the catalogue
is unchanged, and a catalogue edit made through any worker is on every page at once.
Cached values are shared between requests: callers must not change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.commerce import catalog as commerce_catalog
from fingerpos.cloud.commerce import catalog_cache, fulltext
from fingerpos.cloud.core.sql import dialect, q
from tortoise import connections

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


async def _rows(sql: str, args: list[Any]) -> list[dict[str, Any]]:
    conn = connections.get("default")
    return await conn.execute_query_dict(q(dialect(conn), sql), args)


async def _category_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await _rows("SELECT id, name FROM categories WHERE id IN ("
                       + ", ".join("?" * len(ids)) + ")", list(ids))
    return {r["id"]: r["name"] for r in rows}


async def _named(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = await _category_names({p["category"] for p in items if p.get("category")})
    return [{**p, "category_name": names.get(p.get("category") or 0, "")} for p in items]


async def search(f: Filters) -> tuple[list[dict[str, Any]], bool]:
    """One page of products matching the filters (best match first), and whether more follow."""
    async def load() -> tuple[list[dict[str, Any]], bool]:
        found, more = await commerce_catalog.find(
            f.q, fulltext.Filters(category=f.category, min_price=f.min_price,
                                  max_price=f.max_price, in_stock=f.in_stock),
            PAGE_SIZE, (f.page - 1) * PAGE_SIZE)
        return await _named(found), more

    return await catalog_cache.cached(("page-search", f), load)


async def categories() -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        rows = await _rows("SELECT id, name, shop_id FROM categories ORDER BY shop_id, name"
                           " LIMIT ?", [MAX_CATEGORIES])
        return [{"id": c["id"], "label": f"{c['name']} ({c['shop_id']})"} for c in rows]

    return await catalog_cache.cached(("page-categories",), load)


async def product(shop: str, sku: str) -> dict[str, Any] | None:
    async def load() -> dict[str, Any] | None:
        rows = await commerce_catalog.product_rows(shop[:32], [sku[:64]])
        return (await _named(rows))[0] if rows else None

    return await catalog_cache.cached(("page-product", shop[:32], sku[:64]), load)


async def products(shop: str, skus: list[str]) -> dict[str, dict[str, Any]]:
    return {p["sku"]: p for p in await commerce_catalog.product_rows(shop, skus)}
