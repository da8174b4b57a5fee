"""Catalogue: search, categories, products (read by anyone, written by the shop's staff)."""

from __future__ import annotations

from aiohttp import web
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.api.policy import scope
from fingerpos.cloud.api.validation import body, query
from fingerpos.cloud.commerce import catalog, fulltext
from fingerpos.cloud.core.errors import Invalid, NotFound
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders import stock

EDITORS = (Role.SELLER, Role.MANAGER, Role.ADMIN)


def _shop(request: web.Request) -> str:
    shop = request.match_info["shop"]
    if not 1 <= len(shop) <= 32:
        raise NotFound("no such shop")
    return shop


def _sku(request: web.Request) -> str:
    sku = request.match_info["sku"]
    if not 1 <= len(sku) <= 64:
        raise NotFound("no such product")
    return sku


async def search(request: web.Request) -> web.Response:
    f = query(request, sc.SearchQuery)
    if f.min_price is not None and f.max_price is not None and f.min_price > f.max_price:
        raise Invalid("min_price must not be above max_price")
    rows, more = await catalog.find(f.q, fulltext.Filters(f.shop, f.category, f.min_price,
                                                          f.max_price, f.in_stock),
                                    f.limit, f.offset)
    return web.json_response({"products": rows, "more": more, "offset": f.offset,
                              "limit": f.limit})


async def categories(request: web.Request) -> web.Response:
    rows = await catalog.categories(_shop(request))
    return web.json_response({"categories": [catalog.category_json(c) for c in rows]})


async def add_category(request: web.Request) -> web.Response:
    user = await auth.require(request, *EDITORS)
    data = await body(request, sc.CategoryIn)
    cat = await catalog.add_category(user, _shop(request), data.name)
    return web.json_response(catalog.category_json(cat), status=201)


async def put_product(request: web.Request) -> web.Response:
    user = await auth.require(request, *EDITORS)
    shop = _shop(request)
    catalog.check_editor(user, shop)  # before reading the body: others learn nothing more
    data = await body(request, sc.ProductFull)
    fields = data.model_dump()
    for name in ("track_stock", "low_stock"):   # absent: left as they are
        if name not in data.model_fields_set:
            fields.pop(name)
    product = await catalog.put_product(user, shop, fields)
    return web.json_response(catalog.product_json(product))


async def adjust_stock(request: web.Request) -> web.Response:
    """A count, damage or delivery with its reason (managers; audited)."""
    user = scope(request).who
    shop, sku = _shop(request), _sku(request)
    stock.check_adjuster(user, shop)
    data = await body(request, sc.StockAdjustIn)
    product, move = await stock.adjust(user, shop, sku, data.kind, data.qty, data.reason)
    await catalog.push_to_terminals(shop)
    return web.json_response({"product": catalog.product_json(product),
                              "move": stock.move_json(move)})


async def stock_moves(request: web.Request) -> web.Response:
    """The product's latest stock moves, newest first (the shop's staff)."""
    shop, sku = _shop(request), _sku(request)
    await catalog.get_product(shop, sku)
    return web.json_response({"moves": [stock.move_json(m)
                                        for m in await stock.moves_of(shop, sku)]})


async def get_product(request: web.Request) -> web.Response:
    return web.json_response(await catalog.product_row(_shop(request), _sku(request)))


async def delete_product(request: web.Request) -> web.Response:
    user = await auth.require(request, *EDITORS)
    await catalog.delete_product(user, _shop(request), _sku(request))
    return web.json_response({"deleted": True})
