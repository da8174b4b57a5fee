"""The order engine: pure rules, and terminal events (sale, ack, price_change) against a real DB."""

from __future__ import annotations

import pytest
from fingerpos.cloud import orders
from fingerpos.cloud.core.errors import Conflict, Forbidden, Invalid, NotFound
from fingerpos.cloud.models.alarms import Alarm
from fingerpos.cloud.models.orders import Order, OrderEvent, Payment
from fingerpos.cloud.orders import rules, states
from fingerpos.cloud.orders.states import State

from .conftest import in_app

pytestmark = pytest.mark.cloud
SALE = {"ref": "r1", "items": [{"sku": "tea", "qty": 2, "price": 250}, {"sku": "cake", "qty": 1,
        "price": 400}], "payment": {"method": "cash", "amount": 900, "currency": "EUR"}}


def test_transition_table_is_closed_and_terminal_states_are_final():
    for source, targets in states.TRANSITIONS.items():
        assert targets <= set(State)
        for target in set(State) - targets:
            with pytest.raises(Conflict):
                states.check_transition(source.value, target)
    for final in (State.COMPLETED, State.CANCELLED, State.EXPIRED):
        assert not states.TRANSITIONS[final]
    with pytest.raises(Conflict):
        states.check_transition("lost", State.PAID)


def test_ack_moves():
    assert states.ack_target("paid", "accept") == State.ACCEPTED
    assert states.ack_target("accepted", "ship") == State.FULFILLED
    assert states.ack_target("fulfilled", "handover") == State.COMPLETED
    for state, action in (("pending_payment", "accept"), ("paid", "ship"), ("paid", "dance")):
        with pytest.raises(Conflict):
            states.ack_target(state, action)


def test_payment_rules():
    ok = ("pending_payment", 2, 900, "EUR")
    assert rules.payment_refusal(*ok, 900, "EUR", 2) is None
    assert "stale" in rules.payment_refusal(*ok, 900, "EUR", 1)
    assert "currency" in rules.payment_refusal(*ok, 900, "USD", 2)
    assert "amount" in rules.payment_refusal(*ok, 901, "EUR", 2)
    assert "paid" in rules.payment_refusal("paid", 2, 900, "EUR", 900, "EUR", 2)


def test_price_change_rules():
    seller = rules.PriceActor("seller", "s1", True)
    rules.check_price_change(seller, "s1", "pending_payment", 1, 1, 10)
    for actor in (rules.PriceActor("seller", "s1", False), rules.PriceActor("seller", "s2", True),
                  rules.PriceActor("buyer", None, True), rules.PriceActor("manager", "s2")):
        with pytest.raises(Forbidden):
            rules.check_price_change(actor, "s1", "pending_payment", 1, 1, 10)
    with pytest.raises(Conflict):
        rules.check_price_change(seller, "s1", "paid", 1, 1, 10)
    with pytest.raises(Conflict):
        rules.check_price_change(seller, "s1", "pending_payment", 2, 1, 10)
    with pytest.raises(Invalid):
        rules.check_price_change(seller, "s1", "pending_payment", 1, 1, -1)


def test_pickup_digest_hides_the_code():
    digest = rules.pickup_digest(b"k" * 32, 7, "123456")
    assert "123456" not in digest
    assert rules.pickup_matches(b"k" * 32, 7, "123456", digest)
    assert not rules.pickup_matches(b"k" * 32, 8, "123456", digest)
    assert not rules.pickup_matches(b"k" * 32, 7, "123457", digest)
    assert not rules.pickup_matches(b"k" * 32, 7, "123456", None)


async def test_sale_becomes_a_completed_order_once(cloud):
    """An in-person sale paid in full waits for nobody (issue #16): completed at once, its
    timeline paid then completed, both from the terminal's event."""
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        order = await orders.from_sale("t1", 11, SALE)
        again = await orders.from_sale("t1", 12, SALE)
        assert again.id == order.id and await Order.all().count() == 1
        assert order.state == "completed" and order.total == 900 and order.source == "terminal"
        events = await OrderEvent.filter(order_id=order.id).order_by("id")
        assert [(e.from_state, e.to_state, e.device_id, e.device_event_id) for e in events] == \
            [(None, "paid", "t1", 11), ("paid", "completed", "t1", 11)]
        assert (await Payment.get(order_id=order.id)).accepted


async def test_sale_paying_the_wrong_amount_is_held_with_an_alarm(cloud):
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        sale = {**SALE, "payment": {"method": "cash", "amount": 800, "currency": "EUR"}}
        order = await orders.from_sale("t1", 1, sale)
        assert order.state == "held"
        assert (await Alarm.get(kind="sale_mismatch")).device_id == "t1"


@pytest.mark.parametrize("data", [
    None, [], {}, {**SALE, "ref": ""}, {**SALE, "items": []}, {**SALE, "items": [{"sku": "a"}]},
    {**SALE, "items": [{"sku": "a", "qty": True, "price": 1}]},
    {**SALE, "items": [{"sku": "a", "qty": 1, "price": 1.5}]},
    {**SALE, "payment": {"method": "cash", "amount": 1, "currency": "eur"}},
    {**SALE, "payment": "cash"}, {**SALE, "items": [{"sku": "a", "qty": 1, "price": 10**13}]},
])
async def test_malformed_sale_data_is_invalid_and_stores_nothing(cloud, data):
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        with pytest.raises(Invalid):
            await orders.from_sale("t1", 1, data)
        assert await Order.all().count() == 0


async def test_unknown_or_revoked_device_sale_is_refused(cloud):
    await cloud.device("t1", "shop1")
    r = await cloud.client.post("/api/v1/devices/t1/revoke", headers=await cloud.admin())
    assert r.status == 200
    with in_app(cloud.app):
        for device in ("t1", "ghost"):
            with pytest.raises(NotFound):
                await orders.from_sale(device, 1, SALE)


