"""A shop's shift end to end through real Mosquitto and the ingestion (issue #16 "Done
means", the cloud side): a shift opened, cash and card sales, an X report, a back-office
cash refund paid out at the terminal with a manager's approval, cash out, a blind close
with a difference over the limit approved by the manager, then the Z report printed on
the terminal, with its totals equal to the orders and refunds in the database.

Outside references: the contract protocol/README.md "Shifts and cash refunds" (every
event signed by the simulated terminal, every command it accepted verified by it), the
shop's settings as its manager sets them over the API, Chinese names and reasons, and the
orders, payments and refunds tables summed directly with SQL."""

from __future__ import annotations

import asyncio
import base64
import dataclasses

import pytest
from fingerpos.cloud.app import create_app
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.shifts import Shift, ShiftEntry
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import shiftreport
from fingerpos.tools.fleet import SimTerminal
from tortoise import connections

from tests.conftest import CloudHarness, in_app

pytestmark = pytest.mark.cloud  # run again on PostgreSQL


def _sale(ref: str, method: str, items: list[tuple[str, int, int]]) -> dict:
    lines = [{"sku": s, "qty": q, "price": p} for s, q, p in items]
    total = sum(q * p for _, q, p in items)
    return {"ref": ref, "items": lines,
            "payment": {"method": method, "amount": total, "currency": "CNY"}}


async def _wait(t: SimTerminal, pred, timeout: float = 15.0) -> list[dict]:
    async with asyncio.timeout(timeout):
        while True:
            found = [c for c in t.commands if pred(c)]
            if found:
                return found
            await asyncio.sleep(0.05)


def _printed(t: SimTerminal, job: str) -> str:
    parts = sorted((c["data"]["part"], c["data"]) for c in t.commands
                   if c["typ"] == "print" and c["data"].get("job") == job)
    assert parts and len(parts) == parts[0][1]["parts"], job
    raw = b"".join(base64.b64decode(d["escpos"]) for _, d in parts)
    return raw.decode("gb18030", "replace")


