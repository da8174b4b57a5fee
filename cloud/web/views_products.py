"""The shop's catalogue for its sellers and managers: list with search, stock and price, a
create/edit form, delete, and categories.

Every write goes through the same service as the JSON API (cloud/commerce/catalog.py:
put_product, delete_product, add_category, check_editor), validated by the same pydantic
model (ProductFull); this module only turns form text into those fields (price typed as
money, "12.50" -> 1250 minor units) and maps errors to the field they belong to. The
service also sends the shop's terminals their new `catalog` command after each change.

Sellers and managers see and edit only their own shop; an admin names the shop with
`?shop=`. A product of another shop is a 404 (it is not in this shop's catalogue), and
asking for another shop by name is a 403.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web
from fingerpos.cloud.api import schemas_commerce as sc
from fingerpos.cloud.commerce import catalog, fulltext
from fingerpos.cloud.commerce.money import MoneyError, check_currency, format_amount
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.models.shops import Product, Shop
from fingerpos.cloud.models.users import Role
from fingerpos.cloud.orders import stock
from fingerpos.cloud.web import forms
from fingerpos.cloud.web.page import Viewer, checked_form, need, redirect, render

EDITORS = (Role.SELLER, Role.MANAGER, Role.ADMIN)
PAGE_SIZE = 50
_WHOLE = re.compile(r"-?\d{1,12}")
_FORM_FIELDS = ("sku", "name", "description", "price", "currency", "stock", "category",
                "image_url", "track_stock", "low_stock", "tax_rate")


async def _editor(request: web.Request) -> tuple[Viewer, str]:
    """The logged-in editor and the shop whose catalogue this request is about."""
    who = await need(request, *EDITORS)
    asked = request.query.get("shop", "").strip()[:32]
    if who.user.role == Role.ADMIN:
        first = None if asked else await Shop.all().order_by("id").first()
        shop = asked or (first.id if first else "")
        if not shop or not await Shop.exists(id=shop):
            raise NotFound("no such shop: create one first (POST /api/v1/shops)")
    else:
        shop = who.user.shop_id or ""
        if asked and asked != shop:
            raise Forbidden("you can only edit your own shop's catalogue")
    catalog.check_editor(who.user, shop)
    return who, str(shop)


def _here(shop: str, path: str, admin: bool) -> str:
    """A link within the catalogue pages; an admin's keeps naming the shop."""
    return path + (("&" if "?" in path else "?") + "shop=" + quote(shop) if admin else "")


def _sku(request: web.Request) -> str:
    sku = request.match_info["sku"]
    if not re.fullmatch(sc.SKU.strip("^$"), sku):
        raise NotFound("no such product")
    return sku


async def _list_page(request: web.Request, who: Viewer, shop: str,
                     errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                     status: int = 200) -> web.Response:
    text = request.query.get("q", "")[:200]
    page = forms.parse_int(request.query.get("page"), 1, 1, 10_000)
    rows, more = await catalog.find(text, fulltext.Filters(shop=shop), PAGE_SIZE,
                                    (page - 1) * PAGE_SIZE)
    admin = who.user.role == Role.ADMIN
    return await render(request, "products.html", {
        "shop": shop, "products": rows, "q": text, "page": page, "more": more,
        "categories": {c.id: c.name for c in await catalog.categories(shop)},
        "errors": errors or {}, "form": form or {}, "saved": request.query.get("saved", "")[:64],
        "here": lambda path: _here(shop, path, admin), "admin": admin}, status=status)


async def product_list(request: web.Request) -> web.Response:
    who, shop = await _editor(request)
    return await _list_page(request, who, shop)


async def add_category(request: web.Request) -> web.Response:
    who, shop = await _editor(request)
    form = await checked_form(request)
    data, errors = forms.validate(sc.CategoryIn, {"name": form.get("name", "").strip()})
    if data is not None:
        try:
            await catalog.add_category(who.user, shop, data.name)
        except Conflict as e:
            errors = {"name": e.message}
    if errors:
        return await _list_page(request, who, shop, errors, {"name": form.get("name", "")}, 400)
    raise redirect(_here(shop, "/shop/products", who.user.role == Role.ADMIN))


def _as_form(p: Product) -> dict[str, str]:
    try:
        price = format_amount(p.price, p.currency)
    except MoneyError:
        price = str(p.price)
    return {"sku": p.sku, "name": p.name, "description": p.description, "price": price,
            "currency": p.currency, "stock": str(p.stock), "image_url": p.image_url,
            "category": str(p.category_id or ""), "track_stock": "1" if p.track_stock else "",
            "low_stock": "" if p.low_stock is None else str(p.low_stock),
            "tax_rate": _percent(p.tax_rate)}


def _percent(rate: int) -> str:
    """1300 -> "13", 550 -> "5.5", 0 -> "0": basis points as the percent a person types."""
    return f"{rate / 100:.2f}".rstrip("0").rstrip(".")


def _basis_points(text: str) -> int | str:
    """ "13", "13%", "5.5" -> 1300, 550; anything else is returned as typed (ProductFull
    then refuses it with its message)."""
    t = text.strip().rstrip("%").strip().replace(",", ".")
    if not t:
        return 0
    if re.fullmatch(r"\d{1,3}(\.\d{1,2})?", t):
        return round(float(t) * 100)
    return text


