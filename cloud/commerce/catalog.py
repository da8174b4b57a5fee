"""The catalogue: categories and products of a shop, who may edit them, the search, and
the subset each terminal receives (the `catalog` command).

Writes keep products.search_text = search.index_text(name, sku, description, category),
which the full-text index (fulltext.py) follows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from fingerpos import protocol
from fingerpos.cloud.commerce import catalog_cache, fulltext, search
from fingerpos.cloud.core import audit
from fingerpos.cloud.core.errors import Conflict, Forbidden, NotFound
from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.models.commerce import Category
from fingerpos.cloud.models.devices import Device
from fingerpos.cloud.models.shops import Product, Shop, StockMove
from fingerpos.cloud.models.users import Role, User
from fingerpos.cloud.orders import notify
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)
# What a terminal gets: it sells by sku at the counter, and keeps the catalogue on
# flash (firmware/catalog.py), so a shop's whole range goes, in `catalog` pages that
# each fit the 4096-byte body limit (protocol/README.md). 64 pages at most.
TERMINAL_ITEMS = 1000
MAX_PAGES = 64
_NAME_CHARS = 32


def _envelope_bytes() -> int:
    """The most a `catalog` body takes besides its data: the longest device id, seq,
    ts and prev the protocol allows (a page must fit whatever seq it is sent with)."""
    body = protocol.make_body("x" * 32, 2**53 - 1, 10**11 - 1, "catalog", "0" * 32, {},
                              protocol.CMD)
    return len(body) - 2


_DATA_BYTES = protocol.MAX_BODY - _envelope_bytes()


def _compact(value: Any) -> bytes:
    # the bytes make_body writes (compact, UTF-8 kept raw: a Chinese character is 3)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def paginate(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `catalog` commands' data for items: pages filled up to the body limit.

    `version` is a hash of the whole item list: the terminal switches to a version when
    all its pages arrived, and skips a version it already has (the cloud re-sends the
    catalogue on every connect). An empty catalogue is one page with no items.
    """
    version = hashlib.sha256(_compact(items)).hexdigest()[:16]
    head = len(_compact({"version": version, "page": MAX_PAGES, "pages": MAX_PAGES,
                         "items": []}))
    pages: list[list[dict[str, Any]]] = [[]]
    used = head
    for item in items:
        size = len(_compact(item)) + 1  # the comma
        if size + head > _DATA_BYTES:
            log.warning("catalog: %s does not fit a page: not sent", item.get("sku"))
            continue
        if used + size > _DATA_BYTES and pages[-1]:
            if len(pages) == MAX_PAGES:
                log.warning("catalog: more than %d pages: the rest is not sent", MAX_PAGES)
                break
            pages.append([])
            used = head
        pages[-1].append(item)
        used += size
    return [{"version": version, "page": n, "pages": len(pages), "items": page}
            for n, page in enumerate(pages, 1)]


def check_editor(user: User, shop_id: str) -> None:
    """Admins edit any shop; sellers and managers only their own."""
    if user.role == Role.ADMIN:
        return
    if user.role in (Role.SELLER, Role.MANAGER) and user.shop_id == shop_id:
        return
    raise Forbidden("only the shop's sellers and managers may edit its catalogue")


