"""A worker that dies while settling a payment leaves its intent `processing`; the app's
timers finish it: `failed` when nothing was paid (the buyer pays again), `succeeded`
when the payment had committed; twice-run recovery changes nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fingerpos.cloud import orders, timers
from fingerpos.cloud.commerce import checkout, pickup, recovery
from fingerpos.cloud.core.appkeys import CONFIG
from fingerpos.cloud.models.commerce import PaymentIntent
from fingerpos.cloud.models.orders import Order, Payment
from fingerpos.cloud.models.users import User

from .conftest import in_app

pytestmark = pytest.mark.cloud
CARD = "4242 4242 4242 4242"


class WorkerDied(Exception):
    """Stands for the process dying at this point (the code after it never runs)."""


async def _intent(cloud):
    await cloud.product("shop1", "tea", 250)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})
    oid = (await r.json())["id"]
    r = await cloud.client.post(f"/api/v1/orders/{oid}/payments", headers=buyer,
                                json={"version": 1})
    return buyer, oid, (await r.json())["id"]


async def _settle_and_die(cloud, intent_id: str) -> None:
    with pytest.raises(WorkerDied):
        await checkout.sandbox_pay(checkout.sandbox(cloud.app[CONFIG].key_secret), intent_id,
                                   CARD, decline=False)


async def _age(intent_id: str, seconds: float) -> None:
    await PaymentIntent.filter(id=intent_id).update(
        claimed_at=datetime.now(UTC) - timedelta(seconds=seconds))



async def _dies(*args, **kwargs):
    """orders.pay of a worker that dies before the payment commits."""
    raise WorkerDied()

async def test_crash_before_the_payment_fails_the_intent_and_the_buyer_pays_again(
        cloud, monkeypatch):
    buyer, oid, intent_id = await _intent(cloud)

    with in_app(cloud.app):
        monkeypatch.setattr(orders, "pay", _dies)
        await _settle_and_die(cloud, intent_id)
        monkeypatch.undo()
        assert (await PaymentIntent.get(id=intent_id)).status == "processing"
        assert await recovery.recover_stuck() == (0, 0)     # a settle may still be running
        await _age(intent_id, recovery.STUCK_AFTER_S + 5)
        await timers.tick(cloud.app)                         # the app's background timers
        intent = await PaymentIntent.get(id=intent_id)
        assert intent.status == "failed" and "nothing was charged" in intent.reason
        assert await recovery.recover_stuck() == (0, 0)     # done once only
        assert (await Order.get(id=oid)).state == "pending_payment"
        assert not await Payment.filter(order_id=oid).exists()
    r = await cloud.client.post(f"/api/v1/pay/sandbox/{intent_id}", headers=buyer,
                                json={"card_number": CARD, "expiry": "12/30", "cvc": "123"})
    assert r.status == 409                                   # that attempt is over
    assert (await cloud.pay(buyer, oid)).status == 200       # a new one goes through


async def test_crash_after_the_payment_completes_the_intent(cloud, monkeypatch):
    buyer, oid, intent_id = await _intent(cloud)
    real_pay = orders.pay

    async def pays_then_dies(*args, **kwargs):
        await real_pay(*args, **kwargs)
        raise WorkerDied()

    with in_app(cloud.app):
        monkeypatch.setattr(orders, "pay", pays_then_dies)
        await _settle_and_die(cloud, intent_id)
        monkeypatch.undo()
        await _age(intent_id, recovery.STUCK_AFTER_S + 5)
        assert await recovery.recover_stuck() == (1, 0)
        assert await recovery.recover_stuck() == (0, 0)
        assert (await PaymentIntent.get(id=intent_id)).status == "succeeded"
        order = await Order.get(id=oid)
        assert order.state == "paid"
        owner = await User.get(id=int(buyer["X-User-Id"]))
        assert await pickup.reveal(order, owner)             # the code survived the crash


async def test_a_stuck_intent_of_an_order_paid_by_another_intent_fails(cloud, monkeypatch):
    buyer, oid, stuck_id = await _intent(cloud)

    with in_app(cloud.app):
        monkeypatch.setattr(orders, "pay", _dies)
        await _settle_and_die(cloud, stuck_id)
        monkeypatch.undo()
    assert (await cloud.pay(buyer, oid)).status == 200       # another intent paid the order
    with in_app(cloud.app):
        await _age(stuck_id, recovery.STUCK_AFTER_S + 5)
        assert await recovery.recover_stuck() == (0, 1)
        assert await PaymentIntent.filter(order_id=oid, status="succeeded").count() == 1
