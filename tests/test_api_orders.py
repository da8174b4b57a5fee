"""Orders through the API: cart -> pending_payment -> pay (exact match) -> paid; price change;
visibility (a buyer never sees another buyer's order); filters; cancel."""

from __future__ import annotations

import pytest

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def _order(cloud, buyer, qty=2):
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop1", "cake", 400)
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": qty}, {"sku": "cake", "qty": 1}]})
    assert r.status == 201, await r.text()
    return await r.json()


async def test_cart_becomes_pending_order_with_lines_revision_and_event(cloud):
    buyer = await cloud.user()
    order = await _order(cloud, buyer)
    assert order["state"] == "pending_payment" and order["total"] == 900
    assert order["version"] == 1 and order["currency"] == "EUR"
    assert [ln["sku"] for ln in order["lines"]] == ["tea", "cake"]
    assert order["revisions"] == [{**order["revisions"][0], "version": 1, "total": 900}]
    assert [(e["from"], e["to"]) for e in order["events"]] == [(None, "pending_payment")]


async def test_payment_must_match_amount_currency_and_version(cloud):
    buyer = await cloud.user()
    seller = await cloud.user("seller", shop="shop1")   # a counter payment states all three
    order = await _order(cloud, buyer)
    url = f"/api/v1/orders/{order['id']}/pay"
    for wrong in ({"amount": 899, "currency": "EUR", "version": 1},
                  {"amount": 900, "currency": "USD", "version": 1},
                  {"amount": 900, "currency": "EUR", "version": 2}):
        r = await cloud.client.post(url, headers=seller, json=wrong)
        assert r.status == 409, wrong
    r = await cloud.client.post(url, headers=seller, json={"amount": 900, "currency": "EUR",
                                                           "version": 1})
    assert r.status == 200
    paid = await r.json()
    assert paid["order"]["state"] == "paid" and len(paid["pickup_code"]) == 6
    again = await cloud.client.post(url, headers=seller, json={"amount": 900, "currency": "EUR",
                                                               "version": 1})
    assert again.status == 409
    from fingerpos.cloud.models.orders import Order, Payment
    with in_app(cloud.app):
        stored = await Order.get(id=order["id"])
        assert stored.pickup_hash and paid["pickup_code"] not in stored.pickup_hash
        assert [p.accepted for p in await Payment.filter(order_id=order["id"]).order_by("id")] == \
            [False, False, False, True, False]


async def test_price_change_makes_a_new_revision_and_stales_the_old_payment(cloud):
    buyer = await cloud.user()
    seller = await cloud.user("seller", shop="shop1", can_change_price=True)
    order = await _order(cloud, buyer)
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/price", headers=seller,
                                json={"version": 1, "total": 800, "reason": "loyal customer"})
    assert r.status == 200, await r.text()
    assert (await r.json())["version"] == 2
    r = await cloud.pay(buyer, order["id"], version=1)
    assert r.status == 409 and "stale" in (await r.json())["message"]
    r = await cloud.pay(buyer, order["id"], version=2)
    assert r.status == 200
    full = await (await cloud.client.get(f"/api/v1/orders/{order['id']}", headers=buyer)).json()
    assert [(v["version"], v["total"]) for v in full["revisions"]] == [(1, 900), (2, 800)]
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/price", headers=seller,
                                json={"version": 2, "total": 1})
    assert r.status == 409 and "before payment" in (await r.json())["message"]


@pytest.mark.parametrize("who", ["seller_without_right", "other_shop_seller", "buyer"])
async def test_price_change_needs_the_right_in_that_shop(cloud, who):
    buyer = await cloud.user()
    order = await _order(cloud, buyer)
    headers = {"seller_without_right": lambda: cloud.user("seller", shop="shop1"),
               "other_shop_seller": lambda: cloud.user("seller", shop="shop2",
                                                       can_change_price=True),
               "buyer": lambda: cloud.user()}[who]
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/price", headers=await headers(),
                                json={"version": 1, "total": 1})
    assert r.status in (403, 404)
    full = await (await cloud.client.get(f"/api/v1/orders/{order['id']}", headers=buyer)).json()
    assert full["version"] == 1 and full["total"] == 900


async def test_manager_may_change_price(cloud):
    order = await _order(cloud, await cloud.user())
    manager = await cloud.user("manager", shop="shop1")
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/price", headers=manager,
                                json={"version": 1, "total": 500})
    assert r.status == 200


