"""The shop's order pages over HTTP (no browser): monitor, devices and alarms for staff, the
price change form, hold and release, line-by-line revision, the CSV export link, printing."""

from __future__ import annotations

import re

import pytest

from .conftest import in_app
from .support.pages import post, staff_session

pytestmark = pytest.mark.cloud


async def test_monitor_devices_alarms_render_for_staff(cloud):
    await cloud.device("t1", "shop1")
    from fingerpos.cloud.fleet import alarms
    with in_app(cloud.app):
        await alarms.raise_alarm("t1", "login_failures", "warning", "<b>3 failed</b> pin logins")
    await staff_session(cloud)
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
    await staff_session(cloud)
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


async def test_held_order_is_revised_line_by_line_with_field_errors(cloud):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop1", "cake", 400)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 2}, {"sku": "cake", "qty": 1}]})
    oid = (await r.json())["id"]
    await staff_session(cloud)
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
    await staff_session(cloud)
    html = await (await cloud.client.get("/orders?state=pending_payment")).text()
    link = re.search(r'id="export" href="([^"]+)"', html).group(1)
    assert link == "/api/v1/orders/export.csv?state=pending_payment"
    r = await cloud.client.get(link)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert len((await r.text()).strip().splitlines()) == 2


async def test_print_from_the_order_page_needs_a_terminal(cloud):
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    oid = (await r.json())["id"]
    assert (await cloud.pay(buyer, oid)).status == 200
    await staff_session(cloud)
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
