"""Buyer and seller in a real browser: register, search, buy, pay, and watch the order move
live when the shop's terminal acknowledges it; a price change reaches the buyer's open page;
a payment for a stale version is refused with a clear message."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .conftest import log_in, pay_in_sandbox

pytestmark = pytest.mark.cloud


async def _register(browser, site, email: str, password: str = "password123"):
    page = await site.page(browser)
    await page.goto("/register")
    await page.fill("#f-name", "Bea")
    await page.fill("#f-email", email)
    await page.fill("#f-password", "short")
    await page.fill("#f-password2", "short")
    await page.click("button[type=submit]")
    # The server's error sits next to its field.
    await expect(page.locator('.field:has(#f-password) .error')).to_have_text(
        "must be at least 8 characters")
    await page.fill("#f-password", password)
    await page.fill("#f-password2", password)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/login\?registered=1$"))
    await page.fill("#f-email", email)
    await page.fill("#f-password", password)
    await page.click("button[type=submit]")
    await expect(page.locator("button", has_text="Log out")).to_be_visible()
    return page


async def _buy(page, query: str, product: str) -> int:
    """Search, open the product, add two to the cart, check out; returns the order id."""
    await page.goto("/")
    await page.fill("#f-q", query)
    await page.click(".search-row button")
    await expect(page.locator("#results .product")).to_have_count(1)
    await page.click(f"#results a:has-text('{product}')")
    await expect(page.locator("h1")).to_have_text(product)
    await page.fill("#f-qty", "2")
    await page.click("form.add button")
    await expect(page).to_have_url(re.compile(r"/cart$"))
    await page.click("#checkout")
    await expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    await expect(page.locator("#order-state")).to_have_text("pending payment")
    return int(page.url.rsplit("/", 1)[1])


async def test_buyer_buys_pays_and_sees_the_terminal_accept_live(site, browser):
    await site.product("shop1", "tea", "Green tea", 250)
    await site.product("shop1", "cake", "Cheese cake", 400)
    terminal = await site.terminal("shop1")
    page = await _register(browser, site, "bea@example.com")
    order_id = await _buy(page, "green", "Green tea")
    await expect(page.locator("#order-total")).to_have_text("5.00 EUR")
    await page.click("#pay")
    await expect(page.locator("#pay-page h1")).to_have_text("Pay 5.00 EUR")
    await page.fill("#f-card_number", "1234 5678 9012 3456")
    await page.click("#pay-submit")
    await expect(page.locator('.field:has(#f-card_number) .error')).to_have_text(
        "the card number is not valid")
    await page.fill("#f-card_number", "4242 4242 4242 4242")
    await page.click("#pay-submit")
    await expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))
    await expect(page.locator("#order-state")).to_have_text("paid")
    await expect(page.locator("#pickup-code")).to_have_text(re.compile(r"^\d{6}$"))
    await expect(page.locator(".qr svg")).to_be_visible()
    # From here on the page must change without a reload: a marker on window would vanish.
    await page.evaluate("window.__noReload = true")
    await expect(page.locator("#live-status")).to_have_text("live")
    terminal.emit("ack", {"order": order_id, "action": "accept"})
    await expect(page.locator("#order-state")).to_have_text("accepted")
    await expect(page.locator("#timeline li").last).to_contain_text("terminal accept")
    assert await page.evaluate("window.__noReload === true")
    # The order list shows it too.
    await page.goto("/orders")
    await expect(page.locator(f'tr[data-order="{order_id}"] .state-cell')).to_have_text("accepted")


async def _pending_order(browser, site) -> tuple[object, object, int]:
    await site.product("shop1", "tea", "Green tea", 250)
    seller = await site.user("seller", shop="shop1", can_change_price=True)
    buyer = await site.user("buyer")
    buyer_page = await log_in(browser, site, buyer)
    order_id = await _buy(buyer_page, "tea", "Green tea")
    seller_page = await log_in(browser, site, seller)
    await seller_page.goto(f"/orders/{order_id}")
    return buyer_page, seller_page, order_id


async def test_seller_price_change_reaches_the_buyer_page_live(site, browser):
    buyer_page, seller_page, _ = await _pending_order(browser, site)
    await expect(buyer_page.locator("#live-status")).to_have_text("live")
    await buyer_page.evaluate("window.__noReload = true")
    await seller_page.fill("#f-total", "abc")
    await seller_page.click("#price-form button")
    await expect(seller_page.locator('#price-form .error[data-field="total"]')).to_have_text(
        "enter an amount like 12.50")
    await seller_page.fill("#f-total", "4.20")
    await seller_page.fill("#f-reason", "regular customer")
    await seller_page.click("#price-form button")
    await expect(seller_page.locator("#order-total")).to_have_text("4.20 EUR")
    await expect(buyer_page.locator("#order-total")).to_have_text("4.20 EUR")
    await expect(buyer_page.locator("#order-version")).to_have_text("2")
    await expect(buyer_page.locator("#price-notice")).to_be_visible()
    assert await buyer_page.evaluate("window.__noReload === true")


async def test_stale_version_payment_is_refused_with_a_clear_message(site, browser):
    buyer_page, seller_page, order_id = await _pending_order(browser, site)
    # The buyer is on the provider's page, paying version 1, when the seller re-prices.
    await buyer_page.click("#pay")
    await expect(buyer_page.locator("#pay-page h1")).to_have_text("Pay 5.00 EUR")
    await seller_page.fill("#f-total", "3.00")
    await seller_page.click("#price-form button")
    await expect(seller_page.locator("#order-version")).to_have_text("2")
    await buyer_page.fill("#f-card_number", "4242 4242 4242 4242")
    await buyer_page.click("#pay-submit")
    error = buyer_page.locator("#pay-error")
    await expect(error).to_contain_text("the shop changed this order's price")
    await expect(error).to_contain_text("3.00 EUR")
    await expect(error).to_contain_text("You were not charged")
    await buyer_page.click("#pay-page a.button")
    await expect(buyer_page.locator("#order-state")).to_have_text("pending payment")
    await expect(buyer_page.locator("#order-total")).to_have_text("3.00 EUR")
    # Paying the version now on the page works.
    await pay_in_sandbox(buyer_page)
    await expect(buyer_page.locator("#order-state")).to_have_text("paid")
    await expect(buyer_page.locator("#pickup-code")).to_have_text(re.compile(r"^\d{6}$"))
    assert buyer_page.url.endswith(f"/orders/{order_id}")
