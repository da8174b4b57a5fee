"""Tax in the price and the receipt's header (issue #16 item 5).

References outside our code: the arithmetic of a Chinese VAT invoice (含税价 113.00 at 13 %
holds 13.00 of tax), hand-worked rounding cases where per-line and per-receipt rounding
differ (three 0.10 lines at 19 %: 6 cents one way, 5 the other), and what a shop in
Shanghai prints: its address and tax number (税号) in Chinese on a GB18030 printer, without
them on a plain one, and in the PDF.
"""

from __future__ import annotations

import io

import pytest
from fingerpos.cloud import orders
from fingerpos.cloud.commerce import printing, receipts
from fingerpos.cloud.models.orders import Order
from fingerpos.cloud.orders.tax import TaxGroup, summary, tax_in
from pypdf import PdfReader

from tests.conftest import in_app
from tests.support.pages import post, staff_session

ADDRESS = "上海市黄浦区南京东路 100 号 世纪大厦 12 楼"
TAX_ID = "91310000MA1FL0XX0X"


def test_the_tax_in_an_inclusive_price_is_as_on_a_vat_invoice():
    assert tax_in(11300, 1300) == 1300                   # 113.00 at 13 %: 13.00 tax
    assert tax_in(10900, 900) == 900 and tax_in(10600, 600) == 600
    assert tax_in(3780, 1300) == 435                     # 37.80 * 13/113 = 4.3487
    assert tax_in(119, 1900) == 19 and tax_in(0, 1300) == 0 and tax_in(500, 0) == 0
    assert tax_in(-3780, 1300) == -435                   # a discount's share: symmetric
    # half up (四舍五入): 1.5 cents of tax is 2; 1.49 is 1
    assert tax_in(1150, 1500) == 150 and tax_in(23, 1500) == 3


def test_line_and_receipt_rounding_differ_as_worked_by_hand():
    lines = [(1, 10, 1900)] * 3       # three 0.10 lines at 19 %: 1.597 cents of tax each
    assert summary(lines, rounding="line") == [TaxGroup(1900, 30, 6, 24)]
    assert summary(lines, rounding="receipt") == [TaxGroup(1900, 30, 5, 25)]
    with pytest.raises(ValueError, match="line, receipt"):
        summary(lines, rounding="banker")


def test_adjustments_are_shared_over_the_rates_and_every_minor_unit_is_kept():
    # 100.00 at 13 % and 50.00 at 9 %, a 15.00 discount: 10.00 and 5.00 of it
    got = summary([(1, 10000, 1300), (2, 2500, 900)], [-1500])
    assert [(g.rate, g.gross) for g in got] == [(1300, 9000), (900, 4500)]
    assert got[0].tax == tax_in(10000, 1300) + tax_in(-1000, 1300)
    # one cent over three rates: the largest remainder (then the higher rate) takes it
    got = summary([(1, 100, 1300), (1, 100, 900), (1, 100, 600)], [-1])
    assert [g.gross for g in got] == [99, 100, 100] and sum(g.gross for g in got) == 299
    got = summary([(1, 333, 1300), (1, 667, 0)], [1000])
    assert sum(g.gross for g in got) == 2000 and [g.rate for g in got] == [1300, 0]
    assert summary([(2, 500, None)]) == [TaxGroup(0, 1000, 0, 1000)]    # lines before tax
    assert TaxGroup(550, 0, 0, 0).percent == "5.5%" and TaxGroup(1300, 0, 0, 0).percent == "13%"


async def _shanghai_shop(cloud, **settings):
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": "sh", "name": "街角茶馆"}, headers=admin)
    r = await cloud.client.patch("/api/v1/shops/sh", headers=admin, json={
        "timezone": "Asia/Shanghai", "address": ADDRESS, "tax_id": TAX_ID, **settings})
    assert r.status == 200, await r.text()
    for sku, name, price, rate in (("oolong", "乌龙茶", 1890, 1300), ("mooncake", "月饼", 1200, 900)):
        r = await cloud.client.post("/api/v1/shops/sh/products", headers=admin, json={
            "sku": sku, "name": name, "price": price, "currency": "CNY", "tax_rate": rate})
        assert r.status == 200, await r.text()
        assert (await r.json())["tax_rate"] == rate
    return admin


