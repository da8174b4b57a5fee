"""The operator's monitor in a real browser: an alarm raised by a terminal's failed logins
appears within a second, without a reload, and can be acknowledged; the fleet page shows
the terminal online with its heartbeat figures."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import expect

from .conftest import log_in

pytestmark = pytest.mark.cloud


async def test_failed_terminal_logins_raise_an_alarm_on_the_monitor_within_a_second(site, browser):
    terminal = await site.terminal("shop1")
    manager = await site.user("manager", shop="shop1")
    page = await log_in(browser, site, manager)
    await expect(page).to_have_url(site.url + "/monitor?signed_in=1")
    await expect(page.locator("#live-status")).to_have_text("live")
    await page.evaluate("window.__noReload = true")
    alarm = page.locator("#alarms li", has_text="login_failures")
    await expect(alarm).to_have_count(0)
    for n in (1, 2):
        terminal.emit("login", {"method": "pin", "seller": "7", "ok": False, "failures": n})
    terminal.emit("login", {"method": "pin", "seller": "7", "ok": False, "failures": 3})
    sent = time.monotonic()
    await expect(alarm).to_be_visible(timeout=1000)
    assert time.monotonic() - sent < 1.0
    await expect(alarm).to_contain_text("3 failed pin logins")
    await expect(alarm).to_contain_text(terminal.dev)
    assert await page.evaluate("window.__noReload === true")
    # Acknowledge it from the page (the API call carries the session's CSRF token).
    await alarm.locator("button.ack").click()
    await expect(alarm).to_contain_text("acknowledged")
    # The terminal's own alarm event shows up the same way.
    terminal.emit("alarm", {"reason": "lockout", "level": 2, "on": True})
    await expect(page.locator("#alarms li", has_text="terminal:lockout")).to_be_visible(
        timeout=1000)
    # The alarms page lists both, the fleet page shows the terminal online.
    await page.goto("/alarms")
    await expect(page.locator("#alarms li")).to_have_count(2)
    await page.goto("/devices")
    await expect(page.locator("#live-status")).to_have_text("live")
    row = page.locator(f'#devices tr[data-device="{terminal.dev}"]')
    await expect(row.locator(".online")).to_contain_text("online")
    # A heartbeat arriving while the page is open fills in its figures.
    terminal.emit("heartbeat", {"uptime": 60, "heap_free": 81920, "rssi": -61, "outbox": 0})
    await expect(row.locator(".heap_free")).to_have_text("80.0 KB")   # 81920 bytes, with its unit
    await expect(row.locator(".rssi")).to_have_text("-61 dBm")


async def test_monitor_feed_shows_new_orders_live_and_flags_stuck_ones(make_site, browser):
    from fingerpos.cloud import orders
    from fingerpos.cloud.models.users import User

    from tests.conftest import in_app
    site = await make_site(accept_alert_s=2)   # paid and not accepted for 2 s: stuck
    await site.product("shop1", "tea", "Green tea", 250)
    buyer_email = await site.user("buyer")
    page = await log_in(browser, site, await site.user("manager", shop="shop1"))
    await expect(page.locator("#live-status")).to_have_text("live")
    await page.evaluate("window.__noReload = true")
    with in_app(site.app):
        buyer = await User.get(email=buyer_email)
        order = await orders.create_from_cart(buyer, "shop1", [{"sku": "tea", "qty": 2}])
    row = page.locator(f'#feed tr[data-order="{order.id}"]')
    await expect(row.locator(".state-cell")).to_have_text("pending payment")
    await expect(page.locator('#counters [data-state="pending_payment"] .n')).to_have_text("1")
    with in_app(site.app):
        await orders.pay(order.id, 500, "EUR", 1)
    await expect(row.locator(".state-cell")).to_have_text("paid")
    await expect(row.locator(".timer")).to_have_text(re.compile(r"^\d+s$"))
    await expect(row).to_have_class(re.compile(r"\bstuck\b"))
    await expect(page.locator('#counters [data-state="paid"] .n')).to_have_text("1")
    assert await page.evaluate("window.__noReload === true")


async def test_a_burst_of_orders_shows_as_one_summary_on_the_monitor_and_order_list(site, browser):
    """Above 200 new orders in one ingestion batch the feed sends one `orders` summary
    (cloud/orders/notify.py) instead of a message per order; both live pages show it."""
    from fingerpos.cloud.orders.notify import orders_summary

    from tests.conftest import in_app
    manager = await site.user("manager", shop="shop1")
    monitor = await log_in(browser, site, manager)
    await expect(monitor.locator("#live-status")).to_have_text("live")
    await monitor.evaluate("window.__noReload = true")
    listing = await site.page(browser)
    await listing.context.add_cookies(await monitor.context.cookies())
    await listing.goto("/orders")
    await expect(listing.locator("#live-status")).to_have_text("live")
    with in_app(site.app):
        await orders_summary(["paid"] * 240 + ["held"] * 2, 11, 252, "shop1")
    burst = monitor.locator("#feed tr.burst")
    await expect(burst).to_contain_text("#11\u2013#252: 242 new orders (240 paid, 2 held)")
    notice = listing.locator("p.burst a")
    await expect(notice).to_have_text("242 new orders: show them")
    assert await monitor.evaluate("window.__noReload === true")
