"""Orders that complete (issue #16 item 2): an in-person sale waits for nobody and the
monitor flags only orders that wait for the shop; a web order paid in cash at the
counter has its shop's own expiry, shown to the buyer in the shop's local time; staff
record the cash from the order page (CSRF-protected, audited).

Outside references: two shops in two time zones (Asia/Shanghai, America/New_York, neither
UTC), the zh-CN page, another shop's staff, a forged form without its CSRF token."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fingerpos.cloud import orders
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.orders import Order, OrderEvent

from .conftest import in_app
from .support.pages import csrf_of, staff_session

pytestmark = pytest.mark.cloud


async def _settings(cloud, shop: str, headers, **body):
    return await cloud.client.patch(f"/api/v1/shops/{shop}", headers=headers, json=body)


async def _web_order(cloud, buyer, shop: str, cash: bool) -> int:
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": shop, "items": [{"sku": "tea", "qty": 2}]})
    assert r.status == 201, await r.text()
    oid = (await r.json())["id"]
    if cash:
        r = await cloud.client.post(f"/api/v1/orders/{oid}/payments", headers=buyer,
                                    json={"provider": "cash", "version": 1})
        assert r.status == 201, await r.text()
    return oid


async def _age(oid: int, minutes: int) -> datetime:
    at = datetime.now(UTC) - timedelta(minutes=minutes)
    await Order.filter(id=oid).update(state_changed_at=at)
    return at


async def test_the_monitor_flags_only_orders_waiting_for_the_shop(cloud):
    await cloud.device("t1", "shop1")
    await cloud.product("shop1", "tea", 250)
    with in_app(cloud.app):
        sale = await orders.from_sale("t1", 1, {
            "ref": "r1", "items": [{"sku": "tea", "qty": 1, "price": 250}],
            "payment": {"method": "cash", "amount": 250, "currency": "EUR"}})
    assert sale.state == "completed"
    await staff_session(cloud)
    html = await (await cloud.client.get("/monitor")).text()
    limits = json.loads(re.search(r"data-limits='([^']*)'", html).group(1))
    assert f'data-order="{sale.id}" data-state="completed" data-source="terminal"' in html
    assert "completed" not in limits["terminal"] and "completed" not in limits["web"]
    assert "pending_payment" not in limits["web"]       # the buyer's move; it expires itself
    assert limits["web"]["paid"] == cloud.app[CONFIG].accept_alert_s
    assert set(limits["terminal"]) == {"paid", "held"}  # a revised sale waiting for its receipt


async def test_cash_orders_expire_after_their_shops_setting_shown_in_local_time(cloud):
    admin = await cloud.admin()
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop2", "tea", 250)
    for shop, zone, wait in (("shop1", "Asia/Shanghai", 3600), ("shop2", "America/New_York", 600)):
        r = await _settings(cloud, shop, admin, timezone=zone, cash_expiry_s=wait)
        assert r.status == 200 and (await r.json())["timezone"] == zone, await r.text()
    buyer = await cloud.user()
    card = await _web_order(cloud, buyer, "shop1", cash=False)
    cash1 = await _web_order(cloud, buyer, "shop1", cash=True)
    cash2 = await _web_order(cloud, buyer, "shop2", cash=True)
    with in_app(cloud.app):
        for oid in (card, cash1, cash2):
            since = await _age(oid, 20)
        assert await orders.expire_unpaid(900) == 2      # the card order after 15 min, shop2's
        states = {o.id: o.state for o in await Order.filter(id__in=[card, cash1, cash2])}
    assert states == {card: "expired", cash1: "pending_payment", cash2: "expired"}
    # the buyer's page: shop1's deadline, in Shanghai's time (UTC+8), in both languages
    due = (since + timedelta(seconds=3600)).astimezone(ZoneInfo("Asia/Shanghai"))
    buyer_session = await cloud.client.post("/api/v1/auth/login", json={
        "email": await _email(cloud, buyer), "password": "password123"})
    assert buyer_session.status == 200
    html = await (await cloud.client.get(f"/orders/{cash1}?lang=en")).text()
    stamp = due.strftime("%Y-%m-%d %H:%M")
    assert f"Bring the cash to the counter by {stamp} (Asia/Shanghai)" in html
    html = await (await cloud.client.get(f"/orders/{cash1}?lang=zh-CN")).text()
    assert f"请在 {stamp}（Asia/Shanghai）之前到柜台付现金" in html
    assert due.utcoffset() == timedelta(hours=8) and stamp != (since + timedelta(hours=1)
                                                               ).strftime("%Y-%m-%d %H:%M")


async def _email(cloud, headers) -> str:
    from fingerpos.cloud.models.users import User
    with in_app(cloud.app):
        return (await User.get(id=int(headers["X-User-Id"]))).email


async def test_shop_settings_refuse_bad_input_and_other_shops(cloud):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop2", "tea", 250)
    manager = await cloud.user("manager", shop="shop1")
    seller = await cloud.user("seller", shop="shop1")
    other = await cloud.user("manager", shop="shop2")
    for body in ({"timezone": "Mars/Olympus"}, {"timezone": "../../etc/passwd"},
                 {"cash_expiry_s": 10}, {"cash_expiry_s": 10**12}, {"cash_expiry_s": "60"},
                 {"shift_diff_limit": -1}, {"shift_refund_cap": "5"}, {"colour": "red"}):
        assert (await _settings(cloud, "shop1", manager, **body)).status == 400, body
    assert (await _settings(cloud, "shop1", seller, cash_expiry_s=600)).status == 403
    assert (await _settings(cloud, "shop1", other, cash_expiry_s=600)).status == 403
    r = await _settings(cloud, "shop1", manager, timezone="Asia/Shanghai", cash_expiry_s=1800)
    assert await r.json() == {"id": "shop1", "name": "", "timezone": "Asia/Shanghai",
                              "cash_expiry_s": 1800, "address": "", "tax_id": "",
                              "tax_rounding": "line", "refund_window_days": 30,
                              "refund_approval_above": 20000, "shift_diff_limit": 1000,
                              "shift_refund_cap": 0}
    with in_app(cloud.app):
        (entry,) = await AuditEntry.filter(action="shop.settings")
    assert entry.detail == {"timezone": "Asia/Shanghai", "cash_expiry_s": 1800}


async def test_staff_record_the_cash_from_the_order_page(cloud):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop2", "tea", 250)
    buyer = await cloud.user()
    oid = await _web_order(cloud, buyer, "shop1", cash=True)
    foreign = await _web_order(cloud, buyer, "shop2", cash=True)
    await staff_session(cloud, "seller")
    page = f"/orders/{oid}"
    html = await (await cloud.client.get(page)).text()
    assert 'id="take-cash"' in html and "Cash received: 5.00 EUR" in html
    r = await cloud.client.post(page + "/cash", data={"version": "1"}, allow_redirects=False)
    assert r.status == 403                              # no CSRF token: a forged form
    token = await csrf_of(cloud.client, page)
    r = await cloud.client.post(f"/orders/{foreign}/cash", data={"csrf": token, "version": "1"},
                                allow_redirects=False)
    assert r.status == 404                              # another shop's order
    r = await cloud.client.post(page + "/cash", data={"csrf": token, "version": "7"},
                                allow_redirects=False)
    assert r.status == 409 and "stale version" in await r.text()
    r = await cloud.client.post(page + "/cash", data={"csrf": token, "version": "1"},
                                allow_redirects=False)
    assert r.status == 303, await r.text()
    with in_app(cloud.app):
        order = await Order.get(id=oid)
        event = await OrderEvent.filter(order_id=oid, to_state="paid").first()
        (entry,) = await AuditEntry.filter(action="order.cash")
        assert (await Order.get(id=foreign)).state == "pending_payment"
    assert order.state == "paid"
    assert event.user_id == entry.user_id and event.user_id != int(buyer["X-User-Id"])
    assert entry.detail == {"amount": 500, "currency": "EUR", "version": 1}
    html = await (await cloud.client.get(page)).text()
    assert 'id="take-cash"' not in html
    r = await cloud.client.post(page + "/cash", data={"csrf": token, "version": "1"},
                                allow_redirects=False)
    assert r.status == 409                              # paid once
