"""`fingerpos screenshots --out DIR`: PNGs of the main pages, from a seeded cloud driven by
Debian's Chromium through Playwright.

It starts a real cloud (create_app) on a free loopback port with a throwaway SQLite
database, seeds a shop (products, a buyer, a manager, terminals, orders in several
states, alarms), then walks the pages as a buyer and as a manager. Nothing is
downloaded: Playwright only launches the Chromium executable named by --chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fingerpos.tools.fleet.shop import SHOP_NAME

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "demo-password"
# The demo's shop (tools/fleet/shop.py) with bilingual names, so the screenshots show
# Chinese as a shop in Shanghai would see it (issue #17: "the screenshots show Chinese").
PRODUCTS = [
    ("tea-green", "Green tea 绿茶, 100 g", 450, 25, "Loose-leaf sencha from Shizuoka. 静冈煎茶。"),
    ("tea-oolong", "Oolong tea 乌龙茶, 100 g", 780, 12, "Half-oxidised, roasted, from Taiwan. 台湾焙火乌龙。"),
    ("cake-cheese", "Mooncake 月饼, box of 4", 390, 8, "Lotus seed paste, baked in the shop. 莲蓉月饼。"),
    ("cup-clay", "Clay tea cup 陶杯", 1200, 4, "Hand-thrown stoneware, 150 ml."),
    ("pot-iron", "Cast-iron tea pot 铁壶", 4900, 0, "0.8 l, enamelled inside."),
    ("honey", "Acacia honey 槐花蜜, 250 g", 650, 30, "Runny, mild, local."),
]
CJK_PROBE = "街角茶馆乌龙茶月饼"


def cjk_fonts(text: str = CJK_PROBE) -> list[str] | None:
    """The font families fontconfig (which Chromium asks for fallback glyphs) has for every
    character of `text`; None when fc-list is not installed. Empty: Chinese renders as boxes."""
    fc = shutil.which("fc-list")
    if fc is None:
        return None
    charset = " ".join(f"{ord(c):x}" for c in sorted(set(text)))
    out = subprocess.run([fc, f":charset={charset}", "family"], capture_output=True, text=True)
    return sorted({line.split(",")[0].strip() for line in out.stdout.splitlines() if line.strip()})


@dataclass
class Shot:
    name: str
    note: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("screenshots", help="save PNG screenshots of the main web pages",
                       description="Start a seeded cloud on 127.0.0.1, drive Chromium through "
                                   "the buyer and operator pages, and save one PNG per page.")
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"),
                   help="folder for the PNGs (created; default docs/screenshots)")
    p.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"),
                   help="the Chromium executable (Debian's package; never downloaded)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.chromium.exists():
        print(f"error: {args.chromium} not found: install Debian's chromium "
              "(apt-get install chromium) or pass --chromium", file=sys.stderr)
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("error: the playwright package is missing: pip install 'fingerpos[test]'",
              file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: cannot create {args.out}: {e}", file=sys.stderr)
        return 2
    fonts = cjk_fonts()
    if fonts == []:
        print("warning: no font has Chinese glyphs, so the screenshots show boxes for "
              f"{CJK_PROBE}: apt-get install fonts-wqy-microhei (./run test installs it)",
              file=sys.stderr)
    # The seeded cloud runs without terminals: its "no command sender" notices are expected.
    logging.getLogger("fingerpos.cloud.orders.notify").setLevel(logging.ERROR)
    shots = asyncio.run(_main(args.out, args.chromium))
    for shot in shots:
        print(f"  {args.out / (shot.name + '.png')}  {shot.note}")
    print(f"{len(shots)} screenshots in {args.out}")
    return 0


async def _seed(app) -> dict:  # type: ignore[no-untyped-def]
    from fingerpos.cloud import orders
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.commerce import catalog
    from fingerpos.cloud.core.appkeys import KEYRING
    from fingerpos.cloud.fleet import alarms
    from fingerpos.cloud.models.devices import Device
    from fingerpos.cloud.models.shops import Shop
    from fingerpos.cloud.models.users import Role

    await Shop.create(id="shop1", name=SHOP_NAME, timezone="Europe/Berlin")
    admin = await create_user("admin@example.com", PASSWORD, Role.ADMIN)
    tea = await catalog.add_category(admin, "shop1", "Tea 茶")
    ware = await catalog.add_category(admin, "shop1", "Teaware 茶具")
    food = await catalog.add_category(admin, "shop1", "Food 点心")
    kinds = {"tea": tea.id, "cup": ware.id, "pot": ware.id, "cake": food.id, "honey": food.id}
    for sku, name, price, stock, desc in PRODUCTS:
        await catalog.put_product(admin, "shop1", {
            "sku": sku, "name": name, "price": price, "currency": "EUR", "stock": stock,
            "description": desc, "category": kinds[sku.split("-")[0]]})
    buyer = await create_user("mia@example.com", PASSWORD, Role.BUYER, name="Mia 米娅")
    await create_user("manager@example.com", PASSWORD, Role.MANAGER, shop_id="shop1",
                      name="Lee 李明", can_change_price=True)
    now = datetime.now(UTC)
    for dev, online, heap, rssi, outbox in (("t1", True, 81920, -58, 0), ("t2", True, 74112, -71, 3),
                                            ("t3", False, 80200, -80, 12)):
        await Device.create(id=dev, shop="shop1", key_enc=app[KEYRING].seal(dev, os.urandom(32)),
                            fw="fingerpos 0.1.0", online=online, last_seen=now, uptime=3600,
                            heap_free=heap, rssi=rssi, outbox=outbox)
    made = []
    for items in ([("tea-green", 2), ("honey", 1)], [("cup-clay", 2)], [("tea-oolong", 1)],
                  [("cake-cheese", 3)]):
        made.append(await orders.create_from_cart(buyer, "shop1", [
            {"sku": s, "qty": q} for s, q in items]))
    for order in made[1:3]:
        await orders.pay(order.id, order.total, order.currency, order.version)
    await orders.device_ack("t1", None, {"order": made[1].id, "action": "accept"})
    await alarms.raise_alarm("t2", "login_failures", "critical",
                             "6 failed pin logins on t2 (last: seller 3)")
    await alarms.raise_alarm("t3", "offline_open_orders", "critical",
                             "terminal t3 is offline and shop shop1 has 1 order(s) waiting")
    await alarms.raise_alarm(None, "web_login", "warning",
                             "5 failed web logins for someone@example.com from 203.0.113.9")
    return {"pending": made[0].id, "accepted": made[1].id, "tea": tea.id}


async def _main(out: Path, chromium: Path) -> list[Shot]:
    from aiohttp import web
    from fingerpos.cloud.app import create_app
    from fingerpos.cloud.core import db
    from fingerpos.cloud.core.config import Config
    from playwright.async_api import async_playwright, expect

    with tempfile.TemporaryDirectory(prefix="fp-shots-") as tmp:
        url = f"sqlite://{Path(tmp) / 'shots.sqlite3'}"
        ctx = await db.open_context(url)
        try:
            with ctx:
                await db.migrate(ctx)
        finally:
            await ctx.close_connections()
        config = Config(db_url=url, data_dir=Path(tmp), key_secret="screenshots-" + "0" * 20,
                        ingest=False, timer_interval_s=3600.0)
        app = create_app(config)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        print(f"seeded cloud on {base}", flush=True)
        try:
            ids = await _seed(app)
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=str(chromium), headless=True,
                                                  args=CHROMIUM_ARGS)
                try:
                    return await _walk(browser, base, out, ids, expect)
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()


async def _login(browser, base: str, email: str, viewport: dict, failures: int = 0,  # type: ignore[no-untyped-def]
                 locale: str = "en-GB"):
    context = await browser.new_context(base_url=base, viewport=viewport, locale=locale)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    for attempt in range(failures + 1):
        await page.goto("/login")
        await page.fill("#f-email", email)
        await page.fill("#f-password", PASSWORD if attempt == failures else "wrong guess")
        await page.click("button[type=submit]")
    return page


async def _receipt_png(page, url: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Page 1 of a PDF the signed-in page may fetch, drawn by PDFium (Chromium's own PDF
    engine, through pypdfium2): headless Chromium shows no PDF viewer to screenshot."""
    import pypdfium2

    reply = await page.request.get(url)
    if not reply.ok:
        raise RuntimeError(f"{url}: HTTP {reply.status}")
    pdf = pypdfium2.PdfDocument(await reply.body())
    try:
        pdf[0].render(scale=2).to_pil().save(path)
    finally:
        pdf.close()
    print(f"saved {path.name}", flush=True)