async def _form_page(request: web.Request, who: Viewer, shop: str, form: dict[str, str],
                     errors: dict[str, str], sku: str | None, status: int = 200,
                     product: Product | None = None,
                     adjust: dict[str, str] | None = None) -> web.Response:
    admin = who.user.role == Role.ADMIN
    can_adjust = product is not None and who.user.role in (Role.MANAGER, Role.ADMIN)
    action = f"/shop/products/{quote(sku)}/edit" if sku else "/shop/products/new"
    return await render(request, "product_edit.html", {
        "shop": shop, "form": form, "errors": errors, "sku": sku, "product": product,
        "action": _here(shop, action, admin), "admin": admin,
        "back": _here(shop, "/shop/products", admin),
        "delete": _here(shop, f"/shop/products/{quote(sku)}/delete", admin) if sku else "",
        "categories": await catalog.categories(shop),
        "adjust_action": _here(shop, f"/shop/products/{quote(sku)}/stock", admin) if can_adjust
        else "", "adjust": adjust or {"kind": "delivery"},
        "moves": await stock.moves_of(shop, sku, 20) if product is not None else []},
        status=status)


def _fields(form: dict[str, str], sku: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Form text -> ProductFull's fields, and the errors only the text can show."""
    errors: dict[str, str] = {}
    currency = form.get("currency", "").strip().upper()
    try:
        check_currency(currency)
    except MoneyError:
        errors["currency"] = "enter a 3-letter currency code like EUR"
    price: Any = -1
    try:
        price = forms.parse_money(form.get("price", ""), currency if not errors else "EUR")
    except MoneyError as e:
        errors["price"] = str(e)
    stock_text = form.get("stock", "").strip() or "0"
    stock: Any = int(stock_text) if _WHOLE.fullmatch(stock_text) else stock_text
    category = forms.parse_int(form.get("category"), 0) or None
    low_text = form.get("low_stock", "").strip()
    low: Any = None
    if low_text:
        low = int(low_text) if _WHOLE.fullmatch(low_text) else low_text
    return {"sku": sku if sku is not None else form.get("sku", "").strip(),
            "name": form.get("name", "").strip(), "description": form.get("description", ""),
            "price": max(price, 0), "currency": currency or "EUR", "stock": stock,
            "category": category, "image_url": form.get("image_url", "").strip(),
            "track_stock": form.get("track_stock") == "1", "low_stock": low,
            "tax_rate": _basis_points(form.get("tax_rate", ""))}, errors


async def _save(request: web.Request, sku: str | None) -> web.Response:
    who, shop = await _editor(request)
    existing = None
    if sku is not None:
        existing = await Product.get_or_none(shop_id=shop, sku=sku)
        if existing is None:
            raise NotFound(f"shop {shop} does not sell {sku}")
    form = await checked_form(request)
    fields, text_errors = _fields(form, sku)
    data, errors = forms.validate(sc.ProductFull, fields)
    errors = {**errors, **text_errors}
    if sku is None and not errors.get("sku") and await Product.exists(shop_id=shop,
                                                                      sku=fields["sku"]):
        errors["sku"] = "this shop already has a product with this SKU: edit that one"
    shown = {k: form.get(k, "") for k in _FORM_FIELDS}
    if sku is not None:
        shown["sku"] = sku
    if data is None or errors:
        return await _form_page(request, who, shop, shown, errors, sku, 400, existing)
    try:
        await catalog.put_product(who.user, shop, data.model_dump())
    except NotFound as e:  # the category was deleted meanwhile, or is another shop's
        return await _form_page(request, who, shop, shown, {"category": e.message}, sku, 400,
                                existing)
    raise redirect(_here(shop, "/shop/products?saved=" + quote(data.sku),
                         who.user.role == Role.ADMIN))


async def new_form(request: web.Request) -> web.Response:
    who, shop = await _editor(request)
    return await _form_page(request, who, shop, {"currency": "EUR", "stock": "0"}, {}, None)


async def create(request: web.Request) -> web.Response:
    return await _save(request, None)


async def edit_form(request: web.Request) -> web.Response:
    who, shop = await _editor(request)
    sku = _sku(request)
    product = await Product.get_or_none(shop_id=shop, sku=sku)
    if product is None:
        raise NotFound(f"shop {shop} does not sell {sku}")
    return await _form_page(request, who, shop, _as_form(product), {}, sku, product=product)


async def save(request: web.Request) -> web.Response:
    return await _save(request, _sku(request))


async def delete(request: web.Request) -> web.Response:
    who, shop = await _editor(request)
    sku = _sku(request)
    await checked_form(request)
    await catalog.delete_product(who.user, shop, sku)
    raise redirect(_here(shop, "/shop/products", who.user.role == Role.ADMIN))


async def adjust_stock(request: web.Request) -> web.Response:
    """A manager's count, damage or delivery from the product page, with its reason
    (the same service and audit trail as POST /api/v1/shops/{shop}/products/{sku}/stock)."""
    who, shop = await _editor(request)
    sku = _sku(request)
    product = await Product.get_or_none(shop_id=shop, sku=sku)
    if product is None:
        raise NotFound(f"shop {shop} does not sell {sku}")
    form = await checked_form(request)
    shown = {k: form.get(k, "")[:200] for k in ("kind", "qty", "reason")}
    data, errors = forms.validate(sc.StockAdjustIn, {
        "kind": shown["kind"], "qty": forms.parse_int(shown["qty"], -1, -1, 10**9 + 1),
        "reason": shown["reason"].strip()})
    if data is not None:
        try:
            await stock.adjust(who.user, shop, sku, data.kind, data.qty, data.reason)
        except (Invalid, Forbidden) as e:
            errors = {"adjust": e.message}
    if data is None or errors:
        return await _form_page(request, who, shop, _as_form(product), errors, sku, 400,
                                product, shown)
    await catalog.push_to_terminals(shop)
    raise redirect(_here(shop, f"/shop/products/{quote(sku)}/edit",
                         who.user.role == Role.ADMIN))
