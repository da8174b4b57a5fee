"""Stock that follows sales (issue #16 item 1): web orders reserve, release and consume in
the order change's transaction, the web never sells more than there is (50 buyers for the
last 10 units, on SQLite and PostgreSQL), terminal sales are never refused and alarm when
they take stock below zero, low stock alarms once per crossing, adjustments carry a reason
into the audit trail, and a refund can put goods back (`stock.restock`).

Outside references: a second shop selling the same SKU, Chinese product names and
reasons, hostile input (negative, huge, another shop's product), and the buyer's
cart page in zh-CN (cloud/web/i18n.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fingerpos.cloud import orders
from fingerpos.cloud.core.errors import Invalid
from fingerpos.cloud.models.alarms import Alarm, AuditEntry
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.shops import Product, StockMove
from fingerpos.cloud.orders import stock

from .conftest import in_app
from .support.pages import post, register_and_login

pytestmark = pytest.mark.cloud
URL = "/api/v1/shops/{}/products/{}/stock"


async def _tracked(cloud, shop: str, sku: str, name: str, on_hand: int, low: int | None = None,
                   price: int = 1890) -> None:
    """A product of `shop` that tracks stock, with `on_hand` counted by its manager."""
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": shop}, headers=admin)
    body = {"sku": sku, "name": name, "price": price, "currency": "CNY", "track_stock": True,
            "stock": on_hand} | ({"low_stock": low} if low is not None else {})
    r = await cloud.client.post(f"/api/v1/shops/{shop}/products", headers=admin, json=body)
    assert r.status == 200, await r.text()
    assert (await r.json())["available"] == on_hand


async def _levels(cloud, shop: str, sku: str) -> tuple[int, int]:
    with in_app(cloud.app):
        p = await Product.get(shop_id=shop, sku=sku)
    return p.stock, p.reserved


async def _order(cloud, buyer, shop: str, sku: str, qty: int):
    return await cloud.client.post("/api/v1/orders", headers=buyer,
                                   json={"shop": shop, "items": [{"sku": sku, "qty": qty}]})


async def test_fifty_buyers_for_the_last_ten_units(cloud):
    """Exactly 10 orders succeed; the other 40 get 409 out_of_stock naming what is left.
    The second shop's product with the same SKU is untouched."""
    await _tracked(cloud, "shop1", "oolong", "乌龙茶", 10)
    await _tracked(cloud, "shop2", "oolong", "乌龙茶", 10)
    buyers = [await cloud.user() for _ in range(50)]
    answers = await asyncio.wait_for(asyncio.gather(
        *[_order(cloud, b, "shop1", "oolong", 1) for b in buyers]), timeout=120)
    codes = sorted(r.status for r in answers)
    assert codes == [201] * 10 + [409] * 40
    refused = [await r.json() for r in answers if r.status == 409]
    assert {e["error"] for e in refused} == {"out_of_stock"}
    assert all("of oolong left; you asked for 1" in e["message"] for e in refused)
    assert await _levels(cloud, "shop1", "oolong") == (10, 10)      # all 10 reserved
    assert await _levels(cloud, "shop2", "oolong") == (10, 0)
    with in_app(cloud.app):
        assert await StockMove.filter(shop_id="shop1", kind="reserve").count() == 10
    r = await cloud.client.get("/api/v1/shops/shop1/products/oolong")
    assert (await r.json())["available"] == 0


async def test_reservation_released_on_cancel_and_expiry_consumed_on_payment(cloud):
    await _tracked(cloud, "shop1", "jasmine", "茉莉花茶", 6)
    buyer = await cloud.user()
    a, b, c = [await (await _order(cloud, buyer, "shop1", "jasmine", 2)).json() for _ in "abc"]
    assert await _levels(cloud, "shop1", "jasmine") == (6, 6)
    r = await _order(cloud, buyer, "shop1", "jasmine", 1)
    assert r.status == 409 and "only 0 of jasmine left" in (await r.json())["message"]
    r = await cloud.client.post(f"/api/v1/orders/{a['id']}/cancel", headers=buyer)
    assert r.status == 200
    assert await _levels(cloud, "shop1", "jasmine") == (6, 4)
    with in_app(cloud.app):                          # b: its 15 minutes are over
        await Order.filter(id=b["id"]).update(state_changed_at=datetime.now(UTC)
                                              - timedelta(hours=1))
        assert await orders.expire_unpaid(900) == 1
    assert await _levels(cloud, "shop1", "jasmine") == (6, 2)
    r = await cloud.pay(buyer, c["id"])               # paid: the 2 leave the shelf
    assert r.status == 200, await r.text()
    assert await _levels(cloud, "shop1", "jasmine") == (4, 0)
    with in_app(cloud.app):
        kinds = [(m.order_id, m.kind, m.d_stock, m.d_reserved) for m in
                 await StockMove.filter(sku="jasmine", order_id__isnull=False).order_by("id")]
    assert kinds[3:] == [(a["id"], "release", 0, -2), (b["id"], "release", 0, -2),
                         (c["id"], "consume", -2, -2)]
    r = await cloud.client.post(f"/api/v1/orders/{a['id']}/cancel", headers=buyer)
    assert r.status == 409                            # cancelled once: released once
    assert await _levels(cloud, "shop1", "jasmine") == (4, 0)


