"""A scripted web buyer: registers, logs in, and places and pays orders through the HTTP API.

It uses only what a browser would: POST /api/v1/auth/register, /auth/login
(session cookie + CSRF token), GET the shop's products, POST /orders with a
cart, then the sandbox payment (intent, hosted card form). A paid web order makes the cloud send
`order_new` to the shop's terminals, where the scripted sellers accept and
ship it. Errors are counted and shown, never fatal: the demo keeps going.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import aiohttp
from fingerpos.tools.fleet.shop import SHOP, Person

SANDBOX_CARD = "4242 4242 4242 4242"  # the sandbox provider's test card (passes Luhn)


@dataclass
class BuyerStats:
    placed: int = 0
    paid: int = 0
    errors: int = 0
    last: str = "starting"
    orders: list[int] = field(default_factory=list)


class Buyer:
    def __init__(self, base: str, person: Person, shop: str = SHOP,
                 every_s: float = 15.0, seed: int | None = None) -> None:
        self.base = base.rstrip("/")
        self.person = person
        self.shop = shop
        self.every_s = every_s
        self.rng = random.Random(seed)
        self.stats = BuyerStats()
        self.csrf = ""

    async def _call(self, s: aiohttp.ClientSession, method: str, path: str,
                    json: dict | None = None, ok: tuple[int, ...] = (200, 201)) -> dict:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        async with s.request(method, self.base + path, json=json, headers=headers,
                             timeout=aiohttp.ClientTimeout(total=15)) as r:
            body = await r.json(content_type=None) if r.content_length != 0 else {}
            if r.status not in ok:
                message = body.get("message") if isinstance(body, dict) else body
                raise RuntimeError(f"{method} {path}: HTTP {r.status} {message}")
            return body if isinstance(body, dict) else {"items": body}

    async def sign_in(self, s: aiohttp.ClientSession) -> None:
        p = self.person
        await self._call(s, "POST", "/api/v1/auth/register",
                         {"email": p.email, "password": p.password, "name": p.name},
                         ok=(200, 201, 409))
        out = await self._call(s, "POST", "/api/v1/auth/login",
                               {"email": p.email, "password": p.password})
        self.csrf = out.get("csrf") or ""
        self.stats.last = f"logged in as {p.email}"

    async def buy_once(self, s: aiohttp.ClientSession) -> int:
        """One web order, paid; returns its id."""
        listing = await self._call(s, "GET", f"/api/v1/shops/{self.shop}/products")
        products = listing.get("products") or listing.get("items") or []
        if not products:
            raise RuntimeError("the shop has no products")
        picks = self.rng.sample(products, k=min(len(products), self.rng.randint(1, 3)))
        cart = {"shop": self.shop,
                "items": [{"sku": p["sku"], "qty": self.rng.randint(1, 2)} for p in picks]}
        order = await self._call(s, "POST", "/api/v1/orders", cart)
        order = order.get("order", order)
        self.stats.placed += 1
        await self.pay(s, order)
        self.stats.paid += 1
        self.stats.orders.append(order["id"])
        self.stats.last = f"order {order['id']} paid ({order['total'] / 100:.2f} {order['currency']})"
        return int(order["id"])

    async def pay(self, s: aiohttp.ClientSession, order: dict) -> None:
        """The sandbox provider's flow a browser follows: a payment intent for the order's
        version, the hosted page's card form, the provider's signed callback (the cloud
        settles it)."""
        intent = await self._call(s, "POST", f"/api/v1/orders/{order['id']}/payments",
                                  {"provider": "sandbox", "version": order["version"]})
        await self._call(s, "POST", f"/api/v1/pay/sandbox/{intent['id']}",
                         {"card_number": SANDBOX_CARD, "expiry": "12/34", "cvc": "123"})

    async def run(self, stop: asyncio.Event, first_delay_s: float = 3.0) -> None:
        # unsafe=True: keep the session cookie of a cloud addressed by IP (127.0.0.1)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            delay = first_delay_s
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    return
                except TimeoutError:
                    pass
                delay = self.every_s * self.rng.uniform(0.6, 1.4)
                try:
                    if not self.csrf:
                        await self.sign_in(s)
                    await self.buy_once(s)
                except (RuntimeError, aiohttp.ClientError, TimeoutError, KeyError) as e:
                    self.stats.errors += 1
                    self.stats.last = f"error: {e}"[:100]
                    self.csrf = "" if "401" in str(e) or "403" in str(e) else self.csrf
