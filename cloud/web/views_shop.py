"""The buyer shop: search with filters, a product page, the cart, checkout.

The cart lives in a cookie (one shop, SKUs and quantities only: prices always
come from the catalogue when the page or the order is made), so it survives
reloads without an account and costs the server nothing. A damaged or forged
cart cookie reads as an empty cart.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from fingerpos.cloud import orders
from fingerpos.cloud.commerce import catalog_cache
from fingerpos.cloud.commerce.money import MoneyError
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.core.errors import DomainError, NotFound
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders.stock import OutOfStock
from fingerpos.cloud.web import catalog, forms, i18n
from fingerpos.cloud.web.page import checked_form, form_token, need, redirect, render, viewer
from fingerpos.cloud.web.views_auth import signin_notice
from markupsafe import Markup, escape

CART_COOKIE = "fp_cart"
MAX_LINES = 50
MAX_QTY = 10_000


def read_cart(request: web.Request) -> tuple[str, dict[str, int]]:
    """(shop, {sku: qty}) from the cart cookie; ("", {}) when absent or not valid."""
    raw = request.cookies.get(CART_COOKIE, "")
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode() + b"==").decode())
        shop, items = data["shop"], data["items"]
        if not isinstance(shop, str) or not isinstance(items, dict) or len(items) > MAX_LINES:
            return "", {}
        clean = {str(k)[:64]: int(v) for k, v in items.items()
                 if type(v) is int and 1 <= v <= MAX_QTY}
        return shop[:32], clean
    except (ValueError, KeyError, TypeError):
        return "", {}


def write_cart(request: web.Request, response: web.StreamResponse, shop: str,
               items: dict[str, int]) -> None:
    if not items:
        response.del_cookie(CART_COOKIE, path="/")
        return
    raw = base64.urlsafe_b64encode(json.dumps({"shop": shop, "items": items}).encode())
    response.set_cookie(CART_COOKIE, raw.decode().rstrip("="), httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].cookie_secure, path="/",
                        max_age=30 * 24 * 3600)


def _filters(query: Any) -> tuple[catalog.Filters, dict[str, str]]:
    errors: dict[str, str] = {}
    prices: dict[str, int | None] = {"min_price": None, "max_price": None}
    for name in prices:
        text = query.get(name, "").strip()
        if text:
            try:
                prices[name] = forms.parse_money(text, "EUR")
            except MoneyError as e:
                errors[name] = str(e)
    if (prices["min_price"] is not None and prices["max_price"] is not None
            and prices["min_price"] > prices["max_price"]):
        errors["max_price"] = "must not be below the minimum"
    f = catalog.Filters(q=query.get("q", "")[:200], min_price=prices["min_price"],
                        max_price=prices["max_price"], in_stock=query.get("in_stock") == "1",
                        category=forms.parse_int(query.get("category"), 0) or None,
                        page=forms.parse_int(query.get("page"), 1, 1, 10_000))
    return f, errors


# Stands for the visitor's form token in a cached grid (random: no product text can hold it).
_TOKEN_HOLE = "csrf-hole-" + secrets.token_hex(16)


async def _grid(request: web.Request, f: catalog.Filters) -> tuple[list[dict], bool, str]:
    """The results, whether more follow, and their HTML with a hole for the form token:
    rendered once per catalogue revision and filters (the grid was most of the shop
    page's time under load, `fingerpos bench web`), cached with them."""
    env = aiohttp_jinja2.get_env(request.app)

    async def load() -> tuple[list[dict], bool, str]:
        found, more = await catalog.search(f)
        return found, more, env.get_template("shop_grid.html").render(products=found,
                                                                      csrf=_TOKEN_HOLE)

    return await catalog_cache.cached(("shop-grid", f), load)


async def shop(request: web.Request) -> web.Response:
    f, errors = _filters(request.query)
    found, more, html = ([], False, "") if errors else await _grid(request, f)
    token = str(escape(await form_token(request)))
    return await render(request, "shop.html", {
        "grid": Markup(html.replace(_TOKEN_HOLE, token)),
        "products": found, "more": more, "filters": f, "errors": errors,
        "query": {k: request.query.get(k, "") for k in ("q", "min_price", "max_price",
                                                         "in_stock", "category")},
        "categories": await catalog.categories(), "notice": await signin_notice(request),
        "cart_count": sum(read_cart(request)[1].values())})


async def product(request: web.Request) -> web.Response:
    return await _product_page(request, request.match_info["shop"], request.match_info["sku"])


async def _product_page(request: web.Request, shop_id: str, sku: str,
                        errors: dict[str, str] | None = None, qty: str = "1",
                        status: int = 200) -> web.Response:
    """The product; after a refused "add to cart", the error and the quantity typed."""
    item = await catalog.product(shop_id, sku)
    if item is None:
        raise NotFound("no such product")
    return await render(request, "product.html", {
        "p": item, "errors": errors or {}, "qty": qty,
        "cart_count": sum(read_cart(request)[1].values())}, status=status)


async def _cart_lines(shop_id: str, items: dict[str, int]) -> tuple[list[dict], int, str]:
    known = await catalog.products(shop_id, list(items)) if items else {}
    lines = [{**known[sku], "qty": qty, "line_total": known[sku]["price"] * qty}
             for sku, qty in items.items() if sku in known]
    currency = lines[0]["currency"] if lines else "EUR"
    return lines, sum(line["line_total"] for line in lines), currency


async def cart(request: web.Request, errors: dict[str, str] | None = None,
               status: int = 200, typed: dict[str, str] | None = None) -> web.Response:
    """The cart; after a refused quantity, `typed` gives back what was typed, by SKU."""
    shop_id, items = read_cart(request)
    lines, total, currency = await _cart_lines(shop_id, items)
    return await render(request, "cart.html", {"lines": lines, "shop": shop_id, "total": total,
                                               "currency": currency, "errors": errors or {},
                                               "typed": typed or {},
                                               "cart_count": sum(items.values())}, status=status)


async def cart_update(request: web.Request) -> web.Response:
    """add (shop, sku, qty), set (sku, qty; 0 removes), or clear."""
    form = await checked_form(request)
    shop_id, items = read_cart(request)
    action, sku = form.get("action", "add"), form.get("sku", "")[:64]
    qty = forms.parse_int(form.get("qty"), -1, -1, MAX_QTY)
    if action == "clear":
        items = {}
    elif action in ("add", "set"):
        if qty < (1 if action == "add" else 0):
            raise_field = {"qty": f"enter a quantity from {1 if action == 'add' else 0} "
                                  f"to {MAX_QTY}"}
            typed = form.get("qty", "")[:20]
            if action == "add":   # said on the product page, next to what was typed
                return await _product_page(request, form.get("shop", "")[:32], sku,
                                           raise_field, typed, status=400)
            return await cart(request, raise_field, status=400, typed={sku: typed})
        if action == "add":
            new_shop = form.get("shop", "")[:32]
            if await catalog.product(new_shop, sku) is None:
                raise NotFound("no such product")
            if shop_id and new_shop != shop_id and items:
                return await cart(request, {"form": f"your cart holds items from shop {shop_id}: "
                                                    "check out or empty it first"}, status=409)
            shop_id = new_shop
            items[sku] = min(MAX_QTY, items.get(sku, 0) + qty)
            if len(items) > MAX_LINES:
                return await cart(request, {"form": f"a cart holds at most {MAX_LINES} products"},
                                  status=400)
        elif qty == 0:
            items.pop(sku, None)
        elif sku in items:
            items[sku] = qty
    response = redirect("/cart")
    write_cart(request, response, shop_id, items)
    raise response


async def checkout(request: web.Request) -> web.Response:
    who = await viewer(request)
    if who is None:
        await checked_form(request)
        raise redirect("/login?next=/cart")
    await need(request, Role.BUYER)
    await checked_form(request)
    shop_id, items = read_cart(request)
    if not items:
        return await cart(request, {"form": "your cart is empty"}, status=400)
    try:
        order = await orders.create_from_cart(who.user, shop_id, [
            {"sku": sku, "qty": qty} for sku, qty in items.items()])
    except OutOfStock as e:   # said in the buyer's language, with the product's name
        t = i18n.translator(i18n.lang_of(request))
        return await cart(request, {"form": t("stock.short", name=e.name, left=e.left,
                                              asked=e.asked)}, status=e.status)
    except DomainError as e:
        return await cart(request, {"form": e.message}, status=e.status)
    response = redirect(f"/orders/{order.id}")
    write_cart(request, response, shop_id, {})
    raise response
