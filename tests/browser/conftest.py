"""Browser tests: a real create_app on a free loopback port (SQLite, the test Mosquitto for
the terminals' side), driven by Playwright through Debian's Chromium (/usr/bin/chromium).

No browser is ever downloaded: Playwright only launches the executable named here.
Every wait is an explicit Playwright expectation or an asyncio timeout; nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path

import pytest
from fingerpos.cloud.app import create_app
from fingerpos.cloud.commerce.search import index_text
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.tools.fleet import SimTerminal

from tests.conftest import in_app

CHROMIUM = Path(os.environ.get("FINGERPOS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 10_000      # the longest any expectation waits


def _expect_timeout() -> None:
    from playwright.async_api import expect
    expect.set_options(timeout=WAIT_MS)


_expect_timeout()


class Site:
    """The running cloud: its base URL, and shortcuts to seed it as the tests need."""

    def __init__(self, server, broker_url: str, prefix: str) -> None:
        self.server = server
        self.app = server.app
        self.url = str(server.make_url("/")).rstrip("/")
        self.broker_url = broker_url
        self.prefix = prefix
        self._n = itertools.count(1)
        self.terminals: list[SimTerminal] = []
        self.js_errors: list[str] = []

    async def page(self, browser, viewport: dict | None = None):
        """A page in a new browser context (its own cookies) that reports script errors."""
        context = await browser.new_context(base_url=self.url, viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        page.on("pageerror", lambda e: self.js_errors.append(str(e)))
        return page

    async def user(self, role: str, shop: str | None = None, can_change_price: bool = False,
                   password: str = "password123") -> str:
        from fingerpos.cloud.accounts.users import create_user
        from fingerpos.cloud.models.users import Role
        email = f"{role}{next(self._n)}@example.com"
        with in_app(self.app):
            await create_user(email, password, Role(role), shop_id=shop,
                              can_change_price=can_change_price)
        return email

    async def product(self, shop: str, sku: str, name: str, price: int, stock: int = 10) -> None:
        from fingerpos.cloud.models.shops import Product, Shop
        with in_app(self.app):
            await Shop.get_or_create(id=shop)
            await Product.update_or_create(shop_id=shop, sku=sku, defaults={
                "name": name, "price": price, "currency": "EUR", "stock": stock,
                "search_text": index_text(name, sku)})

    async def terminal(self, shop: str) -> SimTerminal:
        """A registered terminal of `shop` connected to the broker the cloud ingests from."""
        from fingerpos.cloud.models.devices import Device
        device_id = f"{self.prefix}d{next(self._n)}"
        key = os.urandom(32)
        with in_app(self.app):
            await Device.create(id=device_id, shop=shop,
                                key_enc=self.app[KEYRING].seal(device_id, key))
        term = SimTerminal(device_id, key, self.broker_url)
        await term.start()
        self.terminals.append(term)
        return term


@pytest.fixture
async def make_site(aiohttp_server, cloud_config, broker, topic_prefix):
    """make_site(**config changes) -> a running Site; its terminals stop at the end, and
    any script error a page raised fails the test."""
    made: list[Site] = []

    async def make(**changes) -> Site:
        config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url, **changes)
        server = await aiohttp_server(create_app(config), host="127.0.0.1")
        made.append(Site(server, broker.url, topic_prefix))
        return made[-1]

    yield make
    for s in made:
        for term in s.terminals:
            await term.stop()
        assert s.js_errors == [], f"script errors on the pages: {s.js_errors}"


@pytest.fixture
async def site(make_site) -> Site:
    return await make_site()


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: ./run test installs Debian's chromium")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        yield b
        await b.close()


async def log_in(browser, site: Site, email: str, password: str = "password123",
                 viewport: dict | None = None):
    """A new browser context (its own cookies) logged in as `email`; returns its page."""
    from playwright.async_api import expect
    page = await site.page(browser, viewport)
    await page.goto("/login")
    await page.fill("#f-email", email)
    await page.fill("#f-password", password)
    await page.click("button[type=submit]")
    await expect(page.locator("a", has_text="Log in")).to_have_count(0)
    return page


async def pay_in_sandbox(page, card: str = "4242 4242 4242 4242") -> None:
    """On the order page: Pay, then the sandbox's hosted page with a test card."""
    from playwright.async_api import expect
    await page.click("#pay")
    await expect(page.locator("#pay-page")).to_be_visible()
    await page.fill("#f-card_number", card)
    await page.click("#pay-submit")
