"""The catalogue pages for sellers and managers over HTTP (no browser): list and search,
create and edit with money typed as text, each error next to its field, CSRF, escaping,
categories, and one shop's staff kept out of another shop's catalogue."""

from __future__ import annotations

import re

import pytest
from fingerpos.cloud.models.shops import Product

from .conftest import in_app
from .support.pages import csrf_of, post, staff_session

pytestmark = pytest.mark.cloud
LIST = "/shop/products"
NEW = "/shop/products/new"


def valid(**changes: str) -> dict[str, str]:
    return {"sku": "mug-1", "name": "Blue mug", "description": "Stoneware, 300 ml",
            "price": "12.50", "currency": "EUR", "stock": "7", "category": "",
            "image_url": "https://img.example/mug.png", **changes}


async def stored(cloud, shop: str, sku: str) -> Product | None:
    with in_app(cloud.app):
        return await Product.get_or_none(shop_id=shop, sku=sku)


async def test_the_list_shows_the_own_shops_products_with_search(cloud):
    for shop, sku, price in (("shop1", "tea", 250), ("shop1", "cake", 900), ("shop2", "soap", 300)):
        await cloud.product(shop, sku, price)
    await staff_session(cloud, "seller")
    html = await (await cloud.client.get(LIST)).text()
    assert 'data-sku="tea"' in html and 'data-sku="cake"' in html
    assert "soap" not in html.lower()                    # another shop's product
    assert "2.50 EUR" in html and "9.00 EUR" in html and ">10<" in html   # price, stock
    html = await (await cloud.client.get(LIST + "?q=cak")).text()
    assert 'data-sku="cake"' in html and 'data-sku="tea"' not in html
    html = await (await cloud.client.get(LIST + "?q=nothing-like-it")).text()
    assert "No product matches" in html
    assert 'href="/shop/products"' in await (await cloud.client.get("/monitor")).text()


async def test_create_shows_each_error_next_to_its_field_then_saves_minor_units(cloud):
    await cloud.product("shop1", "tea", 250)
    await staff_session(cloud, "manager")
    r = await post(cloud.client, NEW, valid(sku="no spaces!", name="", price="12,5x",
                                            currency="eu", stock="-3",
                                            image_url="javascript:alert(1)"), page=NEW)
    assert r.status == 400
    html = await r.text()
    for name, message in (("sku", "is not in the expected form"),
                          ("name", "must be at least 1 characters"),
                          ("price", "enter an amount like 12.50"),
                          ("currency", "enter a 3-letter currency code like EUR"),
                          ("stock", "must be at least 0"),
                          ("image_url", "is not in the expected form")):
        assert re.search(rf'data-field="{name}">{re.escape(message)}', html), name
    assert 'value="Stoneware' not in html and "Stoneware, 300 ml</textarea>" in html  # kept
    r = await post(cloud.client, NEW, valid(price="12.505"), page=NEW)
    assert 'data-field="price">EUR amounts have 2 decimal places' in await r.text()
    r = await post(cloud.client, NEW, valid(stock="many"), page=NEW)
    assert 'data-field="stock">must be a whole number' in await r.text()
    r = await post(cloud.client, NEW, valid(sku="tea"), page=NEW)
    assert 'data-field="sku">this shop already has a product with this SKU' in await r.text()
    assert (await stored(cloud, "shop1", "tea")).name == "Tea"          # not overwritten
    r = await post(cloud.client, NEW, valid(), page=NEW)
    assert r.status == 303 and r.headers["Location"] == "/shop/products?saved=mug-1"
    mug = await stored(cloud, "shop1", "mug-1")
    assert (mug.price, mug.currency, mug.stock, mug.name) == (1250, "EUR", 7, "Blue mug")
    r = await post(cloud.client, NEW, valid(sku="yen", price="500", currency="jpy"), page=NEW)
    assert r.status == 303 and (await stored(cloud, "shop1", "yen")).price == 500
    # The buyer's search finds the new product at its price.
    html = await (await cloud.client.get("/?q=blue")).text()
    assert "Blue mug" in html and "12.50 EUR" in html


