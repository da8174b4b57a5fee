"""The operator's monitor in a real browser: an alarm raised by a terminal's failed logins
appears within a second, without a reload, and can be acknowledged; the fleet page shows
the terminal online with its heartbeat figures."""

from __future__ import annotations

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
    await expect(row.locator(".heap_free")).to_have_text("81920")
    await expect(row.locator(".rssi")).to_have_text("-61")
