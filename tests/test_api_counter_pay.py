"""POST /orders/{id}/pay: a counter (cash) payment by staff; buyers must go through a provider."""

from __future__ import annotations

import pytest
from fingerpos.cloud.commerce import pickup
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.users import User

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def _order(cloud, buyer):
    await cloud.product("shop1", "tea", 250)
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})
    assert r.status == 201
    return (await r.json())["id"]


@pytest.fixture
async def shop_cloud(cloud):
    await cloud.device("c1", "shop1")
    await cloud.device("c2", "shop2")
    return cloud


async def test_a_buyer_cannot_mark_an_order_paid(shop_cloud):
    buyer = await shop_cloud.user()
    oid = await _order(shop_cloud, buyer)
    r = await shop_cloud.client.post(f"/api/v1/orders/{oid}/pay", headers=buyer,
                                     json={"amount": 500, "currency": "EUR", "version": 1})
    assert r.status == 403
    order = await (await shop_cloud.client.get(f"/api/v1/orders/{oid}", headers=buyer)).json()
    assert order["state"] == "pending_payment"


async def test_staff_of_the_shop_records_cash(shop_cloud):
    buyer = await shop_cloud.user()
    seller = await shop_cloud.user("seller", shop="shop1")
    other = await shop_cloud.user("seller", shop="shop2")
    oid = await _order(shop_cloud, buyer)
    r = await shop_cloud.client.post(f"/api/v1/orders/{oid}/payments", headers=buyer,
                                     json={"provider": "cash", "version": 1})
    cash_intent = (await r.json())["id"]
    pay = {"amount": 500, "currency": "EUR", "version": 1}
    r = await shop_cloud.client.post(f"/api/v1/orders/{oid}/pay", headers=other, json=pay)
    assert r.status == 404                        # another shop's order does not exist for them
    r = await shop_cloud.client.post(f"/api/v1/orders/{oid}/pay", headers=seller,
                                     json=pay | {"amount": 499})
    assert r.status == 409                        # the amount must still match
    r = await shop_cloud.client.post(f"/api/v1/orders/{oid}/pay", headers=seller, json=pay)
    assert r.status == 200
    body = await r.json()
    assert body["order"]["state"] == "paid" and body["pickup_code"]
    r = await shop_cloud.client.get(f"/api/v1/pay/sandbox/{cash_intent}", headers=buyer)
    assert (await r.json())["status"] == "failed"     # the buyer's cash choice is over
    with in_app(shop_cloud.app):   # the code is the one sealed for the buyer, for them only
        order = await Order.get(id=oid)
        who = {u: await User.get(id=int(h["X-User-Id"])) for u, h in (("b", buyer), ("s", seller))}
        assert await pickup.reveal(order, who["b"]) == body["pickup_code"]
        assert await pickup.reveal(order, who["s"]) is None


async def test_a_non_ascii_digit_in_the_path_is_not_found(shop_cloud):
    seller = await shop_cloud.user("seller", shop="shop1")
    for path in ("/api/v1/orders/%C2%B2", "/api/v1/orders/1%C2%B2/pay"):   # "²".isdigit()
        r = await shop_cloud.client.post(path, headers=seller, json={
            "amount": 1, "currency": "EUR", "version": 1}) if path.endswith("pay") else \
            await shop_cloud.client.get(path, headers=seller)
        assert r.status == 404, path