async def test_a_buyer_never_sees_another_buyers_order(cloud):
    ann, bob = await cloud.user(), await cloud.user()
    order = await _order(cloud, ann)
    for path in (f"/api/v1/orders/{order['id']}",):
        assert (await cloud.client.get(path, headers=bob)).status == 404
    r = await cloud.pay(bob, order["id"])
    assert r.status == 404
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=bob)
    assert r.status == 404
    assert (await (await cloud.client.get("/api/v1/orders", headers=bob)).json())["orders"] == []
    assert (await cloud.client.get("/api/v1/orders/99999", headers=ann)).status == 404
    assert (await cloud.client.get("/api/v1/orders/abc", headers=ann)).status == 404


async def test_list_filters_by_state_shop_and_date(cloud):
    buyer = await cloud.user()
    first = await _order(cloud, buyer)
    await _order(cloud, buyer)
    await cloud.client.post(f"/api/v1/orders/{first['id']}/cancel", headers=buyer)
    admin = await cloud.user("admin")

    async def ids(query):
        r = await cloud.client.get("/api/v1/orders" + query, headers=admin)
        assert r.status == 200, await r.text()
        return [o["id"] for o in (await r.json())["orders"]]

    assert len(await ids("")) == 2
    assert await ids("?state=cancelled") == [first["id"]]
    assert await ids("?shop=shop2") == []
    assert len(await ids("?since=2000-01-01T00:00:00Z&shop=shop1")) == 2
    assert await ids("?until=2000-01-01T00:00:00Z") == []
    for bad in ("?state=lost", "?limit=0", "?limit=x", "?since=yesterday", "?color=red",
                "?shop=a%20b", "?offset=-1"):
        r = await cloud.client.get("/api/v1/orders" + bad, headers=admin)
        assert r.status == 400, bad


async def test_cart_errors(cloud):
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    await cloud.product("shop1", "gin", 2500, currency="GBP")
    cases = [
        ({"shop": "shop1", "items": [{"sku": "nope", "qty": 1}]}, 404),
        ({"shop": "shop1", "items": []}, 400),
        ({"shop": "shop1", "items": [{"sku": "tea", "qty": 0}]}, 400),
        ({"shop": "shop1", "items": [{"sku": "tea", "qty": "1"}]}, 400),
        ({"shop": "shop1", "items": [{"sku": "tea", "qty": 1}, {"sku": "tea", "qty": 1}]}, 400),
        ({"shop": "shop1", "items": [{"sku": "tea", "qty": 1}, {"sku": "gin", "qty": 1}]}, 400),
    ]
    for body, status in cases:
        r = await cloud.client.post("/api/v1/orders", headers=buyer, json=body)
        assert r.status == status, (body, await r.text())
    seller = await cloud.user("seller", shop="shop1")
    r = await cloud.client.post("/api/v1/orders", headers=seller,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    assert r.status == 403


async def test_buyer_cannot_cancel_a_paid_order_but_the_shop_can(cloud):
    buyer = await cloud.user()
    order = await _order(cloud, buyer)
    assert (await cloud.pay(buyer, order["id"])).status == 200
    assert (await cloud.client.post(f"/api/v1/orders/{order['id']}/cancel",
                                    headers=buyer)).status == 409
    manager = await cloud.user("manager", shop="shop1")
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=manager)
    assert r.status == 200 and (await r.json())["state"] == "cancelled"


async def test_hold_revise_release_and_the_audit_trail(cloud):
    buyer = await cloud.user()
    order = await _order(cloud, buyer)
    manager = await cloud.user("manager", shop="shop1")
    url = f"/api/v1/orders/{order['id']}"
    assert (await cloud.client.post(url + "/hold", headers=buyer)).status == 403
    assert (await cloud.client.post(url + "/release", headers=manager)).status == 409
    r = await cloud.client.post(url + "/hold", headers=manager)
    assert (await r.json())["state"] == "held"
    r = await cloud.pay(buyer, order["id"])
    assert r.status == 409                                   # held orders cannot be paid
    r = await cloud.client.post(url + "/price", headers=manager, json={"version": 1, "total": 700})
    assert r.status == 200
    r = await cloud.client.post(url + "/release", headers=manager)
    assert (await r.json())["state"] == "pending_payment"
    admin = await cloud.admin()
    entries = (await (await cloud.client.get("/api/v1/audit?limit=5", headers=admin)).json())
    actions = [e["action"] for e in entries["entries"]]
    assert actions[:3] == ["order.release", "order.price_change", "order.hold"]
    assert (await cloud.client.get("/api/v1/audit", headers=manager)).status == 403
