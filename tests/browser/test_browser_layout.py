"""The shop on a phone-sized screen: nothing wider than the screen, and a product named
like a script renders as text and runs nothing."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.cloud
PHONE = {"width": 390, "height": 844}


async def test_phone_sized_shop_has_no_overflow_and_escapes_names(site, browser):
    await site.product("shop1", "evil", "<script>alert(1)</script>", 100)
    await site.product("shop1", "long", "An extraordinarily long product name " * 4, 250)
    page = await site.page(browser, PHONE)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    for path in ("/", "/product/shop1/evil", "/login", "/register", "/cart"):
        await page.goto(path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    await page.goto("/")
    await expect(page.locator("#results a", has_text="<script>alert(1)</script>")).to_be_visible()
    await page.click("#results .product:has-text('<script>') button")
    await expect(page.locator("table.lines td").first).to_contain_text("<script>alert(1)</script>")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    assert dialogs == []