async def _shop(shop_id: str) -> Shop:
    shop = await Shop.get_or_none(id=shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    return shop


def category_json(c: Category) -> dict[str, Any]:
    return {"id": c.id, "shop": c.shop_id, "name": c.name}


def product_json(p: Product | dict[str, Any]) -> dict[str, Any]:
    g = p.get if isinstance(p, dict) else (lambda k: getattr(p, k))
    tracked = bool(g("track_stock"))
    return {"id": g("id"), "shop": g("shop_id"), "sku": g("sku"), "name": g("name"),
            "description": g("description"), "price": g("price"), "currency": g("currency"),
            "stock": g("stock"), "image_url": g("image_url"), "category": g("category_id"),
            # What buyers can take: None when the product does not track stock (unlimited).
            "track_stock": tracked, "reserved": g("reserved"), "low_stock": g("low_stock"),
            "tax_rate": g("tax_rate"),
            "available": max(0, g("stock") - g("reserved")) if tracked else None}


async def add_category(user: User, shop_id: str, name: str) -> Category:
    check_editor(user, shop_id)
    await _shop(shop_id)
    try:
        cat = await Category.create(shop_id=shop_id, name=name)
    except IntegrityError:
        raise Conflict(f"shop {shop_id} already has a category {name!r}") from None
    await audit.record(f"user:{user.id}", "category.create", f"{shop_id}/{cat.id}", user_id=user.id)
    return cat


async def categories(shop_id: str) -> list[Category]:
    return await Category.filter(shop_id=shop_id).order_by("name")


async def put_product(user: User, shop_id: str, fields: dict[str, Any]) -> Product:
    """Create or update the product with this sku in the shop; the terminals are told."""
    check_editor(user, shop_id)
    await _shop(shop_id)
    cat_name = ""
    if fields.get("category") is not None:
        cat = await Category.get_or_none(id=fields["category"], shop_id=shop_id)
        if cat is None:
            raise NotFound(f"shop {shop_id} has no category {fields['category']}")
        cat_name = cat.name
    values = {"name": fields["name"], "price": fields["price"], "currency": fields["currency"],
              "stock": fields["stock"], "description": fields.get("description", ""),
              "image_url": fields.get("image_url", ""), "category_id": fields.get("category"),
              "search_text": search.index_text(fields["name"], fields["sku"],
                                               fields.get("description", ""), cat_name)}
    if "low_stock" in fields:
        values["low_stock"] = fields["low_stock"]
    if fields.get("tax_rate") is not None:
        values["tax_rate"] = fields["tax_rate"]
    async with in_transaction():
        before = await Product.get_or_none(shop_id=shop_id, sku=fields["sku"])
        tracking = bool(fields.get("track_stock", before.track_stock if before else False))
        values["track_stock"] = tracking
        # A tracked product's count changes only by adjustments with a reason (and sales),
        # never by re-saving the product: a form read before a sale would undo the sale.
        counted = before is not None and before.track_stock and tracking
        if counted:
            del values["stock"]
        product, _ = await Product.update_or_create(shop_id=shop_id, sku=fields["sku"],
                                                    defaults=values)
        if tracking and not counted:   # tracking starts: the stock given is the first count
            await StockMove.create(shop_id=shop_id, product_id=product.id, sku=product.sku,
                                   kind="count", d_stock=product.stock - (before.stock
                                                                          if before else 0),
                                   stock_after=product.stock, reason="stock tracking on",
                                   user_id=user.id)
        await audit.record(f"user:{user.id}", "product.put", f"{shop_id}/{fields['sku']}",
                           {"price": fields["price"], "stock": product.stock,
                            "tax_rate": product.tax_rate,
                            "track_stock": tracking, "low_stock": product.low_stock},
                           user_id=user.id)
    await push_to_terminals(shop_id)
    return product


async def delete_product(user: User, shop_id: str, sku: str) -> None:
    check_editor(user, shop_id)
    if not await Product.filter(shop_id=shop_id, sku=sku).delete():
        raise NotFound(f"shop {shop_id} does not sell {sku}")
    await audit.record(f"user:{user.id}", "product.delete", f"{shop_id}/{sku}", user_id=user.id)
    await push_to_terminals(shop_id)


async def get_product(shop_id: str, sku: str) -> Product:
    product = await Product.get_or_none(shop_id=shop_id, sku=sku)
    if product is None:
        raise NotFound(f"shop {shop_id} does not sell {sku}")
    return product


async def product_rows(shop_id: str, skus: list[str]) -> list[dict[str, Any]]:
    """The products with these SKUs as product_json dicts, read with one raw query: the
    buyer pages' hot path, where building the ORM query and its models cost more than
    the query itself (profiled: `fingerpos bench web --profile`). Cached while the
    catalogue's revision stays (catalog_cache.py), so an edit through any worker is seen
    at once. The list is shared: do not change it."""
    if not skus:
        return []

    async def load() -> list[dict[str, Any]]:
        conn = connections.get("default")
        sql = (f"SELECT {fulltext.COLUMNS} FROM products p WHERE p.shop_id = ? AND p.sku IN ("
               + ", ".join("?" * len(skus)) + ")")
        return [product_json(r) for r in await conn.execute_query_dict(
            q(dialect(conn), sql), [shop_id, *skus])]

    return await catalog_cache.cached(("rows", shop_id, tuple(skus)), load)


async def product_row(shop_id: str, sku: str) -> dict[str, Any]:
    """One product as product_json (raw query); NotFound when the shop does not sell it."""
    rows = await product_rows(shop_id, [sku])
    if not rows:
        raise NotFound(f"shop {shop_id} does not sell {sku}")
    return rows[0]


async def find(text: str, filters: fulltext.Filters, limit: int, offset: int
               ) -> tuple[list[dict[str, Any]], bool]:
    """One page of search results and whether more follow (cached like product_rows)."""
    async def load() -> tuple[list[dict[str, Any]], bool]:
        rows = await fulltext.find(text, filters, limit + 1, offset)
        return [product_json(r) for r in rows[:limit]], len(rows) > limit

    return await catalog_cache.cached(("find", text, filters, limit, offset), load)


async def terminal_catalog(shop_id: str) -> dict[str, Any]:
    """The shop's products by sku, as the terminal sells them: {"items": [...]} (the
    `catalog` pages are paginate(items)). Out of stock ones too: goods in the seller's
    hand are sold whatever the count says (cloud/orders/stock.py)."""
    rows = await Product.filter(shop_id=shop_id).order_by("sku").limit(
        TERMINAL_ITEMS).values("sku", "name", "price", "currency")
    return {"items": [{"sku": r["sku"], "name": r["name"][:_NAME_CHARS], "price": r["price"],
                       "currency": r["currency"]} for r in rows]}


async def _send_pages(device_id: str, pages: list[dict[str, Any]]) -> bool:
    sent = True
    for page in pages:  # in order: MQTT keeps a session's QoS 1 messages in order
        sent = await notify.send_command(device_id, "catalog", page) and sent
    return sent


async def send_catalog(device_id: str) -> bool:
    """Send one terminal its shop's catalogue (on `online`, see README)."""
    device = await Device.get_or_none(id=device_id)
    if device is None or device.revoked:
        return False
    return await _send_pages(device_id, paginate((await terminal_catalog(device.shop))["items"]))


async def push_to_terminals(shop_id: str) -> int:
    """The shop's catalogue changed: each of its active terminals gets the new one."""
    pages = paginate((await terminal_catalog(shop_id))["items"])
    sent = 0
    for device in await Device.filter(shop=shop_id, revoked=False):
        try:
            sent += await _send_pages(device.id, pages)
        except LookupError as e:  # revoked a moment ago; the others still get theirs
            log.warning("catalog for %s not sent: %s", device.id, e)
    return sent
