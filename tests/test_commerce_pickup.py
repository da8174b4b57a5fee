"""Pickup codes that survive a late provider callback: sealed per order, shown (number and
QR) on the buyer's own page once paid, matching the hash the terminals got; nobody else
sees them. And a cash payment racing a price change: exactly one of them wins."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fingerpos import protocol
from fingerpos.cloud import orders
from fingerpos.cloud.commerce import cash, checkout, pickup
from fingerpos.cloud.commerce.payments import SIGNATURE_HEADER, Intent, sign_callback
from fingerpos.cloud.core.appkeys import CONFIG, KEYRING
from fingerpos.cloud.core.errors import Conflict
from fingerpos.cloud.models.commerce import PickupCode
from fingerpos.cloud.models.orders import Order, Payment
from fingerpos.cloud.orders.rules import PriceActor, pickup_matches

from .conftest import in_app
from .support.shop_terminals import commands
from .test_commerce_cash import choose_cash, log_in, new_order

pytestmark = pytest.mark.cloud


def callback(cloud, intent: dict) -> tuple[dict, bytes]:
    """What the provider's webhook would post for this intent, signed with its secret."""
    provider = checkout.sandbox(cloud.app[CONFIG].key_secret)
    body = provider.callback_body(Intent(intent["id"], intent["order"], intent["version"],
                                         intent["amount"], intent["currency"], ""),
                                  succeeded=True, card_last4="4242")
    return {SIGNATURE_HEADER: sign_callback(provider.secret, body, int(time.time())),
            "Content-Type": "application/json"}, body


async def test_code_after_a_provider_callback_is_the_buyers_and_the_terminals(terminal_shop):
    cloud, (t1, t2, _) = terminal_shop
    buyer, stranger = await cloud.user(), await cloud.user()
    seller = await cloud.user("seller", shop="shop1")
    oid = await new_order(cloud, buyer)
    r = await cloud.client.post(f"/api/v1/orders/{oid}/payments", headers=buyer,
                                json={"provider": "sandbox", "version": 1})
    intent = await r.json()
    await log_in(cloud, buyer)
    assert 'id="pickup"' not in await (await cloud.client.get(f"/orders/{oid}")).text()

    cloud.client.session.cookie_jar.clear()   # the provider calls, not the buyer's browser
    headers, body = callback(cloud, intent)
    r = await cloud.client.post("/api/v1/payments/sandbox/callback", headers=headers, data=body)
    assert r.status == 200, await r.text()
    answer = await r.json()
    assert answer["paid"] is True and "pickup_code" not in answer

    await log_in(cloud, buyer)   # later, in their own session: the code, number and QR
    page = await (await cloud.client.get(f"/orders/{oid}")).text()
    code = page.split('id="pickup-code">', 1)[1].split("<", 1)[0]
    assert len(code) == 6 and code.isdigit() and "<svg" in page
    for t in (t1, t2):
        (prompt,) = await commands(t, "order_new")
        assert "pay" not in prompt and prompt["pickup_hash"] == protocol.pickup_hash(t.key, oid, code)
    with in_app(cloud.app):
        order = await Order.get(id=oid)
        assert pickup_matches(cloud.app[KEYRING].pickup_key, oid, code, order.pickup_hash)
        assert code not in (await PickupCode.get(order_id=oid)).sealed   # sealed, not stored

    await log_in(cloud, stranger)
    assert (await cloud.client.get(f"/orders/{oid}")).status == 404
    await log_in(cloud, seller)
    staff_page = await (await cloud.client.get(f"/orders/{oid}")).text()
    assert 'id="pickup-code"' not in staff_page and 'id="pickup-issued"' in staff_page
    staff_api = await (await cloud.client.get(f"/api/v1/orders/{oid}", headers=seller)).json()
    assert not [k for k in staff_api if "pickup" in k and k != "pickup_hash"]
    assert code not in json.dumps(staff_api.get("pickup_hash"))


async def test_a_sealed_code_opens_only_for_its_order(cloud):
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    a, b = await new_order(cloud, buyer), await new_order(cloud, buyer)
    for oid in (a, b):
        assert (await cloud.pay(buyer, oid)).status == 200
    with in_app(cloud.app):
        code_a = await pickup.code_for(a)
        assert await pickup.code_for(a) == code_a          # made once
        row_a, row_b = await PickupCode.get(order_id=a), await PickupCode.get(order_id=b)
        await PickupCode.filter(order_id=b).update(sealed=row_a.sealed)   # copied across
        from fingerpos.cloud.models.users import User
        owner = await User.get(id=int(buyer["X-User-Id"]))
        assert await pickup.reveal(await Order.get(id=a), owner) == code_a
        assert await pickup.reveal(await Order.get(id=b), owner) is None
        await PickupCode.filter(order_id=b).update(sealed=row_b.sealed)
        assert await pickup.reveal(await Order.get(id=b), owner) is not None


async def _reprice(oid: int) -> bool:
    try:
        await orders.change_price(oid, 1, 400, "race", PriceActor("manager", "shop1"))
        return True
    except Conflict:
        return False


async def _take_cash(oid: int) -> bool:
    order = await cash.settle("t1", None, {"order": oid, "action": "cash", "version": 1,
                                           "amount": 500})
    return order.state == "paid"


async def test_cash_ack_racing_a_price_change_exactly_one_wins(cloud):
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    await cloud.device("t1", "shop1")
    for _ in range(8):
        oid = await new_order(cloud, buyer)
        assert (await choose_cash(cloud, buyer, oid)).status == 201
        with in_app(cloud.app):
            repriced, paid = await asyncio.gather(_reprice(oid), _take_cash(oid))
            order = await Order.get(id=oid)
            accepted = await Payment.filter(order_id=oid, accepted=True).count()
        assert repriced != paid, (repriced, paid)
        assert (order.state, order.version, order.total, accepted) == (
            ("paid", 1, 500, 1) if paid else ("pending_payment", 2, 400, 0))