async def test_untracked_products_stay_unlimited(cloud):
    await cloud.product("shop1", "noodles", 1200)     # a bowl of noodles: stock not tracked
    buyer = await cloud.user()
    r = await _order(cloud, buyer, "shop1", "noodles", 5000)
    assert r.status == 201
    assert await _levels(cloud, "shop1", "noodles") == (10, 0)


async def test_hostile_carts(cloud):
    await _tracked(cloud, "shop1", "pot", "紫砂壶", 3)
    await _tracked(cloud, "shop2", "cup", "茶杯", 3)
    buyer = await cloud.user()
    for qty in (-1, 0, 10**12):
        assert (await _order(cloud, buyer, "shop1", "pot", qty)).status == 400
    r = await _order(cloud, buyer, "shop1", "cup", 1)  # shop2's product, named in shop1
    assert r.status == 404
    assert await _levels(cloud, "shop1", "pot") == (3, 0)
    assert await _levels(cloud, "shop2", "cup") == (3, 0)


async def test_terminal_sale_is_never_refused_and_alarms_below_zero(cloud):
    await _tracked(cloud, "shop1", "pot", "紫砂壶", 1)
    await cloud.device("t1", "shop1")
    manager1 = await cloud.user("manager", shop="shop1")
    manager2 = await cloud.user("manager", shop="shop2")
    sale = {"ref": "r1", "items": [{"sku": "pot", "qty": 3, "price": 1890}],
            "payment": {"method": "cash", "amount": 5670, "currency": "CNY"}}
    with in_app(cloud.app):
        order = await orders.from_sale("t1", 1, sale)
        again = await orders.from_sale("t1", 2, sale)   # the same sale delivered again
    assert again.id == order.id and order.state == "completed"
    assert await _levels(cloud, "shop1", "pot") == (-2, 0)
    got = await (await cloud.client.get("/api/v1/alarms", headers=manager1)).json()
    (alarm,) = got["alarms"]
    assert (alarm["kind"], alarm["shop"], alarm["device"]) == ("stock_negative", "shop1", None)
    assert "-2 available" in alarm["message"]
    assert (await (await cloud.client.get("/api/v1/alarms", headers=manager2)).json()
            )["alarms"] == []
    r = await cloud.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=manager2)
    assert r.status == 404                             # another shop's alarm does not exist
    r = await cloud.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=manager1)
    assert r.status == 200


async def test_low_stock_alarms_once_per_crossing(cloud):
    await _tracked(cloud, "shop1", "pot", "紫砂壶", 8, low=5)
    await cloud.device("t1", "shop1")
    manager = await cloud.user("manager", shop="shop1")

    async def sell(n: int) -> None:
        with in_app(cloud.app):
            await orders.from_sale("t1", n, {
                "ref": f"s{n}", "items": [{"sku": "pot", "qty": 1, "price": 1890}],
                "payment": {"method": "cash", "amount": 1890, "currency": "CNY"}})

    async def low_alarms() -> list[Alarm]:
        with in_app(cloud.app):
            return await Alarm.filter(kind="low_stock").order_by("id")

    for n in range(1, 3):          # 8 -> 6: above the threshold
        await sell(n)
    assert await low_alarms() == []
    for n in range(3, 7):          # 6 -> 2: crosses at 5, then stays below
        await sell(n)
    (alarm,) = await low_alarms()
    assert (alarm.count, alarm.shop_id, alarm.cleared_at) == (1, "shop1", None)
    assert "pot: 5 left (threshold 5)" == alarm.message
    r = await cloud.client.post(URL.format("shop1", "pot"), headers=manager,
                                json={"kind": "delivery", "qty": 10, "reason": "到货 10 个"})
    assert r.status == 200, await r.text()
    assert (await r.json())["product"]["available"] == 12
    (alarm,) = await low_alarms()
    assert alarm.cleared_at is not None                # back above: the alarm is over
    for n in range(7, 14):         # 12 -> 5: a new crossing, a new alarm
        await sell(n)
    first, second = await low_alarms()
    assert second.cleared_at is None and second.count == 1


