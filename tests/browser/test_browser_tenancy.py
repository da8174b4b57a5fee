"""Two shops on one cloud, their managers side by side in two Chromium contexts.

The outside reference is the second shop itself: each shop's terminal sells and raises
alarms while both monitor pages are live, and each page must show its own shop's and
nothing of the other's (issue #15: a second shop's manager saw the first shop's live
orders and alarms, and could acknowledge them).

"Never" is checked with a sentinel: shop B's message is shown on B's page first, then
shop A's message is sent and shown on A's page. The feed is one ordered queue per
socket, so had B's message been sent to A's socket it would have arrived before A's.
"""

from __future__ import annotations

import pytest
from fingerpos.tools.fleet import sale
from playwright.async_api import expect

from tests.conftest import in_app

from .conftest import log_in

pytestmark = pytest.mark.cloud


def _fail(terminal, n: int) -> None:
    terminal.emit("login", {"method": "pin", "seller": "7", "ok": False, "failures": n})


async def _live(page) -> None:
    await expect(page.locator("#live-status")).to_have_text("live")
    await page.evaluate("window.__noReload = true")


async def test_each_shops_manager_sees_only_their_shops_terminals_orders_and_alarms(site, browser):
    from fingerpos.cloud.models.alarms import Alarm
    page_a = await log_in(browser, site, await site.user("manager", shop="north"))
    page_b = await log_in(browser, site, await site.user("manager", shop="south"))
    for page in (page_a, page_b):
        await _live(page)
    # The terminals come online while both pages watch: their device messages arrive live.
    term_b = await site.terminal("south")
    await expect(page_b.locator(f'#devices-mini li[data-device="{term_b.dev}"]')).to_be_visible()
    term_a = await site.terminal("north")
    await expect(page_a.locator(f'#devices-mini li[data-device="{term_a.dev}"]')).to_be_visible()
    await expect(page_a.locator(f'#devices-mini li[data-device="{term_b.dev}"]')).to_have_count(0)
    await expect(page_b.locator(f'#devices-mini li[data-device="{term_a.dev}"]')).to_have_count(0)

    # A sale at each shop's counter: an order row on its own shop's page only.
    term_b.emit("sale", sale(1))
    await expect(page_b.locator("#feed tbody tr", has_text="south")).to_have_count(1)
    term_a.emit("sale", sale(2))
    await expect(page_a.locator("#feed tbody tr", has_text="north")).to_have_count(1)
    await expect(page_a.locator("#feed tbody tr", has_text="south")).to_have_count(0)
    await expect(page_b.locator("#feed tbody tr", has_text="north")).to_have_count(0)
    await expect(page_a.locator('#counters [data-state="completed"] .n')).to_have_text("1")
    await expect(page_b.locator('#counters [data-state="completed"] .n')).to_have_text("1")

    # Failed logins at each terminal: an alarm on its own shop's page only.
    for n in (1, 2, 3):
        _fail(term_b, n)
    alarm_b = page_b.locator("#alarms li", has_text=term_b.dev)
    await expect(alarm_b).to_contain_text("3 failed pin logins")
    for n in (1, 2, 3):
        _fail(term_a, n)
    await expect(page_a.locator("#alarms li", has_text=term_a.dev)).to_be_visible()
    await expect(page_a.locator("#alarms li", has_text=term_b.dev)).to_have_count(0)
    await expect(page_b.locator("#alarms li", has_text=term_a.dev)).to_have_count(0)

    # A's manager cannot acknowledge B's alarm from the page (the call the Acknowledge
    # button makes, with A's session and CSRF token): refused, and it stays open.
    with in_app(site.app):
        b_alarm = await Alarm.filter(device_id=term_b.dev).first()
    assert b_alarm is not None
    refused = await page_a.evaluate(
        "id => fpApi('POST', '/api/v1/alarms/' + id + '/ack').then(() => 'acked', e => e.message)",
        b_alarm.id)
    assert refused == f"no alarm {b_alarm.id}"
    with in_app(site.app):
        assert (await Alarm.get(id=b_alarm.id)).acked_at is None
    # Nor does the alarms page list it; B's manager acknowledges it from theirs.
    await page_a.goto("/alarms")
    await expect(page_a.locator("#alarms li", has_text=term_a.dev)).to_have_count(1)
    await expect(page_a.locator("#alarms li", has_text=term_b.dev)).to_have_count(0)
    await alarm_b.locator("button.ack").click()
    await expect(alarm_b).to_contain_text("acknowledged")
    assert await page_b.evaluate("window.__noReload === true")
