"""The pages over HTTP (no browser): forms, CSRF, escaping, field errors, cookie flags,
the failed-sign-in notice, the cart cookie, order pages and staff actions."""

from __future__ import annotations

import re

import pytest

from .conftest import in_app

pytestmark = pytest.mark.cloud
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def csrf_of(client, path: str = "/login") -> str:
    r = await client.get(path)
    assert r.status == 200, await r.text()
    return CSRF.search(await r.text()).group(1)


async def post(client, path: str, data: dict, page: str = "/login", **kw):
    token = await csrf_of(client, page)
    return await client.post(path, data={"csrf": token, **data}, allow_redirects=False, **kw)


async def start_payment(client, order_path: str, version: str) -> str:
    """Press Pay on the order page: a payment intent, then the sandbox's hosted page."""
    r = await post(client, order_path + "/pay", {"version": version}, page=order_path)
    assert r.status == 303 and r.headers["Location"].startswith("/pay/sandbox/pi_"), await r.text()
    return r.headers["Location"]


async def register_and_login(client, email: str = "ann@example.com",
                             password: str = "correct horse") -> None:
    r = await post(client, "/register", {"email": email, "password": password,
                                         "password2": password, "name": "Ann"})
    assert r.status == 303 and r.headers["Location"] == "/login?registered=1"
    r = await post(client, "/login", {"email": email, "password": password, "next": "/"})
    assert r.status == 303, await r.text()


async def test_pages_render_with_security_headers(cloud):
    r = await cloud.client.get("/")
    assert r.status == 200
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "fp_pre" in r.cookies and r.cookies["fp_pre"]["httponly"]
    assert r.cookies["fp_pre"]["samesite"] == "Strict"
    for path in ("/login", "/register", "/cart", "/static/site.css", "/static/live.js"):
        assert (await cloud.client.get(path)).status == 200, path


async def test_register_field_errors_are_next_to_their_fields(cloud):
    r = await post(cloud.client, "/register", {"email": "not-an-address", "password": "short",
                                               "password2": "short"})
    assert r.status == 400
    html = await r.text()
    assert re.search(r'data-field="email">enter an email address', html)
    assert re.search(r'data-field="password">must be at least 8 characters', html)
    assert 'value="not-an-address"' in html        # what was typed stays, except passwords
    r = await post(cloud.client, "/register", {"email": "a@example.com", "password": "password1",
                                               "password2": "password2"})
    assert 'data-field="password2">the two passwords differ' in await r.text()


async def test_forms_need_their_csrf_token(cloud):
    r = await cloud.client.post("/login", data={"email": "a@example.com", "password": "x"},
                                allow_redirects=False)
    assert r.status == 403 and "another site" in await r.text()
    await register_and_login(cloud.client)
    r = await cloud.client.post("/logout", data={"csrf": "wrong"}, allow_redirects=False)
    assert r.status == 403


async def test_login_cookie_flags_and_no_user_enumeration(cloud):
    await register_and_login(cloud.client)
    cookie = cloud.client.session.cookie_jar.filter_cookies(cloud.client.make_url("/"))
    assert "fp_session" in cookie
    r = await post(cloud.client, "/register", {"email": "ann@example.com", "password": "another one",
                                               "password2": "another one"})
    # A taken address answers exactly like a free one.
    assert r.status == 303 and r.headers["Location"] == "/login?registered=1"
    bad_known = await post(cloud.client, "/login", {"email": "ann@example.com", "password": "nope!"})
    bad_unknown = await post(cloud.client, "/login", {"email": "zed@example.com", "password": "nope!"})
    assert bad_known.status == bad_unknown.status == 401
    assert "wrong email or password" in await bad_known.text()
    assert "wrong email or password" in await bad_unknown.text()