async def test_adjustments_carry_a_reason_into_the_audit_trail(cloud):
    await _tracked(cloud, "shop1", "pot", "紫砂壶", 5)
    await _tracked(cloud, "shop2", "pot", "紫砂壶", 5)
    manager = await cloud.user("manager", shop="shop1")
    seller = await cloud.user("seller", shop="shop1")
    other = await cloud.user("manager", shop="shop2")
    url = URL.format("shop1", "pot")
    ok = [({"kind": "damage", "qty": 2, "reason": "摔碎了两个"}, 3),
          ({"kind": "delivery", "qty": 7, "reason": "delivery note 4711"}, 10),
          ({"kind": "count", "qty": 9, "reason": "月底盘点"}, 9)]
    for body, after in ok:
        r = await cloud.client.post(url, headers=manager, json=body)
        assert r.status == 200, await r.text()
        assert (await r.json())["product"]["stock"] == after
    for body in ({"kind": "damage", "qty": -1, "reason": "x"},
                 {"kind": "delivery", "qty": 10**10, "reason": "x"},
                 {"kind": "delivery", "qty": 0, "reason": "x"},
                 {"kind": "count", "qty": 1, "reason": ""},
                 {"kind": "count", "qty": 1, "reason": "   "},
                 {"kind": "steal", "qty": 1, "reason": "x"},
                 {"kind": "count", "qty": "9", "reason": "x"}):
        r = await cloud.client.post(url, headers=manager, json=body)
        assert r.status == 400, body
    good = {"kind": "count", "qty": 1, "reason": "x"}
    assert (await cloud.client.post(url, headers=seller, json=good)).status == 403
    assert (await cloud.client.post(url, headers=other, json=good)).status == 403
    r = await cloud.client.post(URL.format("shop1", "nope"), headers=manager, json=good)
    assert r.status == 404
    assert await _levels(cloud, "shop1", "pot") == (9, 0)
    assert await _levels(cloud, "shop2", "pot") == (5, 0)
    with in_app(cloud.app):
        trail = [(e.action, e.detail["change"], e.detail["reason"]) for e in
                 await AuditEntry.filter(action__startswith="stock.").order_by("id")]
    assert trail == [("stock.damage", -2, "摔碎了两个"), ("stock.delivery", 7, "delivery note 4711"),
                     ("stock.count", -1, "月底盘点")]
    moves = await (await cloud.client.get(url, headers=seller)).json()
    assert [m["kind"] for m in moves["moves"]][:3] == ["count", "delivery", "damage"]
    assert (await cloud.client.get(url, headers=other)).status == 403


async def test_restock_puts_refunded_goods_back(cloud):
    """The function a refund with restock (item 3) calls, inside its transaction."""
    await _tracked(cloud, "shop1", "pot", "紫砂壶", 0)
    await cloud.product("shop1", "noodles", 1200)
    with in_app(cloud.app):
        levels = await stock.restock(7, "shop1", {"pot": 2, "noodles": 1}, "退货")
        assert [(lv.sku, lv.available, lv.moved) for lv in levels] == [("pot", 2, 2)]
        (move,) = await StockMove.filter(kind="restock")
        assert (move.order_id, move.d_stock, move.stock_after, move.reason) == (7, 2, 2, "退货")
        for bad in (0, -1, 10**10, "2"):
            with pytest.raises(Invalid):
                await stock.restock(7, "shop1", {"pot": bad}, "x")
    assert await _levels(cloud, "shop1", "pot") == (2, 0)


@pytest.mark.parametrize(("lang", "text"), [
    ("zh-CN", "紫砂壶 只剩 2 件，您要了 3 件"), ("en", "Only 2 of 紫砂壶 left; you asked for 3")])
async def test_the_cart_page_says_what_is_short_in_the_buyers_language(cloud, lang, text):
    await _tracked(cloud, "shop1", "pot", "紫砂壶", 2)
    await register_and_login(cloud.client)
    r = await post(cloud.client, "/cart", {"action": "add", "shop": "shop1", "sku": "pot",
                                           "qty": "3"}, page="/")
    assert r.status == 303
    r = await post(cloud.client, f"/checkout?lang={lang}", {}, page="/cart")
    assert r.status == 409
    assert text in await r.text()
    assert await _levels(cloud, "shop1", "pot") == (2, 0)
