"""Cash at the counter for a web order, end to end through a real Mosquitto and simulated
terminals speaking the signed protocol: the buyer chooses cash (the order stays pending,
the shop's terminals get order_new pay=cash with version and pickup hash), a price change
reaches the terminals as order_update, a stale cash ack is refused with the current
total, a matching one pays the order (device and event recorded) and every terminal of
the shop hears `paid`; the buyer's page shows what to pay and the pickup code, and its
live feed moves to paid."""

from __future__ import annotations

import asyncio
import json

import pytest
from fingerpos import protocol
from fingerpos.cloud.models.orders import Order, Payment
from fingerpos.cloud.models.users import User

from .conftest import in_app
from .support.pages import post
from .support.shop_terminals import commands, order_of

pytestmark = pytest.mark.cloud


async def log_in(cloud, headers) -> None:
    """A browser session for the API user behind `headers` (the pages take cookies only)."""
    cloud.client.session.cookie_jar.clear()
    with in_app(cloud.app):
        email = (await User.get(id=int(headers["X-User-Id"]))).email
    r = await post(cloud.client, "/login", {"email": email, "password": "password123", "next": "/"})
    assert r.status == 303, await r.text()


async def new_order(cloud, buyer, qty=2) -> int:
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": qty}]})
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


async def choose_cash(cloud, buyer, oid, version=1):
    return await cloud.client.post(f"/api/v1/orders/{oid}/payments", headers=buyer,
                                   json={"provider": "cash", "version": version})


async def test_cash_at_the_counter_end_to_end(terminal_shop):
    cloud, (t1, t2, other) = terminal_shop
    buyer = await cloud.user()
    seller = await cloud.user("seller", shop="shop1", can_change_price=True)
    oid = await new_order(cloud, buyer)
    feed = await cloud.client.ws_connect("/api/v1/orders/ws", headers=buyer)

    r = await choose_cash(cloud, buyer, oid)
    assert r.status == 201, await r.text()
    intent = await r.json()
    assert (intent["provider"], intent["status"], intent["pay_url"]) == ("cash", "open",
                                                                         f"/orders/{oid}")
    assert (await choose_cash(cloud, buyer, oid)).status == 201     # the same choice again
    assert (await order_of(cloud, buyer, oid))["state"] == "pending_payment"

    await log_in(cloud, buyer)   # the buyer's page: what to bring, and the code to show
    page = await (await cloud.client.get(f"/orders/{oid}")).text()
    assert "Pay cash at the counter" in page and "5.00" in page and 'id="pickup-code"' in page
    code = page.split('id="pickup-code">', 1)[1].split("<", 1)[0]
    assert len(code) == 6 and code.isdigit()

    for t in (t1, t2):
        (prompt,) = await commands(t, "order_new")
        assert (prompt["order"], prompt["pay"], prompt["version"], prompt["total"]) == \
            (oid, "cash", 1, 500)
        assert prompt["pickup_hash"] == protocol.pickup_hash(t.key, oid, code)

    r = await cloud.client.post(f"/api/v1/orders/{oid}/price", headers=seller,
                                json={"version": 1, "total": 450, "reason": "regular"})
    assert r.status == 200
    for t in (t1, t2):
        (update,) = await commands(t, "order_update")
        assert update == {"order": oid, "state": "pending_payment", "version": 2, "total": 450}

    t1.emit("ack", {"order": oid, "action": "cash", "version": 1, "amount": 500})   # stale
    refused = (await commands(t1, "order_update", 2))[1]
    assert refused == {"order": oid, "state": "pending_payment", "version": 2, "total": 450}
    assert (await order_of(cloud, buyer, oid))["state"] == "pending_payment"

    t1.emit("ack", {"order": oid, "action": "cash", "version": 2, "amount": 450,
                    "tendered": 500})
    order = await order_of(cloud, buyer, oid, "paid")
    paid_event = order["events"][-1]
    r = await cloud.client.get(f"/api/v1/pay/sandbox/{intent['id']}", headers=buyer)
    assert (await r.json())["status"] == "succeeded"
    assert paid_event["device"] == t1.dev and paid_event["device_event"]
    assert (await commands(t1, "order_update", 3))[2]["state"] == "paid"
    assert (await commands(t2, "order_update", 2))[1] == {"order": oid, "state": "paid",
                                                          "version": 2, "total": 450}
    async with asyncio.timeout(20):   # the buyer's live feed saw it
        while True:
            msg = json.loads((await feed.receive()).data)
            if msg["kind"] == "order" and msg["data"]["state"] == "paid":
                break
    await feed.close()

    t2.emit("ack", {"order": oid, "action": "cash", "version": 2, "amount": 450})   # again
    assert (await commands(t2, "order_update", 3))[2]["state"] == "paid"
    with in_app(cloud.app):
        payments = await Payment.filter(order_id=oid).order_by("id")
        assert [(p.version, p.amount, p.method, p.accepted) for p in payments] == [
            (1, 500, "cash", False), (2, 450, "cash", True), (2, 450, "cash", False)]

    page = await (await cloud.client.get(f"/orders/{oid}")).text()
    assert f'id="pickup-code">{code}<' in page and "Pay cash at the counter" not in page
    t1.emit("ack", {"order": oid, "action": "handover", "pickup": code})
    await order_of(cloud, buyer, oid, "completed")
    await asyncio.sleep(0.3)
    assert not [c for c in other.commands if c["typ"] in ("order_new", "order_update")]
    for t in (t1, t2):
        await t.drained(timeout=20)   # every event, refused or not, is acknowledged