async def _walk(browser, base: str, out: Path, ids: dict, expect) -> list[Shot]:  # type: ignore[no-untyped-def]
    shots: list[Shot] = []
    desk = {"width": 1280, "height": 860}

    async def snap(page, name: str, note: str) -> None:  # type: ignore[no-untyped-def]
        await page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        shots.append(Shot(name, note))
        print(f"saved {name}.png", flush=True)

    # Two wrong passwords first: the shop then shows the owner the failed sign-in notice.
    buyer = await _login(browser, base, "mia@example.com", desk, failures=2)
    await expect(buyer.locator("#signin-notice")).to_be_visible()
    await snap(buyer, "shop", "buyer shop with the failed sign-in notice")
    await buyer.goto(f"/?q=tea&max_price=10&in_stock=1&category={ids['tea']}")
    await snap(buyer, "search", "search with a price filter")
    await buyer.goto("/product/shop1/tea-oolong")
    await snap(buyer, "product", "product page")
    await buyer.fill("#f-qty", "2")
    await buyer.click("form.add button")
    await buyer.goto("/product/shop1/honey")
    await buyer.click("form.add button")
    await expect(buyer.locator("#checkout")).to_be_visible()
    await snap(buyer, "cart", "cart and checkout")
    await buyer.click("#checkout")
    await expect(buyer.locator("#order-state")).to_have_text("pending payment")
    await snap(buyer, "checkout", "the new order, ready to pay")
    await buyer.click("#pay")
    await buyer.fill("#f-card_number", "4242 4242 4242 4242")
    await snap(buyer, "pay", "the sandbox provider's hosted pay page")
    await buyer.click("#pay-submit")
    await expect(buyer.locator("#pickup-code")).to_be_visible()
    await snap(buyer, "order", "paid order: pickup code as number and QR, timeline")
    paid = buyer.url.rstrip("/").rsplit("/", 1)[-1]
    await _receipt_png(buyer, f"/api/v1/orders/{paid}/receipt.pdf", out / "receipt.png")
    shots.append(Shot("receipt", "the buyer's PDF receipt with its pickup QR (PDFium's drawing)"))
    await buyer.goto("/orders")
    await snap(buyer, "orders", "the buyer's orders")
    phone = await _login(browser, base, "mia@example.com", {"width": 390, "height": 844})
    await phone.goto("/")
    await snap(phone, "shop-phone", "the shop on a phone-sized screen")
    await phone.goto(f"/orders/{ids['accepted']}")
    await snap(phone, "order-phone", "an order on a phone-sized screen")

    # The manager's browser asks for Chinese: the pages that speak it (people, reset) do.
    manager = await _login(browser, base, "manager@example.com", desk, locale="zh-CN")
    await expect(manager.locator("#live-status")).to_have_text("live")
    await snap(manager, "monitor", "live monitor: counters, alarms, terminals, order feed")
    await manager.goto("/devices")
    await snap(manager, "devices", "the fleet")
    await manager.goto("/reports")
    await snap(manager, "reports", "sales reports: charts, tables, CSV, against the period before")
    await manager.goto("/alarms")
    await snap(manager, "alarms", "alarms with acknowledge / clear")
    await manager.goto(f"/orders/{ids['pending']}")
    await snap(manager, "order-staff", "order detail for the shop: price change, hold")
    await manager.goto("/orders")
    await snap(manager, "orders-staff", "the shop's orders with filters")
    await manager.goto("/shop/products")
    await snap(manager, "catalogue", "the shop's catalogue: search, price, stock, categories")
    await manager.click('tr[data-sku="tea-oolong"] a.edit')
    await manager.fill("#f-price", "7,8o")
    await manager.click("#save")
    await expect(manager.locator(".field:has(#f-price) .error")).to_be_visible()
    await snap(manager, "product-edit", "editing a product: each error next to its field")
    await manager.goto("/shop/people")
    await manager.fill("#f-email", "wang.fang@example.com")
    await manager.fill("#f-name", "王芳")
    await manager.click("#invite button[type=submit]")
    await expect(manager.locator("#invited")).to_be_visible()
    link = await manager.locator("#invite-link").input_value()
    await snap(manager, "people", "the shop's people: an invite with its one-time link")
    await manager.click('#people tr:has-text("王芳") a >> nth=0')
    await expect(manager.locator("#person")).to_be_visible()
    await snap(manager, "person", "one person: role, price-change right, PIN, access, history")
    newcomer = await browser.new_context(base_url=base, viewport={"width": 390, "height": 844},
                                         locale="zh-CN")
    page = await newcomer.new_page()
    await page.goto(link)
    await expect(page.locator("#f-password")).to_be_visible()
    await snap(page, "reset", "the one-time link's page, in Chinese on a phone")
    return shots
