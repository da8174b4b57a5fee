"""The refund form on the staff order page (issue #16 item 3): a refused form comes back
with what was typed and why (a Chinese reason kept intact), a second shop's staff are
refused, and a refund shows in the order's refunds and timeline."""

from __future__ import annotations

import re

import pytest
from fingerpos.cloud.models.orders import Order

from .conftest import in_app
from .support.pages import post, staff_session
from .test_refunds import _line, _shop_with_teapot, paid_order

pytestmark = pytest.mark.cloud


async def test_refund_form_keeps_what_was_typed_and_refunds(cloud):
    await _shop_with_teapot(cloud)
    oid = await paid_order(cloud, qty=3)
    with in_app(cloud.app):
        line = await _line(oid)
    await staff_session(cloud, "manager")
    page = f"/orders/{oid}"
    field = f"refund-{line}-qty"
    # too many units: the form comes back with the 5 and the reason typed
    r = await post(cloud.client, page + "/refund", {field: "5", "refund_reason": "壶盖有裂纹",
                                                    "restock": "on"}, page=page)
    text = await r.text()
    assert r.status == 400
    assert f'name="{field}" type="number" min="0" max="3" value="5"' in text
    assert 'value="壶盖有裂纹"' in text and "only 3 left to refund" in text
    assert re.search(r'id="f-restock" checked', text)
    r = await post(cloud.client, page + "/refund", {field: "-2", "refund_reason": ""}, page=page)
    text = await r.text()
    assert r.status == 400 and "a whole number of units" in text and "say why" in text
    r = await post(cloud.client, page + "/refund", {field: "0", "refund_reason": "x"}, page=page)
    assert r.status == 400 and "choose how many units" in await r.text()
    r = await post(cloud.client, page + "/refund", {field: "2", "refund_reason": "壶盖有裂纹"},
                   page=page)
    assert r.status == 303, await r.text()
    text = await (await cloud.client.get(page)).text()
    assert re.search(r'id="refunds".*226\.00 CNY \(card, succeeded\)', text, re.S)
    assert "壶盖有裂纹" in text and "refund #1 succeeded: 22600 CNY card" in text
    with in_app(cloud.app):
        assert (await Order.get(id=oid)).refunded == 22600


async def test_a_second_shops_manager_cannot_refund_from_the_page(cloud):
    await _shop_with_teapot(cloud)
    await _shop_with_teapot(cloud, "shop2")
    oid = await paid_order(cloud, shop="shop2", qty=1)
    with in_app(cloud.app):
        line = await _line(oid)
    await staff_session(cloud, "manager")    # shop1's
    r = await post(cloud.client, f"/orders/{oid}/refund",
                   {f"refund-{line}-qty": "1", "refund_reason": "x"}, page="/orders")
    assert r.status == 404
    with in_app(cloud.app):
        assert (await Order.get(id=oid)).refunded == 0
