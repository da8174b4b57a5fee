"""The order engine's terminal edge through a real Mosquitto and cloud-b's signed sender:
a paid web order prompts the shop's terminals (order_new with a per-terminal pickup hash),
their acks move it to completed, and a terminal's price change gets its price_result."""

from __future__ import annotations

import asyncio
import json

import pytest
from fingerpos import protocol

from tests.support.shop_terminals import commands, order_of

pytestmark = pytest.mark.cloud


async def test_paid_web_order_prompts_the_shops_terminals_and_acks_complete_it(terminal_shop):
    cloud, (t1, t2, other) = terminal_shop
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})
    oid = (await r.json())["id"]
    r = await cloud.pay(buyer, oid)
    code = (await r.json())["pickup_code"]
    for t in (t1, t2):
        (prompt,) = await commands(t, "order_new")
        assert (prompt["order"], prompt["total"], prompt["currency"]) == (oid, 500, "EUR")
        assert "items" not in prompt  # the receipt lists them (protocol/README.md)
        assert prompt["pickup_hash"] == protocol.pickup_hash(t.key, oid, code)
    assert t1.refused == [] and t2.refused == []
    await asyncio.sleep(0.3)
    assert not [c for c in other.commands if c["typ"] == "order_new"]   # another shop's

    t1.emit("ack", {"order": oid, "action": "accept"})
    await order_of(cloud, buyer, oid, "accepted")
    wrong = "000000" if code != "000000" else "111111"
    t1.emit("ack", {"order": oid, "action": "handover", "pickup": wrong})
    t1.emit("ack", {"order": oid, "action": "handover", "pickup": code})
    order = await order_of(cloud, buyer, oid, "completed")
    devices = [e["device"] for e in order["events"][2:]]
    assert devices == [t1.dev, t1.dev] and all(e["device_event"] for e in order["events"][2:])
    await t1.drained(timeout=10)   # refused acks are acknowledged too: nothing is retried forever



async def test_a_long_web_order_is_prompted_in_a_small_command(terminal_shop):
    """Lines never go to the terminal: 40 lines with 60-character names used to make
    an order_new of ~7 KB, over the 4096-byte body limit, and no prompt went out."""
    cloud, (t1, t2, _) = terminal_shop
    skus = [f"{n:02d}-" + "oolong-tea-first-flush-darjeeling-estate-loose-leaf-250" for n in range(40)]
    for sku in skus:
        await cloud.product("shop1", sku, 300)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "shop1", "items": [{"sku": sku, "qty": 1} for sku in skus]})
    assert r.status == 201, await r.text()
    oid = (await r.json())["id"]
    r = await cloud.pay(buyer, oid)
    assert r.status == 200, await r.text()
    for t in (t1, t2):
        (prompt,) = await commands(t, "order_new")
        assert (prompt["order"], prompt["total"]) == (oid, 40 * 300)
        assert len(json.dumps(prompt)) < 300

async def test_terminal_price_change_gets_price_result(terminal_shop):
    cloud, (t1, _, other) = terminal_shop
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 2}]})
    oid = (await r.json())["id"]
    t1.emit("price_change", {"order": oid, "version": 1, "total": 450, "reason": "promo"})
    (ok,) = await commands(t1, "price_result")
    assert ok == {"order": oid, "ok": True, "version": 2, "reason": ""}
    t1.emit("price_change", {"order": oid, "version": 1, "total": 1, "reason": "stale"})
    stale = (await commands(t1, "price_result", 2))[1]
    assert stale["ok"] is False and stale["version"] == 1
    other.emit("price_change", {"order": oid, "version": 2, "total": 1, "reason": "not mine"})
    (refused,) = await commands(other, "price_result")
    assert refused["ok"] is False
    r = await cloud.pay(buyer, oid, version=1)
    assert r.status == 409
    r = await cloud.pay(buyer, oid, version=2)
    assert r.status == 200
