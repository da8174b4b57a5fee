"""Price changes that add up (issue #16 item 6).

The outside reference is arithmetic a buyer or an auditor does with the paper: the lines
and adjustments printed on the receipt add up to its TOTAL, and the validation before print
(校检, which checks total == lines + adjustments) holds. A price change is an adjustment
line; a later revision starts from the current version, so it never loses one; and the
order page's forms give back what was typed (Chinese included) when they refuse it.
"""

from __future__ import annotations

import re

import pytest
from fingerpos.cloud.commerce import printing, receipts
from fingerpos.cloud.models.orders import Order

from tests.conftest import in_app
from tests.support.pages import post, staff_session

pytestmark = pytest.mark.cloud
SHOP = "shop1"


async def _order(cloud, **items) -> int:
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": SHOP, "items": [{"sku": sku, "qty": qty} for sku, qty in items.items()]})
    assert r.status == 201 or r.status == 200, await r.text()
    return (await r.json())["id"]


async def _price(cloud, staff, oid: int, version: int, total: int, reason: str):
    return await cloud.client.post(f"/api/v1/orders/{oid}/price", headers=staff,
                                   json={"version": version, "total": total, "reason": reason})


async def _detail(cloud, staff, oid: int) -> dict:
    r = await cloud.client.get(f"/api/v1/orders/{oid}", headers=staff)
    assert r.status == 200, await r.text()
    return await r.json()


def _adds_up(o: dict) -> bool:
    return (sum(ln["qty"] * ln["unit_price"] for ln in o["lines"])
            + sum(a["amount"] for a in o["adjustments"])) == o["total"]


async def _receipt_rows(cloud, oid: int) -> list[str]:
    with in_app(cloud.app):
        order = await Order.get(id=oid)
        return receipts.text_lines(await printing.build(order))


async def test_a_price_change_is_an_adjustment_line_and_the_order_still_validates(cloud):
    await cloud.product(SHOP, "tea", 250)
    oid = await _order(cloud, tea=2)                            # 5.00 EUR
    manager = await cloud.user("manager", shop=SHOP)
    r = await _price(cloud, manager, oid, 1, 450, "老顾客 loyal customer")
    assert r.status == 200, await r.text()
    o = await _detail(cloud, manager, oid)
    assert o["total"] == 450 and o["adjustments"] == [
        {"label": "改价 price change: 老顾客 loyal customer", "amount": -50}]
    assert _adds_up(o)
    # 校检 checks total == lines + adjustments: without the adjustment line the change
    # itself made the order fail validation ("order total 450 is not ... = 500").
    r = await cloud.client.post(f"/api/v1/orders/{oid}/validate", headers=manager)
    assert (await r.json())["ok"] is True, await r.text()
    rows = await _receipt_rows(cloud, oid)
    assert any(row.startswith("改价 price change") and row.endswith("-0.50") for row in rows), rows
    assert any(row.startswith("TOTAL") and row.endswith("4.50 EUR") for row in rows), rows

    # A second change (up this time) adds a second line for its own difference.
    r = await _price(cloud, manager, oid, 2, 520, "gift box")
    o = await _detail(cloud, manager, oid)
    assert [a["amount"] for a in o["adjustments"]] == [-50, 70] and _adds_up(o)
    # The price history keeps every version's total.
    assert [(rv["version"], rv["total"]) for rv in o["revisions"]][-2:] == [(2, 450), (3, 520)]


async def test_a_revision_keeps_the_price_changes_before_it(cloud):
    await cloud.product(SHOP, "tea", 250)
    await cloud.product(SHOP, "cake", 400)
    oid = await _order(cloud, tea=2, cake=1)                    # 9.00 EUR
    manager = await cloud.user("manager", shop=SHOP)
    assert (await _price(cloud, manager, oid, 1, 800, "regular")).status == 200
    assert (await cloud.client.post(f"/api/v1/orders/{oid}/hold", headers=manager)).status == 200
    # The API revision names lines only: it starts from version 2, whose price change stays.
    r = await cloud.client.post(f"/api/v1/orders/{oid}/revise", headers=manager, json={
        "version": 2, "reason": "one cake less",
        "lines": [{"sku": "tea", "name": "Tea", "qty": 2, "unit_price": 250}]})
    out = await r.json()
    assert r.status == 200 and out["ok"], out
    o = await _detail(cloud, manager, oid)
    assert o["version"] == 3 and o["total"] == 400, o    # 5.00 - the 1.00 price change
    assert o["adjustments"] == [{"label": "改价 price change: regular", "amount": -100}]
    # [] drops them on purpose.
    assert (await cloud.client.post(f"/api/v1/orders/{oid}/hold", headers=manager)).status == 200
    r = await cloud.client.post(f"/api/v1/orders/{oid}/revise", headers=manager, json={
        "version": 3, "reason": "full price", "adjustments": [],
        "lines": [{"sku": "tea", "name": "Tea", "qty": 2, "unit_price": 250}]})
    assert (await r.json())["order"]["total"] == 500


