"""Refunds (issue #16 item 3): full or partial, by line and quantity, with a reason and an
optional restock; never more than what was paid, under concurrency (SQLite and
PostgreSQL); the shop's window and approval amount.

Outside references: a hand-worked partial refund of a price-changed order with China's
13 % VAT (tax.py rule 1 shares the change out, rule 2 extracts the tax), a second shop's
manager, Chinese reasons, and hostile input (negative and unknown lines, over-refunds,
twenty refunds racing for the same units)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fingerpos.cloud import orders
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.orders import Order, OrderEvent, OrderLine
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.shops import Product, Shop, StockMove
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import refunds
from fingerpos.cloud.orders.rules import PriceActor

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def _shop_with_teapot(cloud, shop: str = "shop1", price: int = 11300,
                            stock: int = 20) -> None:
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": shop}, headers=admin)
    r = await cloud.client.post(f"/api/v1/shops/{shop}/products", headers=admin,
                                json={"sku": "teapot", "name": "紫砂壶", "price": price,
                                      "currency": "CNY", "track_stock": True, "stock": stock,
                                      "tax_rate": 1300})
    assert r.status == 200, await r.text()


async def paid_order(cloud, shop: str = "shop1", qty: int = 3, total: int | None = None) -> int:
    """A web order of `qty` teapots, re-priced to `total` first if given, paid by card."""
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": shop, "items": [{"sku": "teapot", "qty": qty}]})
    assert r.status == 201, await r.text()
    oid = (await r.json())["id"]
    version = 1
    if total is not None:
        with in_app(cloud.app):
            await orders.change_price(oid, 1, total, "熟客优惠", PriceActor("manager", shop))
        version = 2
    r = await cloud.pay(buyer, oid, version)
    assert r.status == 200, await r.text()
    return oid


async def staff(cloud, role: str = "manager", shop: str = "shop1", can_refund: bool = False
                ) -> User:
    headers = await cloud.user(role, shop)
    with in_app(cloud.app):
        await User.filter(id=int(headers["X-User-Id"])).update(can_refund=can_refund)
        return await User.get(id=int(headers["X-User-Id"]))


async def _line(oid: int) -> int:
    return (await OrderLine.filter(order_id=oid).first()).id


async def test_partial_refund_of_a_price_changed_order_hand_worked(cloud):
    """3 teapots at 113.00 (13 % VAT included) = 339.00, re-priced to 300.00 and paid.
    Refunding 1 pays back 113.00 x 300/339 = 100.00; its tax: rule 1 gives the teapot
    line 113.00 and a share of -13.00 of the price change, rule 2 (line rounding)
    13.00 + round(-13.00 x 13/113 = -1.4956) = 13.00 - 1.50 = 11.50, which is the
    tax in 100.00 at 13 % (100 x 13/113 = 11.504). The other two then refund the
    remaining 200.00, and nothing more can go back."""
    await _shop_with_teapot(cloud)
    oid = await paid_order(cloud, total=30000)
    manager = await staff(cloud)
    with in_app(cloud.app):
        line = await _line(oid)
        first = await refunds.create(manager, oid, [{"line": line, "qty": 1}], "壶盖有裂纹",
                                     restock=False, method="cash")
        assert (first.amount, first.tax, first.status) == (10000, 1150, "succeeded")
        rest = await refunds.create(manager, oid, [{"line": line, "qty": 2}], "退货",
                                    restock=False, method="cash")
        assert rest.amount == 20000
        assert (await Order.get(id=oid)).refunded == 30000
        with pytest.raises(Conflict, match="only 0 of 3 left"):
            await refunds.create(manager, oid, [{"line": line, "qty": 1}], "again",
                                 restock=False, method="cash")
        notes = [e.note for e in await OrderEvent.filter(order_id=oid).order_by("id")]
        assert any(n.startswith(f"refund #{first.id} succeeded: 10000 CNY") for n in notes)
        entry = await AuditEntry.filter(action="order.refund").order_by("id").first()
        assert entry.detail["reason"] == "壶盖有裂纹" and entry.user_id == manager.id


async def test_restock_puts_the_goods_back_with_its_reason(cloud):
    await _shop_with_teapot(cloud, stock=20)
    oid = await paid_order(cloud, qty=3)
    manager = await staff(cloud)
    with in_app(cloud.app):
        assert (await Product.get(shop_id="shop1", sku="teapot")).stock == 17
        refund = await refunds.create(manager, oid, [{"line": await _line(oid), "qty": 2}],
                                      "顾客退货", restock=True, method="cash")
        assert refund.amount == 2 * 11300
        assert (await Product.get(shop_id="shop1", sku="teapot")).stock == 19
        move = await StockMove.filter(order_id=oid, kind="restock").get()
        assert (move.d_stock, move.reason) == (2, f"refund #{refund.id}: 顾客退货")


@pytest.mark.parametrize("rounds", [20])
async def test_concurrent_refunds_never_pass_what_was_paid(cloud, rounds):
    """Twenty refunds of one unit each race for a 5-unit order, and twenty full refunds
    race for another: exactly 5 (and exactly 1) win, the rest are 409s, and the refunds
    add up to exactly what was paid."""
    await _shop_with_teapot(cloud, stock=100)
    five = await paid_order(cloud, qty=5, total=50000)
    whole = await paid_order(cloud, qty=2)
    manager = await staff(cloud)

    async def attempt(oid: int, qty: int) -> bool:
        try:
            await refunds.create(manager, oid, [{"line": await _line(oid), "qty": qty}],
                                 "race", restock=True, method="cash")
            return True
        except Conflict:
            return False

    with in_app(cloud.app):
        won = await asyncio.wait_for(asyncio.gather(
            *[attempt(five, 1) for _ in range(rounds)],
            *[attempt(whole, 2) for _ in range(rounds)]), timeout=120)
        assert sum(won[:rounds]) == 5 and sum(won[rounds:]) == 1
        for oid, paid in ((five, 50000), (whole, 22600)):
            amounts = [r.amount for r in await Refund.filter(order_id=oid)]
            assert sum(amounts) == paid == (await Order.get(id=oid)).refunded
            line = await OrderLine.get(order_id=oid)
            assert line.refunded_qty == line.qty
        # restocked exactly what was refunded: 100 - 5 - 2 sold, + 7 back
        assert (await Product.get(shop_id="shop1", sku="teapot")).stock == 100


async def test_hostile_refunds_are_4xx_and_change_nothing(cloud):
    await _shop_with_teapot(cloud)
    await _shop_with_teapot(cloud, "shop2")
    oid = await paid_order(cloud, qty=2)
    manager = await staff(cloud)
    other = await staff(cloud, shop="shop2")
    with in_app(cloud.app):
        line = await _line(oid)
        cases = [
            ([{"line": line, "qty": -1}], "x", Invalid),
            ([{"line": line, "qty": 0}], "x", Invalid),
            ([{"line": line, "qty": "1"}], "x", Invalid),
            ([{"line": line, "qty": 1}, {"line": line, "qty": 1}], "x", Invalid),
            ([{"line": line + 999, "qty": 1}], "x", Invalid),
            ([], "x", Invalid),
            ([{"line": line, "qty": 1}], "   ", Invalid),
            ([{"line": line, "qty": 3}], "x", Conflict),
        ]
        for items, reason, error in cases:
            with pytest.raises(error):
                await refunds.create(manager, oid, items, reason, restock=True, method="cash")
        with pytest.raises(NotFound):   # a second shop's manager does not see the order
            await refunds.create(other, oid, [{"line": line, "qty": 1}], "x", restock=False,
                                 method="cash")
        with pytest.raises(NotFound):
            await refunds.create(manager, 999_999, [{"line": line, "qty": 1}], "x",
                                 restock=False, method="cash")
        assert (await Order.get(id=oid)).refunded == 0
        assert (await OrderLine.get(id=line)).refunded_qty == 0
        assert await Refund.filter(order_id=oid).count() == 0


async def test_an_unpaid_order_cannot_be_refunded(cloud):
    await _shop_with_teapot(cloud)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "teapot", "qty": 1}]})
    oid = (await r.json())["id"]
    manager = await staff(cloud)
    with in_app(cloud.app), pytest.raises(Conflict, match="pending_payment cannot be refunded"):
        await refunds.create(manager, oid, [{"line": await _line(oid), "qty": 1}], "x",
                             restock=False, method="cash")


async def test_sellers_need_the_right_above_the_amount_and_outside_the_window(cloud):
    """The shop's approval amount is 200.00: a seller refunds one teapot (113.00) but not
    two (226.00); a seller with the refund right and a manager may. A 31-day-old sale is
    outside the 30-day window even for one teapot."""
    await _shop_with_teapot(cloud)
    seller = await staff(cloud, "seller")
    trusted = await staff(cloud, "seller", can_refund=True)
    with in_app(cloud.app):
        assert (await Shop.get(id="shop1")).refund_approval_above == 20000
    oid = await paid_order(cloud, qty=5)
    with in_app(cloud.app):
        line = await _line(oid)
        one = await refunds.create(seller, oid, [{"line": line, "qty": 1}], "x", restock=False,
                                   method="cash")
        assert one.approved_by is None
        with pytest.raises(Forbidden, match="above the shop's 20000; it needs a manager"):
            await refunds.create(seller, oid, [{"line": line, "qty": 2}], "x", restock=False,
                                 method="cash")
        two = await refunds.create(trusted, oid, [{"line": line, "qty": 2}], "x", restock=False,
                                   method="cash")
        assert two.approved_by == trusted.id
        await Order.filter(id=oid).update(created_at=datetime.now(UTC) - timedelta(days=31))
        with pytest.raises(Forbidden, match="31 days old.*30-day window need a manager"):
            await refunds.create(seller, oid, [{"line": line, "qty": 1}], "x", restock=False,
                                 method="cash")
        manager = await staff(cloud)
        late = await refunds.create(manager, oid, [{"line": line, "qty": 2}], "x",
                                    restock=False, method="cash")
        assert late.approved_by == manager.id


def test_amount_rules_pure():
    """The last refund takes what is left, so rounding never adds up past what was paid:
    three 50.00 units paid 100.00 refund 33.33, 33.33 and 33.34."""
    lines = [refunds.Sold(1, "a", "", 3, 5000, 0, 0)]
    assert refunds.amount_of(lines, {1: 1}, 10000, 0) == 3333
    lines = [refunds.Sold(1, "a", "", 3, 5000, 0, 2)]
    assert refunds.amount_of(lines, {1: 1}, 10000, 6666) == 3334
