"""The shifts pages and the X/Z report on paper (issue #16 item 4): a Shanghai shop's staff
see its shifts in local time, with the Z report, its log and a PDF that keeps the Chinese
text; another shop's manager sees none of it; the ESC/POS bytes of an ascii printer carry
no two-byte code and a gb18030 printer's are in its Chinese mode.

Outside references: Asia/Shanghai (UTC+8, no daylight saving), GB18030 (the CJK printer's
encoding), ESC/POS FS & (the Chinese mode command), pypdf reading the PDF back."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from fingerpos.cloud.accounts import auth
from fingerpos.cloud.commerce import shiftprint
from fingerpos.cloud.models.shifts import Shift
from fingerpos.cloud.models.shops import Shop
from fingerpos.cloud.models.users import User
from fingerpos.cloud.orders import shiftreport
from pypdf import PdfReader

from .conftest import in_app
from .support.pages import staff_session
from .test_shifts import Terminal, cash_sale

pytestmark = pytest.mark.cloud


async def _closed_shift(cloud) -> tuple[Shift, str]:
    await cloud.device("t1", "shop1")
    t = Terminal(cloud, "t1")
    await staff_session(cloud)   # manager@example.com of shop1
    with in_app(cloud.app):
        await Shop.filter(id="shop1").update(name="老街茶馆", timezone="Asia/Shanghai")
        manager = await User.get(email="manager@example.com")
        await User.filter(id=manager.id).update(name="李经理")
    await t.shift("open", amount=10000, seller=str(manager.id))
    await t.send("sale", cash_sale("a", 2500))
    await t.send("sale", cash_sale("b", 4000, method="card"))
    await t.shift("cash_in", amount=2000, reason="找零 change", seller=str(manager.id))
    await t.shift("close", amount=14000, seller=str(manager.id), approved_by=str(manager.id))
    with in_app(cloud.app):
        shift = await Shift.get(device_id="t1", number=1)
        # opened at 2026-03-01 01:30 UTC = 09:30 in Shanghai
        await Shift.filter(id=shift.id).update(opened_at=datetime(2026, 3, 1, 1, 30, tzinfo=UTC))
        return await Shift.get(id=shift.id), str(manager.id)


async def test_staff_see_their_shops_shifts_in_local_time(cloud):
    shift, _ = await _closed_shift(cloud)
    html = await (await cloud.client.get("/shifts")).text()
    assert f'data-shift="{shift.id}"' in html and "2026-03-01 09:30" in html
    page = await cloud.client.get(f"/shifts/{shift.id}")
    assert page.status == 200
    html = await page.text()
    # expected 100.00 + 25.00 + 20.00 = 145.00; counted 140.00: -5.00, within 10.00
    for text in ("Z report", "老街茶馆", "145.00", "140.00", "-5.00", "李经理", "找零 change",
                 "Asia/Shanghai", "2026-03-01 09:30", f"/shifts/{shift.id}.pdf"):
        assert text in html, text
    pdf = await cloud.client.get(f"/shifts/{shift.id}.pdf")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    body = await pdf.read()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    for needle in ("老街茶馆", "Z REPORT", "145.00", "李经理"):
        assert needle in text, (needle, text)


async def test_another_shops_manager_sees_no_shift(cloud):
    shift, _ = await _closed_shift(cloud)
    other = await cloud.user("manager", shop="shop2")
    with in_app(cloud.app):
        token, _ = await auth.start_session(await User.get(id=int(other["X-User-Id"])))
    cloud.client.session.cookie_jar.clear()
    cloud.client.session.cookie_jar.update_cookies({auth.SESSION_COOKIE: token},
                                                   cloud.client.make_url("/"))

    async def get(url: str):
        return await cloud.client.get(url, allow_redirects=False)

    for url in (f"/shifts/{shift.id}", f"/shifts/{shift.id}.pdf", "/shifts/99999"):
        assert (await get(url)).status == 404, url
    r = await get("/shifts")
    assert r.status == 200 and "data-shift=" not in await r.text()
    assert (await get("/shifts?shop=shop1")).status == 403


async def test_escpos_by_printer_charset(cloud):
    shift, _ = await _closed_shift(cloud)
    with in_app(cloud.app):
        r = await shiftreport.report(shift)
    ascii_ = shiftprint.render_escpos(r, charset="ascii")
    assert b"\x1c\x26" not in ascii_ and all(b < 0x80 for b in ascii_.replace(b"\x1b", b"")
                                             .replace(b"\x1d", b"")), "a two-byte code"
    assert b"Z REPORT" in ascii_ and b"145.00" in ascii_
    cjk = shiftprint.render_escpos(r, charset="gb18030")
    assert cjk.startswith(b"\x1c\x26")
    assert "老街茶馆".encode("gb18030") in cjk and "李经理".encode("gb18030") in cjk
    with pytest.raises(ValueError):
        shiftprint.render_escpos(r, charset="latin9")
