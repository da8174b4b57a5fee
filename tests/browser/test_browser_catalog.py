"""A manager edits the shop's catalogue in a real browser: a new price reaches the buyer's
search and product page and the shop's terminal; a product named like a script is shown
as text on the edit page and runs nothing."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from .conftest import WAIT_MS, log_in

pytestmark = pytest.mark.cloud
PHONE = {"width": 390, "height": 844}


def _last_catalog_price(terminal, sku: str) -> int | None:
    """The price of `sku` in the newest `catalog` command the terminal accepted."""
    for command in reversed(terminal.commands):
        if command["typ"] == "catalog":
            return next((i["price"] for i in command["data"]["items"] if i["sku"] == sku), None)
    return None


async def _catalog_price(terminal, sku: str, price: int) -> None:
    async with asyncio.timeout(WAIT_MS / 1000):
        while _last_catalog_price(terminal, sku) != price:
            await asyncio.sleep(0.05)


async def test_manager_edits_a_price_and_the_buyer_and_terminal_see_it(site, browser):
    await site.product("shop1", "tea", "Green tea", 250)
    await site.product("shop1", "cake", "Cheese cake", 400)
    terminal = await site.terminal("shop1")
    manager = await log_in(browser, site, await site.user("manager", shop="shop1"))
    buyer = await log_in(browser, site, await site.user("buyer"))
    await buyer.goto("/product/shop1/tea")
    await expect(buyer.locator(".price.big")).to_have_text("2.50 EUR")

    await manager.click("nav a:has-text('Catalogue')")
    await expect(manager.locator("#product-list tbody tr")).to_have_count(2)
    await manager.fill("#f-q", "green")
    await manager.click("form[role=search] button")
    await expect(manager.locator("#product-list tbody tr")).to_have_count(1)
    await manager.click('tr[data-sku="tea"] a.edit')
    await expect(manager.locator("#f-price")).to_have_value("2.50")
    await manager.fill("#f-price", "2,5x")
    await manager.click("#save")
    await expect(manager.locator('.field:has(#f-price) .error')).to_have_text(
        "enter an amount like 12.50")
    await manager.fill("#f-price", "3.75")
    await manager.fill("#f-stock", "12")
    await manager.click("#save")
    await expect(manager.locator("#saved")).to_contain_text("Saved tea")
    await expect(manager.locator('tr[data-sku="tea"] .price-cell')).to_have_text("3.75 EUR")
    await expect(manager.locator('tr[data-sku="tea"] .stock-cell')).to_have_text("12")

    await buyer.reload()
    await expect(buyer.locator(".price.big")).to_have_text("3.75 EUR")
    await buyer.goto("/")
    await buyer.fill("#f-q", "green")
    await buyer.click(".search-row button")
    await expect(buyer.locator("#results .product .price")).to_have_text(["3.75 EUR"])
    await _catalog_price(terminal, "tea", 375)


async def test_a_script_name_is_text_on_the_edit_page(site, browser):
    """On a phone-sized screen, which must not scroll sideways either."""
    await site.product("shop1", "evil", "<script>alert(1)</script>", 100)
    manager = await log_in(browser, site, await site.user("manager", shop="shop1"), viewport=PHONE)
    dialogs: list[str] = []
    manager.on("dialog", lambda d: dialogs.append(d.message))
    await manager.goto("/shop/products")
    await expect(manager.locator('tr[data-sku="evil"] .name-cell')).to_have_text(
        "<script>alert(1)</script>")
    await manager.click('tr[data-sku="evil"] a.edit')
    await expect(manager.locator("#edit-name")).to_have_text("<script>alert(1)</script>")
    await expect(manager.locator("#f-name")).to_have_value("<script>alert(1)</script>")
    # Saved again unchanged, it stays the same text.
    await manager.click("#save")
    await expect(manager.locator('tr[data-sku="evil"] .name-cell')).to_have_text(
        "<script>alert(1)</script>")
    await expect(manager).to_have_url(re.compile(r"/shop/products\?saved=evil$"))
    assert dialogs == []
    assert await manager.evaluate("[...document.scripts].every(s => s.src && !s.text)")
    for path in ("/shop/products", "/shop/products/evil/edit", "/shop/products/new"):
        await manager.goto(path)
        width = await manager.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    # Delete asks first: dismissed, the product stays; accepted, it is gone.
    await manager.goto("/shop/products/evil/edit")
    manager.once("dialog", lambda d: d.dismiss())
    await manager.click("#delete")
    await expect(manager.locator("#edit-name")).to_be_visible()
    manager.once("dialog", lambda d: d.accept())
    await manager.click("#delete")
    await expect(manager.locator('tr[data-sku="evil"]')).to_have_count(0)
    assert len(dialogs) == 2 and dialogs[0].startswith("Delete evil from the catalogue?")