@pytest.mark.cloud
async def test_a_receipt_shows_the_shop_header_and_the_tax_per_rate(cloud):
    await _shanghai_shop(cloud)
    buyer = await cloud.user()
    r = await cloud.client.post("/api/v1/orders", headers=buyer, json={
        "shop": "sh", "items": [{"sku": "oolong", "qty": 2}, {"sku": "mooncake", "qty": 1}]})
    oid = (await r.json())["id"]
    assert (await r.json())["total"] == 4980          # prices include the tax: unchanged
    with in_app(cloud.app):
        r_ = await printing.build(await Order.get(id=oid))
    assert (r_.address, r_.tax_id) == (ADDRESS, TAX_ID)
    text = receipts.text_lines(r_)
    head = text[:next(i for i, t in enumerate(text) if t.startswith("Tax ID"))]
    assert len(head) == 2 and text[2].endswith(TAX_ID)          # 48 columns: wrapped once
    assert all(receipts._cols(t) <= receipts.WIDTH_58MM for t in head)   # a wide char is 2
    assert "".join(head).replace(" ", "") == ADDRESS.replace(" ", "")
    assert text[-2].startswith("incl. VAT 13% of 37.80") and text[-2].endswith("4.35")
    assert text[-1].startswith("incl. VAT 9% of 12.00") and text[-1].endswith("0.99")
    gb = receipts.render_escpos(r_, charset="gb18030")
    assert head[0].encode("gb18030") in gb and TAX_ID.encode() in gb
    plain = receipts.render_escpos(r_, charset="ascii")
    assert "上海".encode("gb18030") not in plain and b"100" in plain and TAX_ID.encode() in plain
    r = await cloud.client.get(f"/api/v1/orders/{oid}/receipt.pdf", headers=buyer)
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await r.read())).pages)
    assert "南京东路" in pdf and TAX_ID in pdf and "incl. VAT 13%" in pdf


@pytest.mark.cloud
async def test_a_sale_keeps_the_rate_it_was_sold_at(cloud):
    admin = await _shanghai_shop(cloud, tax_rounding="receipt")
    await cloud.device("t1", "sh")
    with in_app(cloud.app):
        sale = await orders.from_sale("t1", 1, {
            "ref": "r1", "items": [{"sku": "oolong", "qty": 3, "price": 1890}],
            "payment": {"method": "cash", "amount": 5670, "currency": "CNY"}})
    r = await cloud.client.post("/api/v1/shops/sh/products", headers=admin, json={
        "sku": "oolong", "name": "乌龙茶", "price": 1890, "currency": "CNY", "tax_rate": 600})
    assert r.status == 200
    with in_app(cloud.app):
        built = await printing.build(await Order.get(id=sale.id))
    # 56.70 at the 13 % it was sold at, rounded once: 6.523 -> 6.52 (per line: 3 x 2.17 = 6.51)
    assert built.taxes == (TaxGroup(1300, 5670, 652, 5018),)


@pytest.mark.cloud
async def test_bad_tax_settings_are_refused(cloud):
    admin = await _shanghai_shop(cloud)
    for body in ({"tax_rounding": "bankers"}, {"tax_id": "x" * 65}, {"address": "x" * 201},
                 {"tax_rounding": 1}):
        r = await cloud.client.patch("/api/v1/shops/sh", headers=admin, json=body)
        assert r.status == 400, body
    for rate in (-1, 10_001, "13%", 13.5):
        r = await cloud.client.post("/api/v1/shops/sh/products", headers=admin, json={
            "sku": "oolong", "name": "乌龙茶", "price": 1890, "currency": "CNY", "tax_rate": rate})
        assert r.status == 400, rate


@pytest.mark.cloud
async def test_the_product_form_takes_a_percent_and_keeps_a_bad_one(cloud):
    await cloud.product("shop1", "tea", 250)
    await staff_session(cloud)
    page = "/shop/products/tea/edit"
    html = await (await cloud.client.get(page)).text()
    assert 'name="tax_rate"' in html
    form = {"name": "Tea", "price": "2.50", "currency": "EUR", "stock": "10",
            "description": "", "image_url": "", "low_stock": ""}
    r = await post(cloud.client, page, form | {"tax_rate": "7%"}, page=page)
    assert r.status == 303, await r.text()
    html = await (await cloud.client.get(page)).text()
    assert 'name="tax_rate"' in html and 'value="7"' in html.split('name="tax_rate"')[1][:60] \
        or 'value="7"' in html.split('id="f-tax_rate"')[1][:80]
    r = await post(cloud.client, page, form | {"tax_rate": "seven"}, page=page)
    html = await r.text()
    assert r.status == 400 and 'data-field="tax_rate"' in html and 'value="seven"' in html
