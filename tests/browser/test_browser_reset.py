"""The reset page a manager's one-time link opens, in Chromium: a Chinese-speaking seller
sets a new password with it once; the link then says it is used, an expired one says
when it expired, a mangled one that it is not valid: clear pages (404/410), never a 500.

Outside references: the browser's own Accept-Language (a zh-CN context), and the seller
logging in afterwards through the ordinary login form.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from tests.conftest import in_app

from .conftest import log_in

pytestmark = pytest.mark.cloud


async def _user_id(site, email: str) -> int:
    from fingerpos.cloud.models.users import User
    with in_app(site.app):
        return (await User.get(email=email)).id


async def test_a_manager_issued_reset_link_works_once_in_chinese(site, browser):
    manager = await log_in(browser, site, await site.user("manager", shop="north"))
    seller = await site.user("seller", shop="north")
    link = await manager.evaluate(
        "id => fpApi('POST', '/api/v1/users/' + id + '/reset-link').then(b => b.url)",
        await _user_id(site, seller))
    assert link.startswith("/reset/")
    context = await browser.new_context(base_url=site.url, locale="zh-CN")
    page = await context.new_page()
    answer = await page.goto(link)
    assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("h1")).to_have_text("设置新密码")
    await expect(page.locator("#reset")).to_contain_text(seller)
    await page.fill("#f-password", "新的密码 password")
    await page.fill("#f-password2", "another password")
    await page.click("#reset-submit")
    await expect(page.locator("#e-password2")).to_have_text("两次输入的密码不一致")
    await page.fill("#f-password", "新的密码 password")
    await page.fill("#f-password2", "新的密码 password")
    await page.click("#reset-submit")
    await expect(page.locator("#reset")).to_have_attribute("data-state", "done")
    await expect(page.locator(".notice")).to_have_text("新密码已设置，请用它登录。")
    # The new password signs in; the link works once.
    await log_in(browser, site, seller, "新的密码 password")
    again = await page.goto(link)
    assert again.status == 410
    await expect(page.locator("#reset")).to_have_attribute("data-state", "used")
    await expect(page.locator(".error")).to_contain_text("已经使用过")
    # The same page in English on request.
    await page.click("a[hreflang=en]")
    await expect(page.locator(".error")).to_contain_text("already been used")
    await context.close()


async def test_expired_and_mangled_links_give_a_clear_page(site, browser):
    from fingerpos.cloud.accounts import passwords
    from fingerpos.cloud.models.users import User
    seller = await site.user("seller", shop="north")
    with in_app(site.app):
        token = await passwords.issue_reset(await User.get(email=seller), "test",
                                            now=datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
                                            - passwords.RESET_LIFETIME)
    page = await site.page(browser)
    answer = await page.goto("/reset/" + token)
    assert answer.status == 410
    await expect(page.locator(".error")).to_have_text(
        "This reset link expired at 2026-01-02 03:04 UTC (links work for 24 hours). "
        "Ask your manager for a new one.")
    await expect(page.locator("#f-password")).to_have_count(0)
    for bad in (token[:-3], "x" * 300, "%00", "%E4%B8%AD"):
        answer = await page.goto("/reset/" + bad)
        assert answer.status in (404, 410), (bad, answer.status)
    # Posting to an expired link (a form kept open past the expiry) does not set it either,
    # with a valid form token (the page's, for this browser's pre-session cookie).
    await page.goto("/reset/" + token)
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    r = await page.request.post(site.url + "/reset/" + token, headers={"Origin": site.url},
                                form={"csrf": csrf, "password": "whatever12",
                                      "password2": "whatever12"})
    assert r.status == 410 and "expired at" in await r.text()
    await log_in(browser, site, seller)   # the old password still works
    # Guessing links: after 20 wrong or dead ones from an address the page says to wait (429), and
    # the JSON API's reset, which shares the throttle, refuses that address too.
    statuses = []
    for n in range(21):
        r = await page.request.post(f"{site.url}/reset/guess{n:020d}", headers={"Origin": site.url},
                                    form={"csrf": csrf, "password": "whatever12",
                                          "password2": "whatever12"})
        statuses.append(r.status)
    assert statuses == [404] * 19 + [429, 429]   # the expired link above was the first
    assert "too many wrong reset links" in await r.text()
    r = await page.request.post(site.url + "/api/v1/auth/reset",
                                data={"token": token, "password": "whatever12"})
    assert r.status == 429