async def test_edit_changes_price_and_stock_and_needs_the_csrf_token(cloud):
    await cloud.product("shop1", "tea", 250)
    await staff_session(cloud, "seller")
    edit = "/shop/products/tea/edit"
    html = await (await cloud.client.get(edit)).text()
    assert 'id="f-price" name="price" type="text" value="2.50"' in html
    r = await cloud.client.post(edit, data={**valid(name="Tea", price="3"), "csrf": "forged"},
                                allow_redirects=False)
    assert r.status == 403 and (await stored(cloud, "shop1", "tea")).price == 250
    r = await post(cloud.client, edit, valid(name="Tea", price="abc", sku="ignored"), page=edit)
    assert r.status == 400 and 'data-field="price">enter an amount like 12.50' in await r.text()
    r = await post(cloud.client, edit, valid(name="Green tea", price="3.20", stock="0",
                                             sku="ignored"), page=edit)
    assert r.status == 303
    tea = await stored(cloud, "shop1", "tea")
    assert (tea.price, tea.stock, tea.name) == (320, 0, "Green tea")
    assert await stored(cloud, "shop1", "ignored") is None             # the SKU is fixed
    assert "3.20 EUR" in await (await cloud.client.get("/product/shop1/tea")).text()
    r = await post(cloud.client, "/shop/products/tea/delete", {}, page=edit)
    assert r.status == 303 and await stored(cloud, "shop1", "tea") is None
    assert (await cloud.client.get(edit)).status == 404


async def test_a_seller_cannot_touch_another_shops_catalogue(cloud):
    await cloud.product("shop2", "soap", 300)
    await cloud.product("shop1", "tea", 250)
    await staff_session(cloud, "seller")
    assert (await cloud.client.get(LIST + "?shop=shop2")).status == 403
    assert (await cloud.client.get("/shop/products/soap/edit")).status == 404
    assert (await cloud.client.get("/shop/products/soap/edit?shop=shop2")).status == 403
    token = await csrf_of(cloud.client, LIST)
    for path in ("/shop/products/soap/edit", "/shop/products/soap/edit?shop=shop2",
                 "/shop/products/soap/delete", "/shop/products/soap/delete?shop=shop2"):
        r = await cloud.client.post(path, data={"csrf": token, **valid(name="Mine now",
                                                                      price="0.01")},
                                    allow_redirects=False)
        assert r.status in (403, 404), path
    r = await cloud.client.post(NEW + "?shop=shop2", data={"csrf": token, **valid(sku="x")},
                                allow_redirects=False)
    assert r.status == 403
    soap = await stored(cloud, "shop2", "soap")
    assert (soap.name, soap.price) == ("Soap", 300)
    assert await stored(cloud, "shop1", "soap") is None and await stored(cloud, "shop2", "x") is None
    assert (await cloud.client.get("/shop/products/bad%20sku/edit")).status == 404


async def test_buyers_and_strangers_are_kept_out(cloud):
    r = await cloud.client.get(LIST, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login?next=/shop/products"
    from .support.pages import register_and_login
    await register_and_login(cloud.client)
    assert (await cloud.client.get(LIST)).status == 403
    assert (await cloud.client.get(NEW)).status == 403


async def test_names_are_escaped_on_the_catalogue_pages(cloud):
    await cloud.product("shop1", "evil", 100)
    await staff_session(cloud, "manager")
    edit = "/shop/products/evil/edit"
    r = await post(cloud.client, edit, valid(name="<script>alert(1)</script>", price="1",
                                             description='"><img src=x onerror=alert(2)>'),
                   page=edit)
    assert r.status == 303
    for path in (LIST, edit):
        html = await (await cloud.client.get(path)).text()
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


async def test_categories_are_added_and_offered_in_the_form(cloud):
    await cloud.product("shop1", "tea", 250)
    await staff_session(cloud, "manager")
    r = await post(cloud.client, "/shop/categories", {"name": ""}, page=LIST)
    assert r.status == 400 and 'data-field="name">must be at least 1 characters' in await r.text()
    assert (await post(cloud.client, "/shop/categories", {"name": "Drinks"}, page=LIST)).status == 303
    r = await post(cloud.client, "/shop/categories", {"name": "Drinks"}, page=LIST)
    assert r.status == 400 and "already has a category" in await r.text()
    html = await (await cloud.client.get(NEW)).text()
    cat = re.search(r'<option value="(\d+)" >Drinks</option>', html).group(1)
    r = await post(cloud.client, NEW, valid(sku="cola", category=cat), page=NEW)
    assert r.status == 303 and (await stored(cloud, "shop1", "cola")).category_id == int(cat)
    r = await post(cloud.client, NEW, valid(sku="lemonade", category="99999"), page=NEW)
    assert r.status == 400 and 'data-field="category">shop shop1 has no category' in await r.text()


async def test_an_admin_names_the_shop(cloud):
    await cloud.product("shop2", "soap", 300)
    await staff_session(cloud, "admin")
    html = await (await cloud.client.get(LIST + "?shop=shop2")).text()
    assert 'data-sku="soap"' in html and 'href="/shop/products/soap/edit?shop=shop2"' in html
    edit = "/shop/products/soap/edit?shop=shop2"
    r = await post(cloud.client, edit, valid(name="Soap", price="4"), page=edit)
    assert r.status == 303 and r.headers["Location"] == "/shop/products?saved=soap&shop=shop2"
    assert (await stored(cloud, "shop2", "soap")).price == 400
    assert (await cloud.client.get(LIST + "?shop=nope")).status == 404
