"""Issue #16 "Done means", both halves at once: the REAL firmware (the flashed bundle on
the MicroPython unix port, 128 KiB heap, the simulated R503) and the REAL cloud app with
its ingestion, on one real Mosquitto. A shop in Asia/Shanghai (yuan) runs a shift: opened
with a float, a cash sale, a card sale (the shop's own card reader, keyed C), another cash
sale, an X report, a cash refund the back office raises and the terminal pays out with
the manager's finger, cash out to the bank, a blind close 22.99 short (over the shop's
10.00 limit) approved with the manager's finger, then the Z report printed.

Outside references: the terminal's paper (the ESC/POS bytes the firmware wrote to its
printer, read back with Epson's command lengths, tests/support/escpos_text.py) against
the orders, payments and refunds tables summed with SQL; the shop's settings as its
manager sets them over the API; Chinese names; the expected amount never on the display
(a blind count). Runs on SQLite and, in ./run test's second pass, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from fingerpos.cloud.accounts.auth import create_api_token
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.sql import dialect, q
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.users import FingerSlot, User
from fingerpos.tools.fleet.shop import Person, create_staff
from tortoise import connections

from tests.conftest import CloudHarness, in_app
from tests.support.escpos_text import paper_text
from tests.support.firmware import assert_healthy, make_config, mpy_bundle
from tests.support.terminal import Terminal

pytestmark = pytest.mark.cloud  # run again on PostgreSQL

PRODUCTS = [("101", "乌龙茶 Oolong", 3500), ("102", "茶杯 Cup", 1299), ("103", "紫砂壶 Pot", 11300)]


async def run(fn, *args):
    """A blocking Terminal call (keys, waits) off the event loop the cloud runs on."""
    return await asyncio.to_thread(fn, *args)


def _amount(text: str) -> int:
    whole, frac = text.replace(",", "").lstrip("+").split(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int(frac))


def _figures(paper: str) -> dict[str, int]:
    """label -> minor units, for every "label ... 12.34" row of the paper."""
    out: dict[str, int] = {}
    for line in paper.splitlines():
        m = re.fullmatch(r"\s*(.*?)\s+([+-]?[\d,]+\.\d\d)", line)
        if m:
            out[m.group(1)] = _amount(m.group(2))
    return out


async def _db_totals(dev: str) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    conn = connections.get("default")
    rows = await conn.execute_query_dict(q(
        dialect(conn), "SELECT p.method AS method, COUNT(*) AS n, SUM(p.amount) AS amount"
        " FROM payments p JOIN orders o ON o.id = p.order_id"
        " WHERE o.device_id = ? AND p.accepted GROUP BY p.method"), [dev])
    by_method = {r["method"]: (int(r["n"]), int(r["amount"])) for r in rows}
    ref = (await conn.execute_query_dict(q(
        dialect(conn), "SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS amount FROM refunds"
        " WHERE device_id = ? AND status = 'succeeded' AND method = 'cash'"), [dev]))[0]
    return by_method, (int(ref["n"]), int(ref["amount"]))


async def test_a_shift_on_the_real_firmware_and_the_real_cloud(aiohttp_client, cloud_config,
                                                               broker, topic_prefix, tmp_path):
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    dev = topic_prefix + "day"
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": "shop1"}, headers=admin)
    for sku, name, price in PRODUCTS:
        r = await cloud.client.post("/api/v1/shops/shop1/products", headers=admin, json={
            "sku": sku, "name": name, "price": price, "currency": "CNY", "stock": 20})
        assert r.status == 200, await r.text()
    key = await cloud.device(dev, "shop1")
    ana = Person("ana@day.test", "王经理", "manager", "password-123", pin="1111")
    ben = Person("ben@day.test", "Ben 本", "seller", "password-123", pin="2222")
    with in_app(cloud.app):
        await create_staff([ana, ben], cloud.app[KEYRING], shop="shop1")
        manager_h = {"Authorization": "Bearer " + await create_api_token(
            await User.get(id=int(ana.id)))}
    r = await cloud.client.patch("/api/v1/shops/shop1", headers=manager_h, json={
        "name": "茶馆", "timezone": "Asia/Shanghai", "refund_approval_above": 1000,
        "shift_diff_limit": 1000})
    assert r.status == 200, await r.text()
    r = await cloud.client.post(f"/api/v1/devices/{dev}/printer", headers=admin,
                                json={"charset": "gb18030"})
    assert r.status == 200, await r.text()

    cfg = make_config(dev, broker.port)
    cfg.update(key=key.hex(), shop="shop1")
    t = Terminal(tmp_path / "term", cfg, firmware_dir=mpy_bundle())
    await run(t.start)
    try:
        await run(t.wait_display, "online", 30)
        await run(t.wait_log, "cmd catalog applied", 30)
        await run(t.wait_log, "cmd config applied", 30)   # shift_diff_limit 10.00
        # the manager's finger, enrolled through the API as a manager does
        r = await cloud.client.post(f"/api/v1/devices/{dev}/enrol", headers=manager_h,
                                    json={"seller": int(ana.id)})
        assert r.status == 200, await r.text()
        await run(t.wait_display, "Place finger", 15)
        await run(t.place, "ana-1")
        await run(t.wait_display, "Lift finger")
        await run(t.lift)
        await run(t.wait_display, "Same finger again")
        await run(t.place, "ana-1")
        await run(t.wait_display, "ENROLLED " + ana.id)
        await run(t.lift)
        with in_app(cloud.app):   # the slot, as the cloud stored it, back in the roster
            async with asyncio.timeout(20):
                while not await FingerSlot.filter(device=dev, user_id=int(ana.id)).exists():
                    await asyncio.sleep(0.1)
        async with asyncio.timeout(20):   # boot's, the reconnect's, and the one with the slot
            while sum("cmd roster applied" in x for x in t.logs) < 3:
                await asyncio.sleep(0.1)

        await run(t.press, "A2222#")   # Ben, a seller
        await run(t.wait_display, "LOGIN OK")
        await run(t.press, "A1")
        await run(t.wait_display, "Opening float:")
        await run(t.press, "20000#")
        await run(t.wait_display, "SHIFT 1 OPEN")
        await run(t.press, "B101#2#B102#1##10000#")     # 2 x 35.00 + 12.99 = 82.99 cash
        await run(t.wait_display, "CHG 17.01")
        await run(t.press, "B103#1#C")                 # 113.00 on the card reader
        await run(t.wait_display, "CARD 113.00")
        await run(t.press, "B101#1##3500#")             # 35.00 cash, exact
        await run(t.wait_display, "CHG 0.00")
        await run(t.press, "A3")
        await run(t.wait_display, "X REPORT ASKED")
        await run(t.wait_log, "cmd print applied", 30)  # the X on paper
        x_paper = paper_text(t.printed)
        assert "X REPORT" in x_paper and "Z REPORT" not in x_paper, x_paper

        # the back office refunds one tea of the first sale, in cash: 35.00 > 10.00 needs
        # the manager on the terminal
        async with asyncio.timeout(20):
            while True:
                with in_app(cloud.app):
                    first = await Order.filter(device_id=dev).order_by("id").first()
                if first is not None:
                    break
                await asyncio.sleep(0.1)
        with in_app(cloud.app):
            line = (await first.lines.all().order_by("id"))[0]
        r = await cloud.client.post(f"/api/v1/orders/{first.id}/refunds", headers=manager_h,
                                    json={"lines": [{"line": line.id, "qty": 1}],
                                          "reason": "茶叶受潮", "restock": False})
        assert r.status == 201, await r.text()
        refund = await r.json()
        assert refund["method"] == "cash" and refund["device"] == dev
        await run(t.wait_display, "REFUND DUE 35.00", 20)
        await run(t.press, "A5")
        await run(t.wait_display, f"#pay 0 next: {first.id}")
        await run(t.press, "#")
        await run(t.wait_display, "MANAGER MUST APPROVE")
        await run(t.place, "ana-1")
        await run(t.wait_display, f"REFUND {refund['id']} PAID 35.00", 15)
        await run(t.lift)

        await run(t.press, "A2")
        await run(t.wait_display, "CASH OUT")
        await run(t.press, "5000#")
        await run(t.wait_display, "Why?")
        await run(t.press, "2")                        # to the bank
        await run(t.wait_display, "CASH OUT 50.00 OK")
        # expected 200.00 + 82.99 + 35.00 - 35.00 - 50.00 = 232.99; counted 210.00
        await run(t.press, "A4")
        await run(t.wait_display, "Count the cash:")
        await run(t.press, "21000#")
        await run(t.wait_display, "MANAGER MUST APPROVE")
        await run(t.place, "ana-1")
        await run(t.wait_display, "SHIFT 1 CLOSED", 15)
        await run(t.lift)
        async with asyncio.timeout(30):   # every part of the Z: up to its cut (GS V)
            while t.printed.count(b"\x1dV") < 2:
                await asyncio.sleep(0.2)
        z_paper = paper_text(t.printed).split("*** Z REPORT ***", 1)[1]
        shown = [x for m in t._messages("display") for x in m["display"]]
        assert not [x for x in shown if "232.99" in x or "22.99" in x], shown   # blind
        assert_healthy(t)
    except BaseException:
        print("\n".join(t.logs[-80:]))
        raise
    finally:
        await run(t.stop)

    with in_app(cloud.app):
        by_method, refunded = await _db_totals(dev)
    print(z_paper)
    fig = _figures(z_paper)
    assert by_method == {"cash": (2, 11799), "card": (1, 11300)}
    assert refunded == (1, 3500)
    assert fig["Cash x2"] == by_method["cash"][1] and fig["Card x1"] == by_method["card"][1]
    assert fig["Total x3"] == sum(a for _, a in by_method.values())
    assert fig["Refunds (cash) x1"] == fig["Cash refunds"] == -refunded[1]
    assert fig["Opening float"] == 20000 and fig["Cash out x1"] == -5000
    assert fig["Cash sales"] == by_method["cash"][1]
    assert fig["Expected"] == 20000 + by_method["cash"][1] - refunded[1] - 5000 == 23299
    assert fig["Counted"] == 21000 and fig["Difference"] == -2299
    assert "王经理" in z_paper and "Asia/Shanghai" in z_paper and "茶馆" in paper_text(t.printed)
    assert "!" not in z_paper   # no flag: the difference was approved by a manager