async def test_a_shift_end_to_end_through_mosquitto(aiohttp_client, cloud_config, broker,
                                                    topic_prefix):
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    dev = topic_prefix + "z"
    key = await cloud.device(dev, "shop1")
    admin = await cloud.admin()
    manager_h = await cloud.user("manager", shop="shop1")
    seller_h = await cloud.user("seller", shop="shop1")
    manager, seller = manager_h["X-User-Id"], seller_h["X-User-Id"]
    with in_app(cloud.app):
        await User.filter(id=int(manager)).update(name="王经理")
    r = await cloud.client.patch("/api/v1/shops/shop1", headers=manager_h, json={
        "name": "茶馆", "timezone": "Asia/Shanghai", "refund_approval_above": 1000})
    assert r.status == 200, await r.text()
    r = await cloud.client.post(f"/api/v1/devices/{dev}/printer", headers=admin,
                                json={"charset": "gb18030"})
    assert r.status == 200, await r.text()

    t = SimTerminal(dev, key, broker.url)
    await t.start()
    config_cmd = await _wait(t, lambda c: c["typ"] == "config")
    assert config_cmd[0]["data"] == {"shift_diff_limit": 1000}
    t.emit("shift", {"shift": 1, "action": "open", "seller": seller, "amount": 20000})
    t.emit("sale", _sale("s1", "cash", [("tea", 2, 3500), ("cup", 1, 1299)]))   # 82.99
    t.emit("sale", _sale("s2", "card", [("pot", 1, 11300)]))                   # 113.00
    t.emit("sale", _sale("s3", "cash", [("tea", 1, 3500)]))                    # 35.00
    t.emit("shift", {"shift": 1, "action": "x", "seller": seller})
    await _wait(t, lambda c: c["typ"] == "print" and c["data"].get("job", "").startswith("x:"))
    await t.drained(timeout=20)

    with in_app(cloud.app):
        s1 = await Order.get(device_id=dev, ref="s1")
        line = (await s1.lines.all().order_by("id"))[0]
    r = await cloud.client.post(f"/api/v1/orders/{s1.id}/refunds", headers=manager_h,
                                json={"lines": [{"line": line.id, "qty": 1}],
                                      "reason": "茶叶受潮", "restock": False})
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["status"] == "pending" and made["method"] == "cash" and made["device"] == dev
    prompt = (await _wait(t, lambda c: c["typ"] == "refund_new"))[0]["data"]
    assert prompt == {"refund": made["id"], "order": s1.id, "amount": 3500, "currency": "CNY",
                      "approval": True}   # 35.00 is above the shop's 10.00
    # the terminal goes away and comes back: the pending refund is prompted again
    await t.stop()
    await t.start()
    async with asyncio.timeout(15):
        while sum(c["typ"] == "refund_new" for c in t.commands) < 2:
            await asyncio.sleep(0.05)
    assert [c["data"] for c in t.commands if c["typ"] == "refund_new"] == [prompt, prompt]
    t.emit("refund", {"refund": made["id"], "amount": 3500, "seller": seller,
                      "approved_by": manager})
    update = (await _wait(t, lambda c: c["typ"] == "refund_update"))[0]["data"]
    assert update == {"refund": made["id"], "state": "succeeded"}
    t.emit("shift", {"shift": 1, "action": "cash_out", "seller": seller, "amount": 5000,
                     "reason": "bank 存银行"})
    # expected: 200.00 + 82.99 + 35.00 - 50.00 - 35.00 = 232.99; counted 210.00: -22.99
    t.emit("shift", {"shift": 1, "action": "close", "seller": seller, "amount": 21000,
                     "approved_by": manager})
    await _wait(t, lambda c: c["typ"] == "print" and c["data"].get("job", "").startswith("z:"))
    await t.drained(timeout=20)

    with in_app(cloud.app):
        shift = await Shift.get(device_id=dev, number=1)
        z = await shiftreport.report(shift)
        x_seq = (await ShiftEntry.get(shift_id=shift.id, kind="x")).seq
        x = await shiftreport.report(shift, upto=x_seq)
        conn = connections.get("default")
        by_method = {row["method"]: (row["n"], row["amount"]) for row in
                     await conn.execute_query_dict(
                         "SELECT p.method AS method, COUNT(*) AS n, SUM(p.amount) AS amount"
                         " FROM payments p JOIN orders o ON o.id = p.order_id"
                         f" WHERE o.device_id = '{dev}' AND p.accepted GROUP BY p.method")}
        refunded = (await conn.execute_query_dict(
            "SELECT COUNT(*) AS n, SUM(amount) AS amount FROM refunds"
            f" WHERE device_id = '{dev}' AND status = 'succeeded' AND method = 'cash'"))[0]
    assert z.kind == "Z" and x.kind == "X"
    assert {m: (s.count, s.amount) for m, s in z.sales.items()} == {
        m: (int(n), int(a)) for m, (n, a) in by_method.items()} == {"cash": (2, 11799),
                                                                  "card": (1, 11300)}
    assert (z.refunds.count, z.refunds.amount) == (int(refunded["n"]), int(refunded["amount"])) \
        == (1, 3500)
    assert (z.float, z.cash_out.amount, z.expected, z.counted, z.difference) == (
        20000, 5000, 23299, 21000, -2299)
    assert z.approved_by == manager and z.approver_name == "王经理" and z.flags == []
    # the X covered the three sales and nothing after: the same sums, taken earlier
    assert x.sales == z.sales and x.refunds.count == 0 and x.expected == 20000 + 11799
    paper = _printed(t, f"z:{shift.id}")
    for text in ("Z REPORT", "茶馆", "232.99", "210.00", "-22.99", "王经理", "113.00",
                 "117.99", "230.99", "-35.00"):
        assert text in paper, (text, paper)
    assert "Asia/Shanghai" in paper
    await t.stop()