async def test_login_sets_httponly_lax_cookie(cloud):
    await post(cloud.client, "/register", {"email": "b@example.com", "password": "password123",
                                           "password2": "password123"})
    r = await post(cloud.client, "/login", {"email": "b@example.com", "password": "password123",
                                            "next": "/orders"})
    assert r.status == 303 and r.headers["Location"] == "/orders?signed_in=1"
    morsel = r.cookies["fp_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"


async def test_open_redirect_is_refused(cloud):
    await post(cloud.client, "/register", {"email": "c@example.com", "password": "password123",
                                           "password2": "password123"})
    r = await post(cloud.client, "/login", {"email": "c@example.com", "password": "password123",
                                            "next": "//evil.example/x"})
    assert r.headers["Location"] == "/?signed_in=1"


async def test_failed_signins_are_shown_to_the_owner_after_login(cloud):
    await register_and_login(cloud.client, "owner@example.com", "password123")
    cloud.client.session.cookie_jar.clear()
    for _ in range(2):
        r = await post(cloud.client, "/login", {"email": "owner@example.com", "password": "guess"})
        assert r.status == 401
    r = await post(cloud.client, "/login", {"email": "owner@example.com", "password": "password123",
                                            "next": "/"})
    page = await (await cloud.client.get(r.headers["Location"])).text()
    assert "2 failed sign-in attempts on your account" in page
    # The next login has nothing new to report.
    cloud.client.session.cookie_jar.clear()
    r = await post(cloud.client, "/login", {"email": "owner@example.com", "password": "password123",
                                            "next": "/"})
    page = await (await cloud.client.get(r.headers["Location"])).text()
    assert "failed sign-in" not in page


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


async def test_staff_pages_need_staff(cloud):
    r = await cloud.client.get("/monitor", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login?next=/monitor"
    await register_and_login(cloud.client)
    r = await cloud.client.get("/monitor")
    assert r.status == 403 and "for seller or manager or admin" in await r.text()


async def _staff_session(cloud, role: str = "manager", can_change_price: bool = False) -> None:
    from fingerpos.cloud.models.users import Role
    from fingerpos.cloud.users import create_user
    with in_app(cloud.app):
        await create_user(f"{role}@example.com", "password123", Role(role), shop_id="shop1",
                          can_change_price=can_change_price)
    r = await post(cloud.client, "/login", {"email": f"{role}@example.com",
                                            "password": "password123", "next": "/"})
    assert r.headers["Location"] == "/monitor?signed_in=1"


async def test_monitor_devices_alarms_render_for_staff(cloud):
    await cloud.device("t1", "shop1")
    from fingerpos.cloud import alarms
    with in_app(cloud.app):
        await alarms.raise_alarm("t1", "login_failures", "warning", "<b>3 failed</b> pin logins")
    await _staff_session(cloud)
    html = await (await cloud.client.get("/monitor")).text()
    assert "&lt;b&gt;3 failed&lt;/b&gt;" in html and 'data-ack="' in html
    assert 'data-device="t1"' in await (await cloud.client.get("/devices")).text()
    assert "login_failures" in await (await cloud.client.get("/alarms")).text()


async def test_staff_price_change_form_errors_and_hold_release(cloud):
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})
    oid = (await r.json())["id"]
    await _staff_session(cloud)
    path = f"/orders/{oid}"
    r = await post(cloud.client, path + "/price", {"version": "1", "total": "4,x"}, page=path)
    assert r.status == 400 and 'data-field="total">enter an amount like 12.50' in await r.text()
    r = await post(cloud.client, path + "/price", {"version": "1", "total": "4.50",
                                                   "reason": "x" * 201}, page=path)
    assert 'data-field="reason">must be at most 200 characters' in await r.text()
    r = await post(cloud.client, path + "/price", {"version": "1", "total": "4.50",
                                                   "reason": "loyal"}, page=path)
    assert r.status == 303
    html = await (await cloud.client.get(path)).text()
    assert "4.50 EUR" in html and 'id="order-version">2<' in html
    r = await post(cloud.client, path + "/price", {"version": "1", "total": "3"}, page=path)
    assert r.status == 409 and "version 2, not 1" in await r.text()
    assert (await post(cloud.client, path + "/hold", {}, page=path)).status == 303
    assert "held" in await (await cloud.client.get(path)).text()
    assert (await post(cloud.client, path + "/release", {}, page=path)).status == 303
    assert "pending payment" in await (await cloud.client.get(path)).text()


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


