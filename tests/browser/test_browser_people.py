"""The staff pages for a shop's people, in Chromium: a manager invites a seller (the link
shown once sets their password), gives the price-change right, sets the terminal PIN,
disables them (their open session ends at once) and enables them again; every step is
in the person's history. A second shop's manager meets none of it; an admin sees both
shops."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.conftest import in_app

from .conftest import log_in

pytestmark = pytest.mark.cloud


async def test_a_manager_runs_their_shops_people_from_the_pages(site, browser):
    from fingerpos.cloud.models.users import User
    manager_email = await site.user("manager", shop="north")
    page = await log_in(browser, site, manager_email)
    await page.click("nav a:text('People')")
    await expect(page.locator("h1")).to_have_text("People of north")
    await page.fill("#f-email", "Wang.Fang@example.com")
    await page.fill("#f-name", "王芳")
    await page.click("#invite button[type=submit]")
    await expect(page.locator("#invited")).to_contain_text("wang.fang@example.com is invited")
    link = await page.locator("#invite-link").input_value()
    assert link.startswith(site.url + "/reset/")
    row = page.locator("#people tr", has_text="王芳")
    await expect(row.locator(".role")).to_have_text("seller")
    await expect(row.locator(".price")).to_have_text("no")
    # The invited seller sets their password with the link and signs in.
    seller = await site.page(browser)
    await seller.goto(link)
    await seller.fill("#f-password", "wang fang 2026")
    await seller.fill("#f-password2", "wang fang 2026")
    await seller.click("#reset-submit")
    await expect(seller.locator("#reset")).to_have_attribute("data-state", "done")
    seller = await log_in(browser, site, "wang.fang@example.com", "wang fang 2026")
    await expect(seller.locator("nav a:text('People')")).to_have_count(0)
    answer = await seller.goto("/shop/people")
    assert answer.status == 403
    await seller.goto("/monitor")
    # The price-change right and the PIN, from the person's page.
    await row.locator("a").first.click()
    await page.check("#f-can_change_price")
    await page.click("#save button[type=submit]")
    await expect(page.locator("#done")).to_have_text("Saved.")
    await expect(page.locator("#f-can_change_price")).to_be_checked()
    await page.fill("#f-pin", "4821")
    await page.fill("#f-pin2", "4812")
    await page.click("#pin button[type=submit]")
    await expect(page.locator("#e-pin2")).to_have_text("the two PINs differ")
    await page.fill("#f-pin", "48a1")
    await page.fill("#f-pin2", "48a1")
    await page.click("#pin button[type=submit]")
    await expect(page.locator("#e-pin")).to_have_text("a PIN is 4 to 8 digits")
    await page.fill("#f-pin", "4821")
    await page.fill("#f-pin2", "4821")
    await page.click("#pin button[type=submit]")
    await expect(page.locator("#done")).to_contain_text("PIN set")
    await expect(page.locator("#person")).to_contain_text("terminal PIN set")
    # Disable: the seller's open page session ends at once; then enable again.
    page.once("dialog", lambda d: d.accept())
    await page.click("#disable button")
    await expect(page.locator("#person")).to_have_attribute("data-status", "disabled")
    await seller.reload()
    await expect(seller).to_have_url(site.url + "/login?next=/monitor")
    await page.click("#enable button")
    await expect(page.locator("#person")).to_have_attribute("data-status", "active")
    await page.click("#reset button")
    await expect(page.locator("#reset-link")).to_have_value(
        re.compile(r"/reset/[A-Za-z0-9_-]{40,}$"))
    trail = page.locator("#trail .action")
    await expect(trail).to_have_text(["user.reset_issued", "user.update", "user.update",
                                      "user.pin_set", "user.update", "user.password_reset",
                                      "user.reset_issued", "user.create"])
    await expect(page.locator("#trail tr", has_text="user.pin_set")).to_contain_text(manager_email)
    with in_app(site.app):
        fang = await User.get(email="wang.fang@example.com")
    assert fang.can_change_price and not fang.disabled and fang.pin_sealed
    # Another shop's manager: not in their list, and the person page is not found.
    other = await log_in(browser, site, await site.user("manager", shop="south"))
    await other.goto("/shop/people?lang=zh-CN")    # (their page in Chinese)
    await expect(other.locator("h1")).to_have_text("south 的人员")
    await expect(other.locator("#people .role")).to_have_text(["店长"])
    await expect(other.locator("#people")).not_to_contain_text("wang.fang")
    answer = await other.goto(f"/shop/people/{fang.id}")
    assert answer.status == 404
    # An admin sees both shops' people.
    admin = await log_in(browser, site, await site.user("admin"))
    await admin.goto("/shop/people")
    await expect(admin.locator("#people tbody tr")).to_have_count(3)
    # On a phone-sized screen neither page is wider than the screen.
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/shop/people", f"/shop/people/{fang.id}", link):
        await page.goto(path)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, path