async def _paid_web_order(cloud):
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    order = await r.json()
    r = await cloud.pay(buyer, order["id"])   # the sandbox provider, as a buyer pays
    return await r.json()


async def test_device_acks_move_a_web_order_to_completed_with_the_pickup_code(cloud):
    await cloud.device("t1", "shop1")
    await cloud.device("t9", "shop9")
    paid = await _paid_web_order(cloud)
    oid, code = paid["order"]["id"], paid["pickup_code"]
    with in_app(cloud.app):
        with pytest.raises(NotFound):   # another shop's terminal
            await orders.device_ack("t9", 1, {"order": oid, "action": "accept"})
        assert (await orders.device_ack("t1", 2, {"order": oid, "action": "accept"})).state == \
            "accepted"
        with pytest.raises(Conflict):
            await orders.device_ack("t1", 3, {"order": oid, "action": "accept"})
        assert (await orders.device_ack("t1", 4, {"order": oid, "action": "ship"})).state == \
            "fulfilled"
        wrong = "000000" if code != "000000" else "111111"
        with pytest.raises(Forbidden):
            await orders.device_ack("t1", 5, {"order": oid, "action": "handover", "pickup": wrong})
        assert await Alarm.filter(kind="pickup_mismatch", device_id="t1").exists()
        with pytest.raises(Invalid):
            await orders.device_ack("t1", 6, {"order": oid, "action": "handover"})
        done = await orders.device_ack("t1", 7, {"order": oid, "action": "handover",
                                                 "pickup": code})
        assert done.state == "completed"
        trail = [(e.from_state, e.to_state, e.device_event_id)
                 for e in await OrderEvent.filter(order_id=oid).order_by("id")]
        assert trail == [(None, "pending_payment", None), ("pending_payment", "paid", None),
                         ("paid", "accepted", 2), ("accepted", "fulfilled", 4),
                         ("fulfilled", "completed", 7)]


async def test_device_price_change_answers_and_records(cloud):
    await cloud.device("t1", "shop1")
    await cloud.device("t9", "shop9")
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    order = await (await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})).json()
    with in_app(cloud.app):
        ok = await orders.price_change_from_device("t1", 5, {"order": order["id"], "version": 1,
                                                             "total": 400, "reason": "promo"})
        assert ok == {"order": order["id"], "ok": True, "version": 2, "reason": ""}
        stale = await orders.price_change_from_device("t1", 6, {"order": order["id"],
                                                                "version": 1, "total": 1})
        assert stale["ok"] is False and "version 2" in stale["reason"]
        other = await orders.price_change_from_device("t9", 7, {"order": order["id"],
                                                                "version": 2, "total": 1})
        assert other["ok"] is False
        assert (await Order.get(id=order["id"])).total == 400
    metrics = await (await cloud.client.get("/metrics")).text()
    # No MQTT side in this app: the three answers are counted as unsent, not lost silently.
    assert 'fingerpos_commands_unsent_total{typ="price_result"} 3' in metrics


async def test_timers_expire_unpaid_and_flag_unaccepted(cloud):
    from fingerpos.cloud import timers
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    pending = await (await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})).json()
    paid = await _paid_web_order(cloud)
    with in_app(cloud.app):
        assert await orders.expire_unpaid(3600) == 0
        assert await orders.flag_unaccepted(3600) == 0
        from datetime import UTC, datetime, timedelta
        old = datetime.now(UTC) - timedelta(hours=2)
        await Order.all().update(state_changed_at=old)
        from fingerpos.cloud.accounts.auth import start_session
        from fingerpos.cloud.models.users import Session, User
        await start_session(await User.first())
        await Session.all().update(expires_at=old)
        assert await timers.tick(cloud.app) == (1, 1)
        assert await Session.all().count() == 0
        assert await timers.tick(cloud.app) == (0, 0)   # flagged once only
        assert (await Order.get(id=pending["id"])).state == "expired"
        alarm = await Alarm.get(kind="unaccepted:shop1")
        assert str(paid["order"]["id"]) in alarm.message


@pytest.mark.parametrize("data", [
    {"order": 2**31, "action": "accept"}, {"order": 0, "action": "accept"},
    {"order": 1, "action": "accept", "pickup": 5}, {"order": "1", "action": "accept"},
    {"order": 1, "action": "dance"},
])
async def test_malformed_ack_data_is_invalid(cloud, data):
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        with pytest.raises(Invalid):
            await orders.device_ack("t1", 1, data)


@pytest.mark.parametrize("data", [
    {"order": 2**31, "version": 1, "total": 1}, {"order": 1, "version": 2**31, "total": 1},
    {"order": 1, "version": 1, "total": -1}, {"order": 1, "version": 1, "total": 1, "seller": 2**40},
])
async def test_malformed_price_change_data_is_invalid(cloud, data):
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        with pytest.raises(Invalid):
            await orders.price_change_from_device("t1", 1, data)


async def test_nul_in_terminal_text_is_refused_or_cleaned(cloud):
    await cloud.device("t1", "shop1")
    with in_app(cloud.app):
        with pytest.raises(Invalid):
            await orders.from_sale("t1", 1, {**SALE, "ref": "r\u00001"})
        named = {**SALE, "items": [{"sku": "tea", "qty": 1, "price": 900, "name": "T\u0000ea"}]}
        order = await orders.from_sale("t1", 2, named)
        full = await orders.get_for(await _admin(), order.id)
        assert full["lines"][0]["name"] == "Tea"


async def _admin():
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.models.users import Role
    return await create_user("root@example.com", "password123", Role.ADMIN)