async def test_held_order_is_revised_line_by_line_with_field_errors(cloud):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop1", "cake", 400)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 2}, {"sku": "cake", "qty": 1}]})
    oid = (await r.json())["id"]
    await _staff_session(cloud)
    path = f"/orders/{oid}"
    assert (await post(cloud.client, path + "/hold", {}, page=path)).status == 303
    html = await (await cloud.client.get(path)).text()
    assert 'id="revise-form"' in html and 'name="line-0-price" inputmode="decimal" value="2.50"' in html
    r = await post(cloud.client, path + "/revise", {
        "version": "1", "line-0-sku": "tea", "line-0-name": "Tea", "line-0-qty": "2",
        "line-0-price": "two", "line-1-sku": "cake", "line-1-name": "Cake", "line-1-qty": "-1",
        "line-1-price": "4.00"}, page=path)
    assert r.status == 400
    html = await r.text()
    assert 'data-field="line-0-price">enter an amount like 12.50' in html
    assert 'data-field="line-1-qty">must be at least 1' in html
    assert 'data-field="revise_reason">say why the order is revised' in html
    r = await post(cloud.client, path + "/revise", {
        "version": "1", "line-0-sku": "tea", "line-0-name": "Tea", "line-0-qty": "2",
        "line-0-price": "2.00", "line-1-sku": "cake", "line-1-name": "Cake", "line-1-qty": "0",
        "line-1-price": "4.00", "revise_reason": "cake sold out"}, page=path)
    assert r.status == 303, await r.text()
    html = await (await cloud.client.get(path)).text()
    assert "pending payment" in html and 'id="order-total">4.00 EUR<' in html
    assert "Validation before print:</strong> version 2" in html and "passed" in html
    assert "Cake" not in html.split('id="timeline"')[0].split("<tbody>")[1]


async def test_staff_orders_page_links_the_csv_export(cloud):
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})
    await _staff_session(cloud)
    html = await (await cloud.client.get("/orders?state=pending_payment")).text()
    link = re.search(r'id="export" href="([^"]+)"', html).group(1)
    assert link == "/api/v1/orders/export.csv?state=pending_payment"
    r = await cloud.client.get(link)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert len((await r.text()).strip().splitlines()) == 2


async def test_registrations_are_throttled_per_address(cloud):
    from fingerpos.cloud.web.views_auth import REGISTER_LIMIT
    for n in range(REGISTER_LIMIT):
        r = await post(cloud.client, "/register", {"email": f"r{n}@example.com", "password": "x"})
        assert r.status == 400
    r = await post(cloud.client, "/register", {"email": "late@example.com",
                                               "password": "password123",
                                               "password2": "password123"})
    assert r.status == 429 and "too many registrations" in await r.text()


async def test_live_feeds_refuse_a_foreign_origin(cloud):
    await register_and_login(cloud.client)
    for path in ("/api/v1/orders/ws", "/api/v1/monitor/ws"):
        r = await cloud.client.get(path, headers={
            "Origin": "https://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert r.status == 403, path
    ws = await cloud.client.ws_connect("/api/v1/orders/ws",
                                       headers={"Origin": str(cloud.client.make_url("/"))[:-1]})
    assert (await ws.receive_json(timeout=5))["kind"] == "hello"
    await ws.close()


async def test_print_from_the_order_page_needs_a_terminal(cloud):
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    oid = (await r.json())["id"]
    assert (await cloud.pay(buyer, oid)).status == 200
    await _staff_session(cloud)
    path = f"/orders/{oid}"
    html = await (await cloud.client.get(path)).text()
    assert 'id="print"' in html and f'href="/api/v1/orders/{oid}/receipt.pdf"' in html
    r = await post(cloud.client, path + "/print", {}, page=path)
    assert r.status in (404, 409) and "terminal" in await r.text()
    await cloud.device("t1", "shop1")
    r = await post(cloud.client, path + "/print", {}, page=path)
    assert r.status == 200 and "terminal t1" in await r.text()
    pdf = await cloud.client.get(f"/api/v1/orders/{oid}/receipt.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
