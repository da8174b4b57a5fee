"""The buyer's pages over HTTP (no browser): escaping, search filters and their errors, the
cart cookie, checkout, the sandbox pay page, stale-version and declined payments, and
another buyer's order staying out of reach."""

from __future__ import annotations

import re

import pytest

from .conftest import in_app
from .support.pages import csrf_of, post, register_and_login, start_payment

pytestmark = pytest.mark.cloud


async def test_product_names_are_escaped(cloud):
    await cloud.product("shop1", "evil", 100)
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops/shop1/products", headers=admin, json={
        "sku": "evil", "name": "<script>alert(1)</script>", "price": 100, "currency": "EUR",
        "stock": 3})
    for path in ("/", "/product/shop1/evil", "/?q=%3Cscript%3E"):
        html = await (await cloud.client.get(path)).text()
        assert "<script>alert(1)</script>" not in html, path
    html = await (await cloud.client.get("/product/shop1/evil")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_search_filters_and_their_errors(cloud):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop1", "cake", 900)
    html = await (await cloud.client.get("/?q=tea")).text()
    assert ">Tea<" in html and ">Cake<" not in html
    html = await (await cloud.client.get("/?min_price=5")).text()
    assert ">Cake<" in html and ">Tea<" not in html
    r = await cloud.client.get("/?min_price=abc&max_price=1")
    html = await r.text()
    assert 'data-field="min_price">enter an amount like 12.50' in html
    r = await cloud.client.get("/?min_price=9&max_price=1")
    assert 'data-field="max_price">must not be below the minimum' in await r.text()


async def test_cart_checkout_pay_and_pickup_code(cloud):
    await cloud.product("shop1", "tea", 250)
    await register_and_login(cloud.client)
    r = await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": "tea",
                                           "qty": "3"}, page="/")
    assert r.status == 303
    html = await (await cloud.client.get("/cart")).text()
    assert "7.50 EUR" in html
    r = await post(cloud.client, "/checkout", {}, page="/cart")
    assert r.status == 303 and r.headers["Location"].startswith("/orders/")
    order_path = r.headers["Location"]
    html = await (await cloud.client.get(order_path)).text()
    assert "pending payment" in html and 'id="pay"' in html
    assert "Your cart is empty" in await (await cloud.client.get("/cart")).text()
    pay_path = await start_payment(cloud.client, order_path, "1")
    html = await (await cloud.client.get(pay_path)).text()
    assert "Pay 7.50 EUR" in html and "Sandbox payment provider" in html
    r = await post(cloud.client, pay_path, {"card_number": "4242 4242 4242 4241"}, page=pay_path)
    assert r.status == 400
    assert 'data-field="card_number">the card number is not valid' in await r.text()
    r = await post(cloud.client, pay_path, {"card_number": "4242 4242 4242 4242"}, page=pay_path)
    assert r.status == 303 and r.headers["Location"] == order_path
    html = await (await cloud.client.get(order_path)).text()
    code = re.search(r'id="pickup-code">(\d{6})<', html).group(1)
    assert "<svg" in html and "paid" in html
    from fingerpos.cloud.models.orders import Order
    with in_app(cloud.app):
        order = await Order.get(id=int(order_path.rsplit("/", 1)[1]))
        assert code not in (order.pickup_hash or "")


async def test_bad_cart_cookie_reads_as_empty(cloud):
    cloud.client.session.cookie_jar.update_cookies({"fp_cart": "%%%not-base64"})
    assert "Your cart is empty" in await (await cloud.client.get("/cart")).text()
    cloud.client.session.cookie_jar.update_cookies({"fp_cart": "eyJzaG9wIjogMX0"})  # {"shop": 1}
    assert "Your cart is empty" in await (await cloud.client.get("/cart")).text()


async def test_stale_version_payment_is_refused_with_a_clear_message(cloud):
    await cloud.product("shop1", "tea", 250)
    seller = await cloud.user("seller", shop="shop1", can_change_price=True)
    await register_and_login(cloud.client)
    await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": "tea", "qty": "2"},
               page="/")
    r = await post(cloud.client, "/checkout", {}, page="/cart")
    order_path = r.headers["Location"]
    oid = order_path.rsplit("/", 1)[1]
    token = await csrf_of(cloud.client, order_path)
    r = await cloud.client.post(f"/api/v1/orders/{oid}/price", headers=seller,
                                json={"version": 1, "total": 400, "reason": "regular"})
    assert r.status == 200
    r = await cloud.client.post(order_path + "/pay", data={"csrf": token, "version": "1"})
    assert r.status == 409
    html = await r.text()
    assert "the shop changed this order&#39;s price" in html and "4.00 EUR" in html


async def test_price_change_while_on_the_pay_page_is_refused_there(cloud):
    await cloud.product("shop1", "tea", 250)
    seller = await cloud.user("seller", shop="shop1", can_change_price=True)
    await register_and_login(cloud.client)
    await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": "tea", "qty": "2"},
               page="/")
    order_path = (await post(cloud.client, "/checkout", {}, page="/cart")).headers["Location"]
    pay_path = await start_payment(cloud.client, order_path, "1")
    token = await csrf_of(cloud.client, pay_path)
    oid = order_path.rsplit("/", 1)[1]
    r = await cloud.client.post(f"/api/v1/orders/{oid}/price", headers=seller,
                                json={"version": 1, "total": 300})
    assert r.status == 200
    r = await cloud.client.post(pay_path, data={"csrf": token, "card_number": "4242424242424242"})
    assert r.status == 409
    html = await r.text()
    assert "You were not charged" in html and "3.00 EUR" in html
    assert "pending payment" in await (await cloud.client.get(order_path)).text()


async def test_declined_card_leaves_the_order_unpaid(cloud):
    await cloud.product("shop1", "tea", 250)
    await register_and_login(cloud.client)
    await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": "tea", "qty": "1"},
               page="/")
    order_path = (await post(cloud.client, "/checkout", {}, page="/cart")).headers["Location"]
    pay_path = await start_payment(cloud.client, order_path, "1")
    r = await post(cloud.client, pay_path, {"card_number": "4242424242424242",
                                            "outcome": "decline"}, page=pay_path)
    assert r.status == 402 and "declined" in await r.text()
    assert "pending payment" in await (await cloud.client.get(order_path)).text()


async def test_other_buyers_order_is_not_found(cloud):
    await cloud.product("shop1", "tea", 250)
    other = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=other, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    oid = (await r.json())["id"]
    await register_and_login(cloud.client)
    assert (await cloud.client.get(f"/orders/{oid}")).status == 404
    assert (await cloud.client.get("/orders/99999999999")).status == 404
    assert (await cloud.client.get("/orders/abc")).status == 404


async def test_overlapping_requests_each_keep_their_database_context(cloud):
    """A page and its script's fetches overlap in a browser: none may fail for it."""
    import asyncio
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    answers = await asyncio.gather(*[
        cloud.client.get("/api/v1/orders" if n % 2 else "/", headers=buyer if n % 2 else {})
        for n in range(40)])
    assert [r.status for r in answers] == [200] * 40
