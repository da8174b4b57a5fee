"""Receipts, printing, validation and revision: who may, and every bad input path
(without a broker: no terminal online means nothing is sent, and that is reported)."""

from __future__ import annotations

import io

import pytest
from fingerpos.cloud.commerce import printing
from fingerpos.cloud.core.errors import Invalid, NotFound
from pypdf import PdfReader

from tests.conftest import in_app

pytestmark = pytest.mark.cloud
REVISION = {"version": 1, "reason": "fix", "lines": [
    {"sku": "tea", "name": "Tea", "qty": 1, "unit_price": 250}]}


async def _paid(cloud):
    await cloud.product("s1", "tea", 250)
    buyer = await cloud.user("buyer")
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "s1", "items": [{"sku": "tea", "qty": 2}]})
    order = await r.json()
    r = await cloud.pay(buyer, order["id"])
    assert r.status == 200
    return buyer, order


async def test_receipt_pdf_for_buyer_and_shop_only(cloud):
    buyer, order = await _paid(cloud)
    url = f"/api/v1/orders/{order['id']}/receipt.pdf"
    r = await cloud.client.get(url, headers=buyer)
    assert r.status == 200 and r.content_type == "application/pdf"
    text = PdfReader(io.BytesIO(await r.read())).pages[0].extract_text()
    assert "rev 1" in text and "5.00 EUR" in text
    assert (await cloud.client.get(url, headers=await cloud.user("seller", shop="s1"))).status == 200
    for other in (await cloud.user("buyer"), await cloud.user("seller", shop="s2")):
        assert (await cloud.client.get(url, headers=other)).status == 404
    assert (await cloud.client.get(url)).status == 401
    r = await cloud.client.get("/api/v1/orders/99999/receipt.pdf", headers=buyer)
    assert r.status == 404


async def test_print_refusals(cloud):
    buyer, order = await _paid(cloud)
    seller = await cloud.user("seller", shop="s1")
    url = f"/api/v1/orders/{order['id']}/print"
    assert (await cloud.client.post(url, headers=buyer, json={})).status == 403
    other = await cloud.user("seller", shop="s2")
    assert (await cloud.client.post(url, headers=other, json={})).status == 404
    r = await cloud.client.post(url, headers=seller, json={})
    assert r.status == 409 and "no active terminal" in (await r.json())["message"]
    await cloud.device("tp1", "s1")
    r = await cloud.client.post(url, headers=seller, json={"device": "nope"})
    assert r.status == 404
    for bad in ({"device": "a b"}, {"device": 5}, {"reprint": "yes"}, {"x": 1}):
        assert (await cloud.client.post(url, headers=seller, json=bad)).status == 400
    r = await cloud.client.post(url, headers=seller, json={"device": "tp1"})
    assert r.status == 200
    job = await r.json()
    assert job["sent"] is False and job["bytes"] > 100      # no MQTT link in this test app
    buyer2 = await cloud.user("buyer")
    r = await cloud.client.post("/api/v1/orders", headers=buyer2,
                                json={"shop": "s1", "items": [{"sku": "tea", "qty": 1}]})
    unpaid = await r.json()
    r = await cloud.client.post(f"/api/v1/orders/{unpaid['id']}/print", headers=seller, json={})
    assert r.status == 409 and "paid" in (await r.json())["message"]


async def test_revise_refusals_and_fields(cloud):
    buyer, order = await _paid(cloud)
    url = f"/api/v1/orders/{order['id']}/revise"
    manager = await cloud.user("manager", shop="s1")
    r = await cloud.client.post(url, headers=manager, json=REVISION)
    assert r.status == 409 and "held" in (await r.json())["message"]   # a paid, valid order
    plain_seller = await cloud.user("seller", shop="s1")
    assert (await cloud.client.post(url, headers=plain_seller, json=REVISION)).status == 403
    assert (await cloud.client.post(url, headers=buyer, json=REVISION)).status == 403
    other = await cloud.user("manager", shop="s2")
    assert (await cloud.client.post(url, headers=other, json=REVISION)).status == 404
    for bad in (REVISION | {"lines": []}, REVISION | {"version": 0}, REVISION | {"reason": ""},
                REVISION | {"lines": [{"sku": "tea", "qty": 0, "unit_price": 1}]},
                REVISION | {"lines": [{"sku": "tea", "qty": 1, "unit_price": -1}]},
                REVISION | {"adjustments": [["x", 1]]},
                REVISION | {"adjustments": [{"label": "x", "amount": "1"}]}):
        assert (await cloud.client.post(url, headers=manager, json=bad)).status == 400, bad


async def test_validate_and_a_negative_revision(cloud):
    buyer, order = await _paid(cloud)
    manager = await cloud.user("manager", shop="s1")
    r = await cloud.client.post(f"/api/v1/orders/{order['id']}/validate", headers=manager)
    assert r.status == 200 and (await r.json())["ok"] is True
    buyer2 = await cloud.user("buyer")
    r = await cloud.client.post("/api/v1/orders", headers=buyer2,
                                json={"shop": "s1", "items": [{"sku": "tea", "qty": 1}]})
    oid = (await r.json())["id"]
    r = await cloud.client.post(f"/api/v1/orders/{oid}/hold", headers=manager)
    assert r.status == 200
    neg = REVISION | {"adjustments": [{"label": "too much", "amount": -1000}]}
    r = await cloud.client.post(f"/api/v1/orders/{oid}/revise", headers=manager, json=neg)
    assert r.status == 409 and "negative" in (await r.json())["message"]
    r = await cloud.client.post(f"/api/v1/orders/{oid}/revise", headers=manager,
                                json=REVISION | {"adjustments": [{"label": "promo", "amount": -50}]})
    out = await r.json()
    assert out["ok"] and out["order"]["state"] == "pending_payment"     # nothing paid yet
    assert (out["order"]["version"], out["order"]["total"]) == (2, 200)


async def test_printed_event_with_bad_data_is_refused(cloud):
    _, order = await _paid(cloud)
    await cloud.device("tp2", "s1")
    await cloud.device("tq2", "s2")
    with in_app(cloud.app):
        for bad in (None, [], {"order": "1", "ok": True}, {"order": order["id"], "ok": "yes"},
                    {"order": -1, "ok": True}, {"order": 0, "ok": "yes"}, {"order": 0}):
            with pytest.raises(Invalid):
                await printing.printed("tp2", None, bad)
        # order 0 is an X or Z report's print job (protocol/README.md, shifts): accepted.
        await printing.printed("tp2", None, {"order": 0, "ok": True})
        with pytest.raises(NotFound):                    # another shop's order
            await printing.printed("tq2", None, {"order": order["id"], "ok": True})
        with pytest.raises(NotFound):
            await printing.printed("ghost", None, {"order": order["id"], "ok": True})
        await printing.printed("tp2", None, {"order": order["id"], "ok": False})
