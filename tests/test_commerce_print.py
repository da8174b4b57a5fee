"""Receipts, printing, validation before print, holding and revision, through a real
Mosquitto and the signed command sender: the terminal gets its `catalog` on connect and on
catalogue changes, `print` carries ESC/POS bytes (reprints marked), its `printed` event is
recorded on the order, and a failing order is held, revised and printed."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io

import pytest
from fingerpos.tools.fleet import SimTerminal
from pypdf import PdfReader

from .conftest import CloudHarness, in_app
from .support.shop_terminals import commands

pytestmark = pytest.mark.cloud


async def _until(fn, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while True:
            value = await fn()
            if value:
                return value
            await asyncio.sleep(0.05)


@pytest.fixture
async def shop(aiohttp_client, cloud_config, broker, topic_prefix):
    from fingerpos.cloud.app import create_app
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    await cloud.product("shop1", "tea", 250)
    dev = f"{topic_prefix}p1"
    t = SimTerminal(dev, await cloud.device(dev, "shop1"), broker.url)
    await t.start()
    yield cloud, t
    await t.stop()


async def _sale(cloud, t, staff, ref, amount, items=None):
    """Emit a terminal sale (2 x tea unless `items`) and wait for its stored order."""
    items = items or [{"sku": "tea", "qty": 2, "price": 250}]
    t.emit("sale", {"ref": ref, "items": items,
                    "payment": {"method": "cash", "amount": amount, "currency": "EUR"}})

    async def found():
        r = await cloud.client.get("/api/v1/orders", headers=staff, params={"text": ref})
        rows = (await r.json())["orders"]
        return rows[0] if rows else None
    return await _until(found)


async def test_catalog_goes_to_the_terminal_on_connect_and_on_change(shop):
    cloud, t = shop
    (first,) = await commands(t, "catalog")
    assert first["items"] == [{"sku": "tea", "name": "Tea", "price": 250, "currency": "EUR"}]
    seller = await cloud.user("seller", shop="shop1")
    r = await cloud.client.post("/api/v1/shops/shop1/products", headers=seller,
                                json={"sku": "cake", "name": "Cake", "price": 400,
                                      "currency": "EUR", "stock": 3})
    assert r.status == 200
    second = (await commands(t, "catalog", 2))[1]
    assert [i["sku"] for i in second["items"]] == ["cake", "tea"]


async def test_print_reprint_and_printed_event(shop):
    cloud, t = shop
    seller = await cloud.user("seller", shop="shop1")
    order = await _sale(cloud, t, seller, "r-1", 500)
    assert order["state"] == "completed"     # an in-person sale: nothing waits (issue #16)
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=seller, json={})
    assert r.status == 200, await r.text()
    job = await r.json()
    assert job["reprint"] is False and job["device"] == t.dev
    (cmd,) = await commands(t, "print")
    escpos = base64.b64decode(cmd["escpos"])
    assert cmd["order"] == order["id"] and b"rev 1" in escpos and b"REPRINT" not in escpos
    assert escpos.endswith(b"\x1dVA\x00") or b"\x1dV" in escpos          # paper cut
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=seller,
                                json={"device": t.dev})
    assert (await r.json())["reprint"] is True
    again = (await commands(t, "print", 2))[1]
    assert b"REPRINT" in base64.b64decode(again["escpos"])
    t.emit("printed", {"order": order["id"], "ok": True})

    async def printed():
        full = await (await cloud.client.get(f"/api/v1/orders/{order['id']}", headers=seller)).json()
        return [e for e in full["events"] if e["note"].startswith("printed")]
    (event,) = await _until(printed)
    assert event["device"] == t.dev and event["device_event"]



async def test_a_cjk_printer_gets_chinese_and_any_other_printer_the_sku(shop):
    """Per-printer charset (POST /devices/{id}/printer): a GB18030 printer in Chinese
    mode prints 乌龙茶; the default ascii one prints its SKU, never two-byte codes."""
    cloud, t = shop
    manager = await cloud.user("manager", shop="shop1")
    r = await cloud.client.post("/api/v1/shops/shop1/products", headers=manager,
                                json={"sku": "oolong", "name": "乌龙茶", "price": 1890,
                                      "currency": "CNY", "stock": 5})
    assert r.status == 200, await r.text()
    order = await _sale(cloud, t, manager, "cn-1", 1890,
                        items=[{"sku": "oolong", "qty": 1, "price": 1890}])
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=manager, json={})
    assert r.status == 200, await r.text()
    plain = base64.b64decode((await commands(t, "print"))[0]["escpos"])
    assert b"SKU oolong" in plain and "乌".encode("gb18030") not in plain
    for bad in ({"charset": "utf-8"}, {"charset": "gb18030", "x": 1}, {}):
        r = await cloud.client.post(f"/api/v1/devices/{t.dev}/printer", headers=manager, json=bad)
        assert r.status == 400, (bad, r.status)
    r = await cloud.client.post(f"/api/v1/devices/{t.dev}/printer", headers=manager,
                                json={"charset": "gb18030"})
    assert r.status == 200 and (await r.json())["printer_charset"] == "gb18030"
    other = await cloud.user("manager", shop="shop2")
    r = await cloud.client.post(f"/api/v1/devices/{t.dev}/printer", headers=other,
                                json={"charset": "ascii"})
    assert r.status in (403, 404)
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=manager, json={})
    cjk = base64.b64decode((await commands(t, "print", 2))[1]["escpos"])
    assert cjk.startswith(b"\x1c&") and "乌龙茶".encode("gb18030") in cjk
    assert "乌龙茶" in cjk.decode("gb18030", "replace")


async def test_a_long_receipt_goes_in_parts_that_fit_the_terminals_receive_buffer(shop):
    cloud, t = shop
    seller = await cloud.user("seller", shop="shop1")
    skus = [f"herbal-infusion-{n:02d}" for n in range(30)]
    for sku in skus:
        await cloud.product("shop1", sku, 100)
    order = await _sale(cloud, t, seller, "r-long", 3000,
                        [{"sku": s, "qty": 1, "price": 100} for s in skus])
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=seller, json={})
    assert r.status == 200, await r.text()
    job = await r.json()
    n = -(-job["bytes"] // 768)
    assert n >= 2
    parts = await commands(t, "print", n)
    assert [(c["part"], c["parts"], c["job"]) for c in parts] == [(i, n, job["job"]) for i in range(1, n + 1)]
    assert all(len(c["escpos"]) <= 1024 for c in parts)
    escpos = b"".join(base64.b64decode(c["escpos"]) for c in parts)
    assert len(escpos) == job["bytes"] and b"\x1dV" in escpos[-8:]     # paper cut last
    assert all(sku.encode() in escpos or sku.title().encode() in escpos for sku in skus)

async def test_held_sale_is_revised_then_prints(shop):
    cloud, t = shop
    seller = await cloud.user("seller", shop="shop1", can_change_price=True)
    order = await _sale(cloud, t, seller, "r-2", 450)     # paid 450 for 500 of items: held
    assert order["state"] == "held"
    oid = order["id"]
    r = await cloud.client.post(f"/api/v1/orders/{oid}/print", headers=seller, json={})
    assert r.status == 409                                 # held orders are not printed
    revision = {"version": 1, "reason": "loyalty discount",
                "lines": [{"sku": "tea", "name": "Tea", "qty": 2, "unit_price": 250}],
                "adjustments": [{"label": "loyalty", "amount": -50}]}
    r = await cloud.client.post(f"/api/v1/orders/{oid}/revise", headers=seller, json=revision)
    assert r.status == 200, await r.text()
    out = await r.json()
    assert out["ok"] is True and out["order"]["state"] == "paid"
    assert (out["order"]["version"], out["order"]["total"]) == (2, 450)
    r = await cloud.client.post(f"/api/v1/orders/{oid}/revise", headers=seller, json=revision)
    assert r.status == 409                                 # stale version / not held
    r = await cloud.client.post(f"/api/v1/orders/{oid}/print", headers=seller, json={})
    assert r.status == 200, await r.text()
    (cmd,) = await commands(t, "print")
    escpos = base64.b64decode(cmd["escpos"])
    assert b"rev 2" in escpos and b"loyalty" in escpos
    full = await (await cloud.client.get(f"/api/v1/orders/{oid}", headers=seller)).json()
    moves = [(e["from"], e["to"], e["user"]) for e in full["events"]]
    assert moves[0][:2] == (None, "held") and moves[-1][:2] == ("held", "paid")
    assert moves[-1][2] == int(seller["X-User-Id"])
    t.emit("printed", {"order": oid, "ok": True})   # its receipt printed: the sale is done

    async def completed():
        full = await (await cloud.client.get(f"/api/v1/orders/{oid}", headers=seller)).json()
        return full if full["state"] == "completed" else None
    done = await _until(completed)
    assert [e["note"] for e in done["events"]][-1] == "receipt printed"
    r = await cloud.client.get(f"/api/v1/orders/{oid}/receipt.pdf", headers=seller)
    assert r.status == 200 and r.content_type == "application/pdf"
    text = PdfReader(io.BytesIO(await r.read())).pages[0].extract_text()
    assert "rev 2" in text


async def test_tampered_order_fails_validation_and_is_not_printed(shop):
    """A completed in-person sale whose stored lines were edited is not printed; it stays
    completed (a final state), its timeline says why and its shop gets an alarm."""
    cloud, t = shop
    seller = await cloud.user("seller", shop="shop1")
    order = await _sale(cloud, t, seller, "r-3", 500)
    from fingerpos.cloud.models.orders import Order, OrderLine
    with in_app(cloud.app):   # someone edits the stored order behind the engine's back
        await OrderLine.filter(order_id=order["id"]).update(unit_price=1)
        await Order.filter(id=order["id"]).update(total=2)
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=seller, json={})
    assert r.status == 409 and "signed sale" in (await r.json())["message"]
    full = await (await cloud.client.get(f"/api/v1/orders/{order['id']}", headers=seller)).json()
    assert full["state"] == "completed" and "source_mismatch" in full["events"][-1]["note"]
    assert not [c for c in t.commands if c["typ"] == "print"]
    alarms = await (await cloud.client.get("/api/v1/alarms", headers=seller)).json()
    assert [a["kind"] for a in alarms["alarms"]] == ["order_invalid"]
    assert alarms["alarms"][0]["shop"] == "shop1"
    other = await cloud.user("manager", shop="shop2")      # another shop never sees it
    alarms = await (await cloud.client.get("/api/v1/alarms", headers=other)).json()
    assert alarms["alarms"] == []


async def test_a_stored_source_event_whose_signature_no_longer_verifies_is_not_printed(shop):
    """The ingestion keeps each event's exact body text and signature; validation before
    print verifies them again, so an edited stored event cannot be printed from."""
    cloud, t = shop
    seller = await cloud.user("seller", shop="shop1")
    order = await _sale(cloud, t, seller, "r-4", 500)
    from fingerpos.cloud.models.devices import DeviceEvent
    with in_app(cloud.app):
        event = await DeviceEvent.get(device_id=t.dev, typ="sale")
        assert event.sig and '"ref":"r-4"' in event.raw_body
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/validate", headers=seller, json={})
    assert r.status == 200 and (await r.json())["problems"] == []
    with in_app(cloud.app):  # the stored event edited behind the ingestion's back
        await DeviceEvent.filter(id=event.id).update(
            raw_body=event.raw_body.replace('"qty":2', '"qty":3'))
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/print", headers=seller, json={})
    assert r.status == 409
    full = await (await cloud.client.get(f"/api/v1/orders/{order['id']}", headers=seller)).json()
    assert full["state"] == "completed" and "source_signature" in full["events"][-1]["note"]
    assert not [c for c in t.commands if c["typ"] == "print"]
