"""The demo shop: its catalogue, its people, and seeding them into a running cloud.

SKUs are digits only: sellers key them on the terminal's 4x4 keypad.
Prices are in minor units (cents). Some names are Chinese: the shop page,
the API and receipts all carry UTF-8.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

SHOP = "shop1"
SHOP_NAME = "Corner Tea House 街角茶馆"
CURRENCY = "EUR"

CATALOGUE: list[tuple[str, str, int, int]] = [  # sku, name, price (cents), stock
    ("101", "Jasmine green tea 茉莉花茶 (100 g)", 650, 120),
    ("102", "Oolong tea 乌龙茶 (100 g)", 890, 80),
    ("103", "Pu-erh cake 普洱茶饼 (357 g)", 2450, 25),
    ("104", "Longjing tea 龙井茶 (50 g)", 1275, 40),
    ("105", "Earl Grey loose leaf (125 g)", 595, 90),
    ("106", "Ceramic teapot 紫砂壶", 3800, 12),
    ("107", "Porcelain tea cups, set of 4", 1890, 30),
    ("108", "Bamboo tea tray 竹茶盘", 2900, 15),
    ("109", "Mooncake 月饼 (box of 4)", 1600, 50),
    ("110", "Almond cookies 杏仁饼", 420, 140),
    ("111", "Sparkling water (0.5 l)", 180, 300),
    ("112", "Gift card 礼品卡", 2500, 1000),
]


# A second shop, as a shop owner in Shanghai runs it (issue #17): yuan, the shop's own
# time zone, prices with China's VAT in them (13 % goods, 9 % some food), the address and
# tax number (税号, a made-up one of the right shape) its receipts print.
SHANGHAI = "sh1"
SHANGHAI_SETTINGS = {"name": "静安茶铺 Jing'an Tea Shop", "timezone": "Asia/Shanghai",
                     "address": "上海市静安区南京西路 1266 号", "tax_id": "91310106MA1FY0XX0X"}
SHANGHAI_CATALOGUE: list[tuple[str, str, int, int, int]] = [  # sku, name, fen, stock, VAT bp
    ("201", "乌龙茶 Oolong tea (100 g)", 6800, 60, 900),
    ("202", "龙井茶 Longjing tea (50 g)", 12800, 30, 900),
    ("203", "月饼礼盒 Mooncake gift box", 16800, 40, 1300),
    ("204", "紫砂壶 Yixing teapot", 39800, 8, 1300),
]


async def seed_shanghai(session, base: str, token: str) -> int:  # type: ignore[no-untyped-def]
    """The second shop (CNY, Asia/Shanghai, VAT in its prices) through the HTTP API."""
    auth = {"Authorization": f"Bearer {token}"}
    async with session.post(f"{base}/api/v1/shops", headers=auth, json={
            "id": SHANGHAI, "name": SHANGHAI_SETTINGS["name"]}) as r:
        if r.status not in (200, 201, 409):
            raise RuntimeError(f"creating shop {SHANGHAI}: HTTP {r.status} {await r.text()}")
    async with session.patch(f"{base}/api/v1/shops/{SHANGHAI}", headers=auth,
                             json={k: v for k, v in SHANGHAI_SETTINGS.items() if k != "name"}) as r:
        if r.status != 200:
            raise RuntimeError(f"shop {SHANGHAI} settings: HTTP {r.status} {await r.text()}")
    for sku, name, price, stock, rate in SHANGHAI_CATALOGUE:
        async with session.post(f"{base}/api/v1/shops/{SHANGHAI}/products", headers=auth,
                                json={"sku": sku, "name": name, "price": price, "currency": "CNY",
                                      "stock": stock, "tax_rate": rate}) as r:
            if r.status not in (200, 201):
                raise RuntimeError(f"product {sku}: HTTP {r.status} {await r.text()}")
    return len(SHANGHAI_CATALOGUE)


@dataclass
class Person:
    email: str
    name: str
    role: str           # buyer | seller | manager | admin
    password: str
    pin: str = ""       # sellers and managers: their terminal PIN
    finger: str = ""    # the simulated finger they enrol (sensor simulator name)
    id: str = ""        # the cloud's user id, once created


def _password() -> str:
    # readable enough to type from the demo's printout, random per run
    return secrets.token_urlsafe(9)


def _pin() -> str:
    return f"{secrets.randbelow(10**4):04d}"


def people(sellers: int = 3) -> list[Person]:
    """An admin (for the API token), a manager, `sellers` sellers and a buyer."""
    names = ["Ana Costa", "Ben Okafor", "Chen Wei 陈伟", "Dara Singh", "Eli Novak", "Fang Li 方丽"]
    out = [Person("admin@demo.fingerpos.test", "Demo Admin", "admin", _password()),
           Person("manager@demo.fingerpos.test", "Mia Manager", "manager", _password(),
                  pin=_pin(), finger="mia-right-thumb")]
    for n in range(sellers):
        name = names[n % len(names)]
        first = name.split()[0].lower()
        out.append(Person(f"{first}{n + 1}@demo.fingerpos.test", name, "seller", _password(),
                          pin=_pin(), finger=f"{first}{n + 1}-right-index"))
    out.append(Person("buyer@demo.fingerpos.test", "Bo Buyer", "buyer", _password()))
    return out


async def create_admin(admin: Person) -> str:
    """The admin user and an API token for it (inside the cloud's database context)."""
    from fingerpos.cloud.accounts.auth import create_api_token
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.models.users import Role

    user = await create_user(admin.email, admin.password, Role.ADMIN, name=admin.name,
                             actor="demo")
    admin.id = str(user.id)
    return await create_api_token(user, "demo")


async def create_staff(persons: list[Person], ring: Any, shop: str = SHOP) -> None:
    """The sellers and managers with their terminal PINs (sealed with the cloud's keyring
    `ring`, as `fingerpos user pin` does), inside the cloud's database context; sets ids."""
    from fingerpos.cloud.accounts.users import create_user
    from fingerpos.cloud.fleet.roster import set_pin
    from fingerpos.cloud.models.users import Role

    for p in persons:
        if p.role in ("seller", "manager"):
            user = await create_user(p.email, p.password, Role(p.role), name=p.name, shop_id=shop,
                                     can_change_price=p.role == "manager", actor="demo")
            await set_pin(user, p.pin, ring)
            p.id = str(user.id)


async def seed_catalogue(session, base: str, token: str, shop: str = SHOP) -> int:  # type: ignore[no-untyped-def]
    """The shop and its products through the HTTP API (aiohttp ClientSession); returns the count."""
    auth = {"Authorization": f"Bearer {token}"}
    async with session.post(f"{base}/api/v1/shops", json={"id": shop, "name": SHOP_NAME},
                            headers=auth) as r:
        if r.status not in (200, 201, 409):
            raise RuntimeError(f"creating the shop: HTTP {r.status} {await r.text()}")
    for sku, name, price, stock in CATALOGUE:
        async with session.post(f"{base}/api/v1/shops/{shop}/products", headers=auth,
                                json={"sku": sku, "name": name, "price": price,
                                      "currency": CURRENCY, "stock": stock}) as r:
            if r.status not in (200, 201):
                raise RuntimeError(f"product {sku}: HTTP {r.status} {await r.text()}")
    return len(CATALOGUE)


def terminal_catalogue(limit: int | None = None) -> list[dict]:
    """What the terminals price sales with (the `catalog` command's items)."""
    return [{"sku": sku, "price": price, "currency": CURRENCY}
            for sku, _, price, _ in CATALOGUE[:limit]]
