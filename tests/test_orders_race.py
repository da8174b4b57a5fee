"""A price change and a payment racing on the same order version: exactly one wins."""

from __future__ import annotations

import asyncio

import pytest
from fingerpos.cloud import orders
from fingerpos.cloud.core.errors import Conflict
from fingerpos.cloud.models.orders import Order, OrderRevision, Payment
from fingerpos.cloud.orders.rules import PriceActor

from .conftest import in_app

pytestmark = pytest.mark.cloud
ROUNDS = 20


async def test_concurrent_price_change_and_pay_never_both_win(cloud):
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    ids = []
    for _ in range(ROUNDS):
        r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                    json={"shop": "shop1", "items": [{"sku": "tea", "qty": 4}]})
        ids.append((await r.json())["id"])
    manager = PriceActor("manager", "shop1")

    async def attempt(coro):
        try:
            await coro
            return True
        except Conflict:
            return False

    with in_app(cloud.app):
        results = await asyncio.wait_for(asyncio.gather(*[
            asyncio.gather(attempt(orders.pay(oid, 1000, "EUR", 1)),
                           attempt(orders.change_price(oid, 1, 900, "discount", manager)))
            for oid in ids]), timeout=60)
        paid_wins = 0
        for oid, (paid, repriced) in zip(ids, results, strict=True):
            assert paid != repriced, f"order {oid}: pay={paid} price_change={repriced}"
            order = await Order.get(id=oid)
            revisions = await OrderRevision.filter(order_id=oid).count()
            accepted = await Payment.filter(order_id=oid, accepted=True).count()
            if paid:
                paid_wins += 1
                assert (order.state, order.version, order.total) == ("paid", 1, 1000)
                assert (revisions, accepted) == (1, 1)
            else:
                assert (order.state, order.version, order.total) == ("pending_payment", 2, 900)
                assert (revisions, accepted) == (2, 0)
        assert 0 <= paid_wins <= ROUNDS
