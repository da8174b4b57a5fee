"""Refund receipts (issue #16 item 3), PDF and ESC/POS, with the Chinese text decoded
back: the lines that went back, what was paid back and the tax in it (the refunded
lines' tax by orders/tax.py, hand-worked below)."""

from __future__ import annotations

import io

import pytest
from fingerpos.cloud.commerce import printing, receipts
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.models.refunds import Refund
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import refunds
from pypdf import PdfReader

from .conftest import in_app
from .test_receipts import _text_of_gb18030
from .test_refunds import _line, _shop_with_teapot, paid_order

pytestmark = pytest.mark.cloud


async def _refunded(cloud) -> tuple[int, Refund, dict[str, str]]:
    """One 紫砂壶 of three (339.00 re-priced to 300.00) back: 100.00, tax 11.50."""
    await _shop_with_teapot(cloud)
    oid = await paid_order(cloud, qty=3, total=30000)
    manager = await cloud.user("manager", "shop1")
    with in_app(cloud.app):
        user = await User.get(id=int(manager["X-User-Id"]))
        made = await refunds.create(user, oid, [{"line": await _line(oid), "qty": 1}],
                                    "壶盖有裂纹", restock=False, method="cash")
    return oid, made, manager


async def test_refund_receipt_pdf_through_the_api(cloud):
    oid, made, manager = await _refunded(cloud)
    r = await cloud.client.get(f"/api/v1/orders/{oid}/receipt.pdf?refund={made.id}",
                               headers=manager)
    assert r.status == 200, await r.text()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await r.read())).pages)
    for want in ("REFUND", f"#{made.id}", "紫砂壶", "壶盖有裂纹", "REFUNDED", "100.00 CNY",
                 "incl. VAT 13% of 100.00", "11.50", "Paid back (cash, succeeded)"):
        assert want in text, (want, text)
    for bad in ("0", "x", "999999", "-1"):
        r = await cloud.client.get(f"/api/v1/orders/{oid}/receipt.pdf?refund={bad}",
                                   headers=manager)
        assert r.status in (400, 404), bad
    other = await cloud.user("manager", "shop2")
    r = await cloud.client.get(f"/api/v1/orders/{oid}/receipt.pdf?refund={made.id}",
                               headers=other)
    assert r.status == 404


async def test_refund_receipt_escpos_keeps_the_chinese_text(cloud):
    oid, made, _ = await _refunded(cloud)
    with in_app(cloud.app):
        receipt = await printing.build_refund(await Order.get(id=oid), made)
    assert receipt.total == 10000 and sum(t.tax for t in receipt.taxes) == 1150
    # the lines and their share of the price change add up to what was paid back
    assert sum(ln.line_total for ln in receipt.lines) + sum(
        a for _, a in receipt.adjustments) == 10000
    out = receipts.render_escpos(receipt, charset="gb18030")
    text = _text_of_gb18030(out)
    assert "*** REFUND ***" in text and "紫砂壶" in text and "壶盖有裂纹" in text
    assert "100.00 CNY" in text and "11.50" in text
    plain = receipts.render_escpos(receipt, charset="ascii")
    assert "壶".encode("gb18030") not in plain and b"SKU teapot" in plain
