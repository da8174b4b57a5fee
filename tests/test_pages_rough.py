"""The rough edges of the staff pages (issue #17 item 5): alarms named for people and
linked to their order, cleared alarms leaving the open list, units on the devices page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import in_app
from .support.pages import staff_session

pytestmark = pytest.mark.cloud


async def _paid_web_order(cloud, shop: str = "shop1") -> int:
    buyer = await cloud.user()
    await cloud.product(shop, "tea", 250)
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": shop, "items": [{"sku": "tea", "qty": 1}]})
    order = await r.json()
    assert (await cloud.pay(buyer, order["id"])).status == 200
    return order["id"]


async def test_unaccepted_alarm_is_named_linked_and_seen_by_its_shop_only(cloud):
    from fingerpos.cloud import orders
    from fingerpos.cloud.models.orders import Order
    oid = await _paid_web_order(cloud)
    with in_app(cloud.app):
        await Order.all().update(state_changed_at=datetime.now(UTC) - timedelta(minutes=6))
        assert await orders.flag_unaccepted(300) == 1     # Config.accept_alert_s: 5 min
    await staff_session(cloud)
    html = await (await cloud.client.get("/alarms")).text()
    assert f'<a class="title" href="/orders/{oid}">Order {oid} not accepted for 5 min</a>' in html
    assert f'href="/orders/{oid}">Order {oid} not accepted' in await (
        await cloud.client.get("/monitor")).text()
    # The REST API keeps its fields and adds title, title_zh and link.
    body = await (await cloud.client.get("/api/v1/alarms?open=true")).json()
    (alarm,) = body["alarms"]
    assert alarm["kind"] == "unaccepted:shop1" and alarm["shop"] == "shop1"
    assert alarm["link"] == f"/orders/{oid}"
    assert alarm["title_zh"] == f"订单 {oid} 已付款 5 分钟仍未接单"
    # Another shop's staff do not see it; an admin does.
    other = await cloud.user("manager", shop="shop9")
    assert (await (await cloud.client.get("/api/v1/alarms", headers=other)).json()
            )["alarms"] == []
    admin = await cloud.admin()
    assert [a["id"] for a in (await (await cloud.client.get(
        "/api/v1/alarms", headers=admin)).json())["alarms"]] == [alarm["id"]]


async def test_cleared_alarm_leaves_the_open_list(cloud):
    await cloud.device("t1", "shop1")
    from fingerpos.cloud.fleet import alarms
    with in_app(cloud.app):
        a = await alarms.raise_alarm("t1", "login_failures", "warning",
                                     "4 failed pin logins on t1 (last: 3)")
    await staff_session(cloud)
    html = await (await cloud.client.get("/alarms")).text()
    assert 'href="/devices#device-t1">4 failed logins on terminal t1</a>' in html
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = await cloud.client.post(f"/api/v1/alarms/{a.id}/clear", headers={"X-CSRF-Token": csrf})
    assert r.status == 200, await r.text()
    html = await (await cloud.client.get("/alarms?show=open")).text()
    assert f'data-alarm="{a.id}"' not in html and '<p class="empty" id="no-alarms">' in html
    assert f'data-alarm="{a.id}"' not in await (await cloud.client.get("/monitor")).text()
    assert "· cleared" in await (await cloud.client.get("/alarms?show=all")).text()


@pytest.mark.parametrize("kind,device,message,title,link", [
    ("pickup_mismatch", "t1", "wrong pickup code for order 77", "Wrong pickup code for order 77 "
     "at t1", "/orders/77"),
    ("low_stock", None, "oolong: 2 left (threshold 5)", "Low stock: oolong",
     "/shop/products/oolong/edit"),
    ("terminal:tamper", "t1", "terminal t1: tamper (event 9)", "Terminal t1: tamper",
     "/devices#device-t1"),
    # A message of a shape the table does not know still gets a title, never an error.
    ("unaccepted:shop1", None, "something else", "Order ? paid but not accepted", None),
    ("brand_new", None, "", "brand new", None),
])
def test_alarm_titles_read_their_source_messages(kind, device, message, title, link):
    from fingerpos.cloud.fleet.alarm_text import describe
    en, zh, where = describe(kind, device, message)
    assert (en, where) == (title, link) and zh


async def test_devices_page_shows_units_relative_time_and_local_time_title(cloud):
    from fingerpos.cloud.models.devices import Device
    from fingerpos.cloud.models.shops import Shop
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        await Shop.update_or_create(id="shop1", defaults={"name": "Corner Tea House",
                                                          "timezone": "Asia/Shanghai"})
        # Two and a half hours ago by the server's clock; the title shows it in Shanghai
        # (UTC+8 all year since 1991), not in UTC.
        seen = (datetime.now(UTC) - timedelta(hours=2, minutes=30)).replace(microsecond=0)
        await Device.filter(id="t1").update(last_seen=seen, heap_free=104448, rssi=-67,
                                            outbox=3, uptime=3 * 3600 + 12 * 60)
    await staff_session(cloud)
    html = await (await cloud.client.get("/devices")).text()
    assert ">102.0 KB<" in html and ">-67 dBm<" in html and ">3 events<" in html
    assert ">3 h 12 min<" in html
    shanghai = (seen + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    assert f'title="{shanghai} CST (Asia/Shanghai)">seen 2 h ago<' in html


async def test_openapi_documents_the_alarm_fields_the_api_returns(cloud):
    """The document and the answer agree: every field an alarm has is described, and the
    added ones (title, title_zh, link) are in both."""
    await cloud.device("t1", "shop1")
    from fingerpos.cloud.fleet import alarms
    with in_app(cloud.app):
        await alarms.raise_alarm("t1", "seq_gap", "warning", "2 event(s) missing: seq 4..5")
    doc = await (await cloud.client.get("/api/v1/openapi.json")).json()
    described = doc["components"]["schemas"]["Alarm"]["properties"]
    listed = doc["paths"]["/api/v1/alarms"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["properties"]["alarms"]["items"]
    assert listed == {"$ref": "#/components/schemas/Alarm"}
    (alarm,) = (await (await cloud.client.get("/api/v1/alarms",
                                              headers=await cloud.admin())).json())["alarms"]
    assert set(alarm) == set(described) and {"title", "title_zh", "link"} <= set(alarm)
    assert alarm["title"] == "Events missing from terminal t1"


async def test_unknown_page_is_a_designed_404_in_the_browsers_language(cloud):
    r = await cloud.client.get("/no/such/page", headers={"Accept": "text/html,*/*;q=0.8"})
    html = await r.text()
    assert r.status == 404 and r.content_type == "text/html"
    assert "<h1>Page not found</h1>" in html and 'href="/">Back to the shop<' in html
    assert "404: Not Found" not in html and r.headers["X-Frame-Options"] == "DENY"
    r = await cloud.client.get("/no/such/page", headers={
        "Accept": "text/html", "Accept-Language": "zh-TW;q=0.9,en;q=0.5"})
    html = await r.text()
    assert '<html lang="zh-CN">' in html and "<h1>页面不存在</h1>" in html
    # The API keeps its JSON error body, and so does a client asking for JSON only.
    r = await cloud.client.get("/api/v1/no-such", headers={"Accept": "text/html"})
    assert r.status == 404 and (await r.json())["error"] == "not_found"
    r = await cloud.client.get("/no/such/page", headers={"Accept": "application/json"})
    assert r.status == 404 and r.content_type != "text/html"


async def test_a_crash_is_a_designed_500_without_the_traceback(cloud, caplog):
    """A hostile or unlucky request that makes a page raise: the person reads a page with a
    reference, the log has the traceback, the answer has none of it."""
    async def boom(request):
        raise RuntimeError("secret detail /etc/fingerpos/key")
    # Every real handler is meant not to crash, so the test adds one that does (the running
    # app's router is frozen; aiohttp keeps that as a flag).
    from fingerpos.cloud.api import policy as P
    from fingerpos.cloud.web.page import page, page_user
    cloud.app.router._frozen = False
    P.declare(cloud.app, "GET", "/boom", boom, P.PUBLIC, page_user, wrap=page)
    P.declare(cloud.app, "GET", "/api/v1/boom", boom, P.PUBLIC, page_user)
    for lang, heading in (("en", "Something went wrong on our side"), ("zh-CN", "服务器出错了")):
        r = await cloud.client.get("/boom", headers={"Accept": "text/html",
                                                     "Accept-Language": lang})
        html = await r.text()
        assert r.status == 500 and f"<h1>{heading}</h1>" in html
        assert "secret detail" not in html and "Traceback" not in html
        assert "RuntimeError" not in html
    ref = re.search(r"[：:] ?([0-9a-f]{8})</p>", html).group(1)
    assert any(ref in rec.getMessage() and rec.exc_info for rec in caplog.records)
    r = await cloud.client.get("/api/v1/boom")
    body = await r.json()
    assert r.status == 500 and body["error"] == "internal" and "secret" not in str(body)