async def test_cash_acks_the_cloud_refuses(terminal_shop):
    cloud, (t1, _, other) = terminal_shop
    buyer = await cloud.user()
    card_oid = await new_order(cloud, buyer)   # the buyer did not choose cash
    t1.emit("ack", {"order": card_oid, "action": "cash", "version": 1, "amount": 500})
    (refused,) = await commands(t1, "order_update")
    assert refused == {"order": card_oid, "state": "pending_payment", "version": 1, "total": 500}

    oid = await new_order(cloud, buyer)
    assert (await choose_cash(cloud, buyer, oid)).status == 201
    for bad in ({"order": oid, "action": "cash", "version": 1, "amount": 500, "tendered": 499},
                {"order": oid, "action": "cash", "version": 1, "amount": "500"},
                {"order": oid, "action": "cash", "version": 1, "amount": 499},
                {"order": oid, "action": "cash", "version": 1, "amount": 500, "currency": "USD"}):
        t1.emit("ack", bad)
    other.emit("ack", {"order": oid, "action": "cash", "version": 1, "amount": 500})  # not its shop
    await t1.drained(timeout=20)
    await other.drained(timeout=20)
    assert (await order_of(cloud, buyer, oid))["state"] == "pending_payment"
    with in_app(cloud.app):
        assert not await Payment.filter(order_id=oid, accepted=True).exists()
        assert (await Order.get(id=oid)).pickup_hash is None


async def test_cash_choice_is_the_buyers_own_and_for_the_current_version(terminal_shop):
    cloud, _ = terminal_shop
    buyer, stranger = await cloud.user(), await cloud.user()
    seller = await cloud.user("seller", shop="shop1", can_change_price=True)
    oid = await new_order(cloud, buyer)
    assert (await choose_cash(cloud, stranger, oid)).status == 404
    assert (await choose_cash(cloud, seller, oid)).status == 403
    await cloud.client.post(f"/api/v1/orders/{oid}/price", headers=seller,
                            json={"version": 1, "total": 400})
    r = await choose_cash(cloud, buyer, oid, version=1)
    assert r.status == 409 and "stale" in (await r.json())["message"]
    cash_id = (await (await choose_cash(cloud, buyer, oid, 2)).json())["id"]
    r = await cloud.client.post(f"/api/v1/pay/sandbox/{cash_id}", headers=buyer,
                                json={"card_number": "4242 4242 4242 4242", "expiry": "12/30",
                                      "cvc": "123"})
    assert r.status == 404                 # a cash intent is not paid on the card page
    assert (await cloud.pay(buyer, oid, version=2)).status == 200   # the buyer paid by card
    cash_intent = await (await cloud.client.get(f"/api/v1/pay/sandbox/{cash_id}",
                                                headers=buyer)).json()
    assert (cash_intent["status"], cash_intent["reason"]) == ("failed",
                                                              "the order was paid another way")
    await log_in(cloud, stranger)
    assert (await cloud.client.get(f"/orders/{oid}")).status == 404
    await log_in(cloud, seller)
    page = await (await cloud.client.get(f"/orders/{oid}")).text()
    assert 'id="pickup-code"' not in page and 'id="pickup-issued"' in page


async def test_the_order_page_offers_cash_at_the_counter(cloud):
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    oid = await new_order(cloud, buyer)
    await log_in(cloud, buyer)
    path = f"/orders/{oid}"
    html = await (await cloud.client.get(path)).text()
    assert 'id="pay-cash"' in html and 'id="cash-notice"' not in html and 'id="pickup"' not in html
    r = await post(cloud.client, path + "/pay", {"version": "1", "provider": "cash"}, page=path)
    assert r.status == 303 and r.headers["Location"] == path, await r.text()
    html = await (await cloud.client.get(path)).text()
    assert 'id="cash-notice"' in html and 'id="pay-cash"' not in html
    assert 'id="pickup-code"' in html and 'id="pay"' in html   # a card still works instead
    r = await post(cloud.client, path + "/pay", {"version": "2", "provider": "cash"}, page=path)
    assert r.status == 409 and 'data-field="pay"' in await r.text()   # a stale page is refused


async def test_an_expired_or_cancelled_cash_order_leaves_the_terminals(terminal_shop):
    """The shop's terminals hold a cash order's prompt while it is unpaid: when it expires
    (the buyer never came) or is cancelled, they hear it; other unpaid web orders, never
    prompted, send nothing."""
    from fingerpos.cloud import orders
    cloud, (t1, t2, other) = terminal_shop
    buyer = await cloud.user()
    cash_oid = await new_order(cloud, buyer)
    assert (await choose_cash(cloud, buyer, cash_oid)).status == 201
    await commands(t1, "order_new")
    quiet_oid = await new_order(cloud, buyer)          # no cash choice: never prompted
    with in_app(cloud.app):   # the buyer never came: past the shop's cash expiry (60 min)
        from datetime import UTC, datetime, timedelta

        from fingerpos.cloud.models.orders import Order
        await Order.filter(id=cash_oid).update(
            state_changed_at=datetime.now(UTC) - timedelta(hours=2))
        assert await orders.expire_unpaid(0) == 2
    for t in (t1, t2):
        (update,) = await commands(t, "order_update")
        assert update == {"order": cash_oid, "state": "expired", "version": 1, "total": 500}
    cancel_oid = await new_order(cloud, buyer)
    assert (await choose_cash(cloud, buyer, cancel_oid)).status == 201
    r = await cloud.client.post(f"/api/v1/orders/{cancel_oid}/cancel", headers=buyer)
    assert r.status == 200, await r.text()
    updates = await commands(t1, "order_update", 2)
    assert updates[1] == {"order": cancel_oid, "state": "cancelled", "version": 1, "total": 500}
    assert all(c["data"]["order"] != quiet_oid for c in t1.commands if c["typ"] == "order_update")
    assert not [c for c in other.commands if c["typ"] in ("order_new", "order_update")]