async def test_the_revise_form_shows_and_keeps_a_price_change(cloud):
    await cloud.product(SHOP, "tea", 250)
    await cloud.product(SHOP, "cake", 400)
    oid = await _order(cloud, tea=2, cake=1)
    manager = await cloud.user("manager", shop=SHOP)
    assert (await _price(cloud, manager, oid, 1, 800, "regular")).status == 200
    await staff_session(cloud)
    path = f"/orders/{oid}"
    assert (await post(cloud.client, path + "/hold", {}, page=path)).status == 303
    html = await (await cloud.client.get(path)).text()
    assert 'name="adj-0-label" value="改价 price change: regular"' in html
    assert 'name="adj-0-amount" inputmode="decimal" value="-1.00"' in html
    r = await post(cloud.client, path + "/revise", {
        "version": "2", "line-0-sku": "tea", "line-0-name": "Tea", "line-0-qty": "2",
        "line-0-price": "2.50", "line-1-sku": "cake", "line-1-name": "Cake", "line-1-qty": "0",
        "line-1-price": "4.00", "adj-0-label": "改价 price change: regular",
        "adj-0-amount": "-1.00", "revise_reason": "cake sold out"}, page=path)
    assert r.status == 303, await r.text()
    o = await _detail(cloud, manager, oid)
    assert (o["total"], _adds_up(o)) == (400, True), o


async def test_refused_forms_give_back_what_was_typed(cloud):
    await cloud.product(SHOP, "tea", 250)
    oid = await _order(cloud, tea=2)
    await staff_session(cloud)
    path = f"/orders/{oid}"
    r = await post(cloud.client, path + "/price", {"version": "1", "total": "4,x",
                                                   "reason": "熟客优惠"}, page=path)
    html = await r.text()
    assert r.status == 400 and 'data-field="total"' in html
    assert 'name="total" inputmode="decimal" value="4,x"' in html
    assert 'name="reason" maxlength="200" value="熟客优惠"' in html
    # A refusal by the order itself (a stale version) keeps the typing too.
    r = await post(cloud.client, path + "/price", {"version": "9", "total": "4.00",
                                                   "reason": "stale"}, page=path)
    assert r.status == 409 and 'value="4.00"' in await r.text()

    assert (await post(cloud.client, path + "/hold", {}, page=path)).status == 303
    r = await post(cloud.client, path + "/revise", {
        "version": "1", "line-0-sku": "tea", "line-0-name": "Tea", "line-0-qty": "3",
        "line-0-price": "two", "revise_reason": "加一杯"}, page=path)
    html = await r.text()
    assert r.status == 400 and 'data-field="line-0-price"' in html
    assert re.search(r'name="line-0-qty" type="number" min="0" value="3"', html)
    assert 'name="line-0-price" inputmode="decimal" value="two"' in html
    assert 'name="revise_reason" maxlength="200" value="加一杯"' in html


async def test_a_bad_adjustment_amount_is_a_field_error(cloud):
    await cloud.product(SHOP, "tea", 250)
    oid = await _order(cloud, tea=2)
    manager = await cloud.user("manager", shop=SHOP)
    assert (await _price(cloud, manager, oid, 1, 450, "x")).status == 200
    await staff_session(cloud)
    path = f"/orders/{oid}"
    assert (await post(cloud.client, path + "/hold", {}, page=path)).status == 303
    for bad in ("--1", "1.005", "abc", ""):
        r = await post(cloud.client, path + "/revise", {
            "version": "2", "line-0-sku": "tea", "line-0-name": "Tea", "line-0-qty": "2",
            "line-0-price": "2.50", "adj-0-label": "改价 price change: x", "adj-0-amount": bad,
            "revise_reason": "r"}, page=path)
        html = await r.text()
        assert r.status == 400 and 'data-field="adj-0-amount"' in html, (bad, r.status)
    o = await _detail(cloud, manager, oid)
    assert (o["version"], o["total"]) == (2, 450)      # nothing written
